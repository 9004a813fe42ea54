//! Opening the files this crate reads (a vmlinux, a vmlinuz, its caches)
//! and writing its caches: regular files only, reads bounded.

use std::fs::File;
use std::io::Read;
use std::path::Path;

pub(crate) use regular_file::{open_regular, NotRegular};

/// [`open_regular`] with the crate's errors, for a file the user named.
pub(crate) fn open_input(path: &Path) -> crate::Result<File> {
    open_regular(path).map_err(|e| match NotRegular::of(&e) {
        Some(kind) => crate::Error::NotAFile {
            path: path.to_path_buf(),
            kind,
        },
        None => crate::Error::Io {
            path: path.to_path_buf(),
            source: e,
        },
    })
}

/// A regular file's bytes, if it has at most `limit` of them.
pub(crate) fn read_capped(path: &Path, limit: u64) -> Option<Vec<u8>> {
    let f = open_regular(path).ok()?;
    if f.metadata().ok()?.len() > limit {
        return None;
    }
    let mut bytes = Vec::new();
    // Bounded again while reading: the file may grow after the check.
    f.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .ok()?;
    (bytes.len() as u64 <= limit).then_some(bytes)
}

/// Writes a new file at `path` (a temporary name of the caller's); whatever
/// is there already, a FIFO or a link to a device included, is neither
/// opened nor followed: the write fails instead.
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #31: a FIFO as `--vmlinux` blocked forever in the open. It,
    /// a device and a directory are refused at once, by what they are; a
    /// cache read of a longer file than its bound gives nothing; a new
    /// cache file is not written through whatever is at its name.
    #[test]
    fn only_regular_files() {
        let dir = std::env::temp_dir().join(format!("kdebuginfo-open-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        let paths = [fifo.clone(), "/dev/zero".into(), dir.clone()];
        std::thread::spawn(move || {
            for p in paths {
                let e = crate::KernelDebugInfo::open(&p).unwrap_err().to_string();
                let _ = tx.send((e, read_capped(&p, 1 << 20)));
            }
        });
        let wait = std::time::Duration::from_secs(10);
        for want in ["a FIFO (named pipe)", "a character device", "a directory"] {
            let (msg, read) = rx.recv_timeout(wait).expect("the open did not block");
            assert!(
                msg.contains(want) && msg.contains("not a regular file"),
                "{msg}"
            );
            assert!(read.is_none());
        }
        let file = dir.join("file");
        std::fs::write(&file, b"0123456789").unwrap();
        assert_eq!(read_capped(&file, 10).as_deref(), Some(&b"0123456789"[..]));
        assert_eq!(read_capped(&file, 9), None);
        // Neither the FIFO nor a link at the name is written through.
        assert!(write_new(&fifo, b"x").is_err());
        let link = dir.join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(write_new(&link, b"x").is_err());
        assert_eq!(std::fs::read(&file).unwrap(), b"0123456789");
        write_new(&dir.join("new"), b"x").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
