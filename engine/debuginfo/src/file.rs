//! Opening the files this crate reads (a vmlinux, a vmlinuz, its caches)
//! and writing its caches: regular files only, reads bounded.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The refusal of a file that is not a regular one: what it is.
#[derive(Debug)]
pub(crate) struct NotRegular(pub(crate) &'static str);

impl std::fmt::Display for NotRegular {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "it is {}, not a regular file", self.0)
    }
}

impl std::error::Error for NotRegular {}

impl NotRegular {
    /// What the file is, if `e` is this refusal.
    pub(crate) fn of(e: &std::io::Error) -> Option<&'static str> {
        Some(e.get_ref()?.downcast_ref::<NotRegular>()?.0)
    }
}

/// What a file type is, for a refusal that names it.
fn file_kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Opens a regular file for reading, and only one: a FIFO would block the
/// open (and later reads) forever, a device such as `/dev/zero` reads
/// without end. The type is checked before the open (opening a device runs
/// its driver) and again on the open file (the path may have changed in
/// between), which is opened non-blocking so that a FIFO put there in
/// between cannot block either. `vmcore` has a twin of this function: the
/// two crates may not depend on each other.
pub(crate) fn open_regular(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let refuse = |t: std::fs::FileType| -> std::io::Result<()> {
        if t.is_file() {
            return Ok(());
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            NotRegular(file_kind(t)),
        ))
    };
    refuse(std::fs::metadata(path)?.file_type())?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    refuse(file.metadata()?.file_type())?;
    // Reads of a regular file do not heed O_NONBLOCK, but clear it anyway
    // (a network file system might).
    // SAFETY: fcntl on a descriptor this function owns.
    unsafe {
        let fd = file.as_raw_fd();
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 && flags & libc::O_NONBLOCK != 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

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
