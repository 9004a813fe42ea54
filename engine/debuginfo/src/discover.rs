//! Finding the debug vmlinux for a kernel release or build-id.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The places searched for a debug vmlinux, most specific first.
///
/// For each root (`/usr/lib/debug` first, then every `extra_dirs` entry):
/// `ROOT/boot/vmlinux-RELEASE`, `ROOT/lib/modules/RELEASE/vmlinux`,
/// `ROOT/.build-id/xx/rest.debug`; and for the extra dirs also
/// `DIR/vmlinux-RELEASE`, `DIR/RELEASE/vmlinux` and `DIR/vmlinux`.
pub fn candidate_paths(
    release: &str,
    build_id: Option<&str>,
    extra_dirs: &[PathBuf],
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let build_id = build_id
        .map(|b| b.trim().to_ascii_lowercase())
        .filter(|b| b.len() > 2 && b.bytes().all(|c| c.is_ascii_hexdigit()));
    let mut layouts = |root: &Path, extra: bool| {
        if extra && !release.is_empty() {
            out.push(root.join(format!("vmlinux-{release}")));
            out.push(root.join(release).join("vmlinux"));
        }
        if !release.is_empty() {
            out.push(root.join("boot").join(format!("vmlinux-{release}")));
            out.push(root.join("lib/modules").join(release).join("vmlinux"));
        }
        if let Some(b) = &build_id {
            out.push(
                root.join(".build-id")
                    .join(&b[..2])
                    .join(format!("{}.debug", &b[2..])),
            );
        }
        if extra {
            out.push(root.join("vmlinux"));
        }
    };
    for d in extra_dirs {
        layouts(d, true);
    }
    layouts(Path::new("/usr/lib/debug"), false);
    out
}

/// Find the debug vmlinux for `release` (e.g. `6.1.0-56-cloud-amd64`) and,
/// when known, `build_id` (hex). Extra directories (`--debuginfo-dir`) are
/// searched before the system's `/usr/lib/debug`. When a build-id is given,
/// a candidate whose build-id differs is skipped (and a matching one is
/// preferred); the first existing candidate is returned otherwise.
pub fn find_vmlinux(
    release: &str,
    build_id: Option<&str>,
    extra_dirs: &[PathBuf],
) -> Result<PathBuf> {
    let searched = candidate_paths(release, build_id, extra_dirs);
    let want = build_id.map(|b| b.trim().to_ascii_lowercase());
    for p in &searched {
        if !p.is_file() {
            continue;
        }
        match &want {
            None => return Ok(p.clone()),
            Some(w) => {
                // Check the build-id; an unreadable candidate is skipped.
                // A file without a build-id note cannot be ruled out.
                if let Ok(k) = crate::KernelDebugInfo::open(p) {
                    match k.build_id_hex() {
                        None => return Ok(p.clone()),
                        Some(h) if h == *w => return Ok(p.clone()),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    Err(Error::VmlinuxNotFound {
        release: release.to_string(),
        build_id: want,
        searched,
    })
}
