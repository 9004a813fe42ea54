//! Input files are opened only when they are regular files. A FIFO named
//! as a dump, a vmlinux or a cache would block the open forever, a device
//! such as `/dev/zero` reads without end: both readers of untrusted files
//! (`vmcore` and `kdebuginfo`, which may not depend on each other) open
//! through here.

/// The refusal of a file that is not a regular one: what it is.
#[derive(Debug)]
pub struct NotRegular(pub &'static str);

impl std::fmt::Display for NotRegular {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "it is {}, not a regular file", self.0)
    }
}

impl std::error::Error for NotRegular {}

impl NotRegular {
    /// What the file is, if `e` is this refusal.
    pub fn of(e: &std::io::Error) -> Option<&'static str> {
        Some(e.get_ref()?.downcast_ref::<NotRegular>()?.0)
    }
}

/// What kind of file system object `t` is, for messages.
pub fn file_kind(t: std::fs::FileType) -> &'static str {
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
/// between cannot block either.
pub fn open_regular(path: &std::path::Path) -> std::io::Result<std::fs::File> {
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
