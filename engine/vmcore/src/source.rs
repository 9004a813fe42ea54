//! Byte sources the format parsers read through: a plain buffer (usually a
//! memory-mapped file) or the virtual file described by a makedumpfile
//! flattened stream.

use std::borrow::Cow;
use std::sync::Arc;

/// Shared, immutable bytes of a dump file.
pub(crate) type Data = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Random access to the bytes of a (possibly virtual) dump file.
///
/// No method panics for any offset or length: out-of-range requests fail.
pub(crate) trait ReadAt: Send + Sync {
    /// Length of the file in bytes.
    fn len(&self) -> u64;

    /// Bytes the source actually holds: `len` for a plain file, the bytes of
    /// its records for a flattened stream, whose file may be mostly holes (a
    /// record at a huge offset makes a huge file of zeros). A structure no
    /// larger than the dump can be is bounded by this, not by `len`.
    fn stored(&self) -> u64 {
        self.len()
    }

    /// Fills `buf` with the bytes at `offset`. Returns `false` (and leaves
    /// `buf` in an unspecified state) if the range reaches past the end.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> bool;

    /// The `len` bytes at `offset`, borrowed where the source allows it.
    /// `None` if the range reaches past the end.
    fn bytes(&self, offset: u64, len: usize) -> Option<Cow<'_, [u8]>> {
        let end = offset.checked_add(len as u64)?;
        if end > self.len() {
            return None;
        }
        // Bounded: the range was checked against the file length above.
        let mut v = vec![0u8; len];
        self.read_at(offset, &mut v).then_some(Cow::Owned(v))
    }

    /// Whether `offset..offset+len` lies inside the file.
    fn contains(&self, offset: u64, len: u64) -> bool {
        offset.checked_add(len).is_some_and(|end| end <= self.len())
    }
}

/// A plain in-memory (or memory-mapped) file.
pub(crate) struct Plain(pub(crate) Data);

impl Plain {
    pub(crate) fn slice(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

/// Slice `data[offset..offset+len]` without panicking.
pub(crate) fn sub(data: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let len = usize::try_from(len).ok()?;
    let end = start.checked_add(len)?;
    data.get(start..end)
}

impl ReadAt for Plain {
    fn len(&self) -> u64 {
        self.slice().len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> bool {
        match sub(self.slice(), offset, buf.len() as u64) {
            Some(s) => {
                buf.copy_from_slice(s);
                true
            }
            None => false,
        }
    }

    fn bytes(&self, offset: u64, len: usize) -> Option<Cow<'_, [u8]>> {
        sub(self.slice(), offset, len as u64).map(Cow::Borrowed)
    }
}

/// A file read with `pread`. Dumps are read this way rather than mapped: a
/// rule touching 20 000 scattered task_structs would otherwise map (with the
/// kernel's fault-around) hundreds of megabytes of the dump into the process.
pub(crate) struct PreadFile {
    pub(crate) file: std::fs::File,
    pub(crate) len: u64,
}

impl ReadAt for PreadFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> bool {
        use std::os::unix::fs::FileExt;
        self.contains(offset, buf.len() as u64) && self.file.read_exact_at(buf, offset).is_ok()
    }
}

pub(crate) use regular_file::{open_regular, NotRegular};

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #31: a FIFO as the dump blocked `info` and `scan` forever in
    /// the open; `/dev/zero` was "empty". Each is refused at once, by what
    /// it is; a regular file (also behind a link) opens.
    #[test]
    fn only_regular_files_open() {
        let dir = std::env::temp_dir().join(format!("vmcore-open-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let link = dir.join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let paths = [fifo.clone(), link.clone(), dir.clone()];
        std::thread::spawn(move || {
            for p in paths {
                let _ = tx.send(crate::Vmcore::open(&p).unwrap_err().to_string());
            }
        });
        let wait = std::time::Duration::from_secs(10);
        for want in [
            "a FIFO (named pipe), not a regular file",
            "a character device, not a regular file",
            "a directory, not a regular file",
        ] {
            let msg = rx.recv_timeout(wait).expect("the open did not block");
            assert!(msg.contains(want), "{msg}");
            assert!(!msg.contains("empty"), "{msg}");
        }
        let file = dir.join("file");
        std::fs::write(&file, b"x").unwrap();
        let regular = dir.join("regular-link");
        std::os::unix::fs::symlink(&file, &regular).unwrap();
        assert!(open_regular(&regular).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn plain_bounds() {
        let p = Plain(Arc::new(vec![1u8, 2, 3, 4]));
        let mut b = [0u8; 2];
        assert!(p.read_at(2, &mut b));
        assert_eq!(b, [3, 4]);
        assert!(!p.read_at(3, &mut b));
        assert!(!p.read_at(u64::MAX, &mut b));
        assert!(p.bytes(u64::MAX - 1, 4).is_none());
        assert_eq!(p.bytes(0, 4).unwrap().as_ref(), &[1, 2, 3, 4]);
        assert!(p.contains(4, 0));
        assert!(!p.contains(4, 1));
    }
}
