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
/// searched before the system's `/usr/lib/debug`. A candidate without DWARF
/// is no debug vmlinux (see [`kernel_image_paths`] for those); when a
/// build-id is given, a candidate whose build-id differs is skipped; the
/// first remaining candidate is returned.
pub fn find_vmlinux(
    release: &str,
    build_id: Option<&str>,
    extra_dirs: &[PathBuf],
) -> Result<PathBuf> {
    let mut searched: Vec<(PathBuf, Option<String>)> =
        candidate_paths(release, build_id, extra_dirs)
            .into_iter()
            .map(|p| (p, None))
            .collect();
    let want = build_id.map(|b| b.trim().to_ascii_lowercase());
    for (p, skipped) in &mut searched {
        if !p.is_file() {
            continue;
        }
        let k = match crate::KernelDebugInfo::open(&*p) {
            Ok(k) => k,
            // Without a build-id to look for, the caller's open says
            // what is wrong with it; with one, it cannot be the one.
            Err(_) if want.is_none() => return Ok(p.clone()),
            Err(e) => {
                *skipped = Some(e.to_string());
                continue;
            }
        };
        if !k.has_dwarf() {
            *skipped = Some("no DWARF".into());
            continue;
        }
        match (&want, k.build_id_hex()) {
            // A file without a build-id note cannot be ruled out.
            (None, _) | (_, None) => return Ok(p.clone()),
            (Some(w), Some(h)) if h == *w => return Ok(p.clone()),
            (Some(_), Some(h)) => *skipped = Some(format!("build-id {h}")),
        }
    }
    Err(Error::VmlinuxNotFound {
        release: release.to_string(),
        build_id: want,
        searched,
    })
}

/// The places searched for a plain kernel image of a release (a vmlinux
/// without DWARF, a vmlinuz, a compressed vmlinux), when no debug vmlinux
/// is found: for each `extra_dirs` entry `DIR/RELEASE/vmlinux`,
/// `DIR/RELEASE/vmlinuz`, `DIR/vmlinux-RELEASE`, `DIR/vmlinuz-RELEASE`,
/// `DIR/vmlinux`, `DIR/vmlinuz`; then `/boot/vmlinux-RELEASE`,
/// `/boot/vmlinuz-RELEASE`, `/boot/vmlinux-RELEASE.gz` (SUSE) and
/// `/lib/modules/RELEASE/vmlinuz` (Fedora, RHEL, Arch). A vmlinux comes
/// before a vmlinuz: it may have its symbol table.
pub fn kernel_image_paths(release: &str, extra_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if release.is_empty() || release.contains('/') {
        return out;
    }
    for d in extra_dirs {
        for name in ["vmlinux", "vmlinuz"] {
            out.push(d.join(release).join(name));
        }
        for name in ["vmlinux", "vmlinuz"] {
            out.push(d.join(format!("{name}-{release}")));
        }
        out.push(d.join("vmlinux"));
        out.push(d.join("vmlinuz"));
    }
    let boot = Path::new("/boot");
    out.push(boot.join(format!("vmlinux-{release}")));
    out.push(boot.join(format!("vmlinuz-{release}")));
    out.push(boot.join(format!("vmlinux-{release}.gz")));
    out.push(Path::new("/lib/modules").join(release).join("vmlinuz"));
    out
}
