//! An owning DWARF reader: a section's bytes that keep the file's memory
//! map (or in-memory image) alive, so that another crate can hold parsed
//! DWARF (addr2line contexts, CFI) for as long as it likes, without
//! borrowing from a [`crate::KernelDebugInfo`] or extending a lifetime.
//!
//! It is `gimli::Reader` implemented in safe code over an `Arc` of the
//! backing and a byte range: every read indexes the backing's slice (no
//! raw pointer is kept, so no `StableDeref` promise is needed).

use std::borrow::Cow;
use std::sync::Arc;

use gimli::{Endianity, Reader, ReaderOffsetId, RunTimeEndian};

use crate::elf::Backing;

/// The bytes `[start, end)` of a backing (a section, or part of one),
/// read as DWARF with the file's byte order. Cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct SectionReader {
    backing: Arc<Backing>,
    start: usize,
    end: usize,
    endian: RunTimeEndian,
}

impl std::fmt::Debug for SectionReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SectionReader")
            .field("start", &self.start)
            .field("len", &(self.end - self.start))
            .finish_non_exhaustive()
    }
}

impl SectionReader {
    /// `[start, end)` of a backing; `None` if the range is not inside it.
    pub(crate) fn new(
        backing: Arc<Backing>,
        start: usize,
        end: usize,
        endian: RunTimeEndian,
    ) -> Option<SectionReader> {
        (start <= end && end <= backing.bytes().len()).then_some(SectionReader {
            backing,
            start,
            end,
            endian,
        })
    }

    /// A reader that owns its bytes (tests, data made at run time).
    pub fn from_vec(bytes: Vec<u8>, endian: RunTimeEndian) -> SectionReader {
        let end = bytes.len();
        SectionReader {
            backing: Arc::new(Backing::Owned(bytes)),
            start: 0,
            end,
            endian,
        }
    }

    /// The bytes not read yet.
    pub fn bytes(&self) -> &[u8] {
        &self.backing.bytes()[self.start..self.end]
    }

    /// The bytes `[from, to)` of what is not read yet, as a reader of
    /// their own; `None` past the end.
    pub fn range(&self, from: usize, to: usize) -> Option<SectionReader> {
        let start = self.start.checked_add(from)?;
        let end = self.start.checked_add(to)?;
        (from <= to && end <= self.end).then(|| SectionReader {
            start,
            end,
            ..self.clone()
        })
    }

    fn eof(&self) -> gimli::Error {
        gimli::Error::UnexpectedEof(self.offset_id())
    }

    /// The next `len` bytes, read.
    fn take(&mut self, len: usize) -> gimli::Result<&[u8]> {
        self.need(len)?;
        self.start += len;
        Ok(&self.backing.bytes()[self.start - len..self.start])
    }

    fn need(&self, len: usize) -> gimli::Result<()> {
        if len > self.end - self.start {
            Err(self.eof())
        } else {
            Ok(())
        }
    }
}

impl gimli::Reader for SectionReader {
    type Endian = RunTimeEndian;
    type Offset = usize;

    fn endian(&self) -> RunTimeEndian {
        self.endian
    }

    fn len(&self) -> usize {
        self.end - self.start
    }

    fn empty(&mut self) {
        self.start = self.end;
    }

    fn truncate(&mut self, len: usize) -> gimli::Result<()> {
        self.need(len)?;
        self.end = self.start + len;
        Ok(())
    }

    fn offset_from(&self, base: &SectionReader) -> usize {
        self.start.wrapping_sub(base.start)
    }

    /// The position in the backing: distinct for every byte of the file,
    /// as a pointer would be.
    fn offset_id(&self) -> ReaderOffsetId {
        ReaderOffsetId(self.start as u64)
    }

    fn lookup_offset_id(&self, id: ReaderOffsetId) -> Option<usize> {
        let at = usize::try_from(id.0).ok()?;
        (self.start..=self.end)
            .contains(&at)
            .then(|| at - self.start)
    }

    fn find(&self, byte: u8) -> gimli::Result<usize> {
        self.bytes()
            .iter()
            .position(|&b| b == byte)
            .ok_or_else(|| self.eof())
    }

    fn skip(&mut self, len: usize) -> gimli::Result<()> {
        self.need(len)?;
        self.start += len;
        Ok(())
    }

    fn split(&mut self, len: usize) -> gimli::Result<SectionReader> {
        self.need(len)?;
        let head = SectionReader {
            end: self.start + len,
            ..self.clone()
        };
        self.start += len;
        Ok(head)
    }

    fn to_slice(&self) -> gimli::Result<Cow<'_, [u8]>> {
        Ok(Cow::Borrowed(self.bytes()))
    }

    fn to_string(&self) -> gimli::Result<Cow<'_, str>> {
        std::str::from_utf8(self.bytes())
            .map(Cow::Borrowed)
            .map_err(|_| gimli::Error::BadUtf8)
    }

    fn to_string_lossy(&self) -> gimli::Result<Cow<'_, str>> {
        Ok(String::from_utf8_lossy(self.bytes()))
    }

    fn read_slice(&mut self, buf: &mut [u8]) -> gimli::Result<()> {
        buf.copy_from_slice(self.take(buf.len())?);
        Ok(())
    }

    // The fixed-size reads take their bytes without a copy to a buffer.
    fn read_u8(&mut self) -> gimli::Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn read_u16(&mut self) -> gimli::Result<u16> {
        let e = self.endian;
        Ok(e.read_u16(self.take(2)?))
    }

    fn read_u32(&mut self) -> gimli::Result<u32> {
        let e = self.endian;
        Ok(e.read_u32(self.take(4)?))
    }

    fn read_u64(&mut self) -> gimli::Result<u64> {
        let e = self.endian;
        Ok(e.read_u64(self.take(8)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_splits_and_bounds() {
        let mut r = SectionReader::from_vec(
            vec![1, 2, 0, 3, 0x10, 0x20, 0x30, 0x40, b'a', 0],
            RunTimeEndian::Little,
        );
        let base = r.clone();
        assert_eq!(r.read_u8().unwrap(), 1);
        assert_eq!(r.find(0).unwrap(), 1);
        let mut head = r.split(3).unwrap();
        assert_eq!(head.len(), 3);
        assert_eq!(head.read_u16().unwrap(), 2);
        assert_eq!(r.offset_from(&base), 4);
        assert_eq!(r.read_u32().unwrap(), 0x4030_2010);
        assert_eq!(
            r.read_null_terminated_slice().unwrap().to_string().unwrap(),
            "a"
        );
        assert!(r.is_empty());
        // Past the end: an error naming where, never a panic.
        assert!(matches!(r.read_u64(), Err(gimli::Error::UnexpectedEof(_))));
        assert!(r.clone().skip(1).is_err() && r.clone().truncate(1).is_err());
        let id = head.offset_id();
        assert_eq!(base.lookup_offset_id(id), Some(3));
        assert_eq!(base.range(4, 8).unwrap().read_u32().unwrap(), 0x4030_2010);
        assert!(base.range(4, 11).is_none() && base.range(5, 4).is_none());
        let mut big = SectionReader::from_vec(vec![0, 0, 0, 0, 0, 0, 0, 1], RunTimeEndian::Big);
        assert_eq!(big.read_u64().unwrap(), 1);
    }

    /// A section's reader keeps the file's bytes alive after the debug
    /// info is dropped (what the unwinder's contexts rely on).
    #[test]
    fn a_section_reader_outlives_its_debug_info() {
        use crate::memory::{write_elf, SectionOut};
        let section = |name, sh_type, data: &[u8]| SectionOut {
            name,
            sh_type,
            flags: 0,
            addr: 0,
            data: data.to_vec(),
            link: 0,
            entsize: 0,
        };
        let elf = write_elf(&[
            section(".debug_str", 1, b"schedule\0mutex_lock\0"),
            section(".bss", 8, b""),
        ]);
        let d = crate::KernelDebugInfo::from_bytes("reader-test", elf).unwrap();
        let mut r = d.section_reader(".debug_str").unwrap();
        assert!(d.section_reader(".bss").unwrap().is_empty());
        assert!(d.section_reader(".debug_info").is_none());
        drop(d);
        r.skip(9).unwrap();
        let s = r.read_null_terminated_slice().unwrap();
        assert_eq!(s.to_string().unwrap(), "mutex_lock");
    }
}
