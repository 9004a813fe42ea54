//! makedumpfile's flattened stream (`makedumpfile -F`, and QEMU's
//! `dump-guest-memory` kdump formats before QEMU 8.2).
//!
//! The stream is a 4096-byte header (signature `makedumpfile`, big-endian
//! type and version), then records of `{i64 offset, i64 size}` (big-endian)
//! each followed by `size` bytes that belong at `offset` of the dump file,
//! ending with an offset of -1. Instead of reassembling the file, the records
//! are indexed once and served as a virtual file: [`FlatFile`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::error::VmcoreError;
use crate::source::{sub, Data, ReadAt};

/// Signature at the start of a flattened stream.
pub(crate) const FLAT_SIGNATURE: &[u8] = b"makedumpfile";
/// Size of the stream header.
const FLAT_HEADER_SIZE: u64 = 4096;
/// Size of a record header.
const RECORD_HEADER_SIZE: u64 = 16;

/// A piece of the virtual file: `len` bytes at virtual offset `virt` are the
/// stream's bytes at `file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seg {
    virt: u64,
    len: u64,
    file: u64,
}

/// The virtual dump file described by a flattened stream. Bytes that no
/// record wrote read as zeros (as in the sparse file makedumpfile's `-R`
/// would write).
pub(crate) struct FlatFile {
    data: Data,
    /// Sorted by `virt`, non-overlapping, non-empty.
    segs: Vec<Seg>,
    len: u64,
    /// Bytes held by the records (`len` less the holes).
    stored: u64,
    /// Whether the stream ended with the end marker (offset -1).
    pub(crate) complete: bool,
}

fn be_i64(b: &[u8], at: usize) -> Option<i64> {
    let s = b.get(at..at.checked_add(8)?)?;
    Some(i64::from_be_bytes(s.try_into().ok()?))
}

impl FlatFile {
    /// Indexes the records of a flattened stream.
    pub(crate) fn parse(data: Data) -> Result<FlatFile, VmcoreError> {
        let bytes: &[u8] = (*data).as_ref();
        let flen = bytes.len() as u64;
        if flen < FLAT_HEADER_SIZE {
            return Err(VmcoreError::Truncated {
                format: "makedumpfile flattened",
                what: "the 4096-byte stream header".into(),
                needed: FLAT_HEADER_SIZE,
                len: flen,
            });
        }
        if !bytes.starts_with(FLAT_SIGNATURE) {
            return Err(VmcoreError::malformed(
                "makedumpfile flattened",
                "missing the `makedumpfile` signature",
            ));
        }
        let typ = be_i64(bytes, 16).unwrap_or(0);
        let version = be_i64(bytes, 24).unwrap_or(0);
        if typ != 1 {
            return Err(VmcoreError::Unsupported(format!(
                "makedumpfile flattened stream of type {typ} (only type 1 is known)"
            )));
        }
        if version != 1 {
            return Err(VmcoreError::Unsupported(format!(
                "makedumpfile flattened stream version {version} (only version 1 is known)"
            )));
        }

        // Non-overlapping intervals: start -> (end, file offset). Later
        // records replace what earlier ones wrote.
        let mut map: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
        let mut pos = FLAT_HEADER_SIZE;
        let mut complete = false;
        let mut index = 0u64;
        // A stream cut at or inside a record header keeps what it has.
        while let Some(hdr) = sub(bytes, pos, RECORD_HEADER_SIZE) {
            let off = be_i64(hdr, 0).unwrap_or(-1);
            let size = be_i64(hdr, 8).unwrap_or(-1);
            if off == -1 {
                complete = true;
                break;
            }
            if off < 0 || size < 0 {
                return Err(VmcoreError::malformed(
                    "makedumpfile flattened",
                    format!(
                        "record {index} at stream offset {pos:#x} has offset {off} and size {size}; \
                         the stream is corrupt"
                    ),
                ));
            }
            let data_start = pos + RECORD_HEADER_SIZE;
            let avail = flen - data_start;
            let size = size as u64;
            let take = size.min(avail);
            if take > 0 {
                let start = off as u64;
                let Some(end) = start.checked_add(take) else {
                    return Err(VmcoreError::malformed(
                        "makedumpfile flattened",
                        format!("record {index} at stream offset {pos:#x} overflows the file size"),
                    ));
                };
                insert(&mut map, start, end, data_start);
            }
            if take < size {
                // Data cut short by the end of the stream.
                break;
            }
            pos = data_start + size;
            index += 1;
        }

        let segs: Vec<Seg> = map
            .into_iter()
            .map(|(virt, (end, file))| Seg {
                virt,
                len: end - virt,
                file,
            })
            .collect();
        let len = segs.last().map_or(0, |s| s.virt + s.len);
        let stored = segs.iter().map(|s| s.len).sum();
        Ok(FlatFile {
            data,
            segs,
            len,
            stored,
            complete,
        })
    }

    fn stream(&self) -> &[u8] {
        (*self.data).as_ref()
    }

    /// Index of the segment containing `off`, or of the first one after it.
    fn locate(&self, off: u64) -> Result<usize, usize> {
        let i = self.segs.partition_point(|s| s.virt <= off);
        if i > 0 {
            let s = &self.segs[i - 1];
            if off < s.virt + s.len {
                return Ok(i - 1);
            }
        }
        Err(i)
    }
}

/// Inserts `[start, end)` → `file` into the interval map, trimming or
/// removing what it overlaps.
fn insert(map: &mut BTreeMap<u64, (u64, u64)>, start: u64, end: u64, file: u64) {
    // An interval starting before `start` that reaches into the new one.
    if let Some((&s, &(e, f))) = map.range(..start).next_back() {
        if e > start {
            map.insert(s, (start, f));
            if e > end {
                map.insert(end, (e, f + (end - s)));
            }
        }
    }
    // Intervals starting inside the new one.
    let inside: Vec<u64> = map.range(start..end).map(|(&s, _)| s).collect();
    for s in inside {
        if let Some((e, f)) = map.remove(&s) {
            if e > end {
                map.insert(end, (e, f + (end - s)));
            }
        }
    }
    map.insert(start, (end, file));
}

impl ReadAt for FlatFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn stored(&self) -> u64 {
        self.stored
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> bool {
        if !self.contains(offset, buf.len() as u64) {
            return false;
        }
        let mut done = 0usize;
        while done < buf.len() {
            let off = offset + done as u64;
            let rest = (buf.len() - done) as u64;
            let n = match self.locate(off) {
                Ok(i) => {
                    let s = self.segs[i];
                    let n = rest.min(s.virt + s.len - off);
                    let Some(src) = sub(self.stream(), s.file + (off - s.virt), n) else {
                        return false;
                    };
                    buf[done..done + n as usize].copy_from_slice(src);
                    n
                }
                Err(next) => {
                    // A hole: zeros up to the next segment.
                    let limit = self.segs.get(next).map_or(u64::MAX, |s| s.virt);
                    let n = rest.min(limit - off);
                    buf[done..done + n as usize].fill(0);
                    n
                }
            };
            done += n as usize;
        }
        true
    }

    fn bytes(&self, offset: u64, len: usize) -> Option<Cow<'_, [u8]>> {
        if !self.contains(offset, len as u64) {
            return None;
        }
        if let Ok(i) = self.locate(offset) {
            let s = self.segs[i];
            if offset + len as u64 <= s.virt + s.len {
                return sub(self.stream(), s.file + (offset - s.virt), len as u64)
                    .map(Cow::Borrowed);
            }
        }
        // Spanning holes: a range larger than all the records together is
        // mostly holes, and the length comes from the stream (a header
        // field, a record at a huge offset), so it is not allocated.
        if len as u64 > self.stored {
            return None;
        }
        let mut v = vec![0u8; len];
        self.read_at(offset, &mut v).then_some(Cow::Owned(v))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Arc;

    /// A flattened stream of `records` (offset, bytes), with the end
    /// marker if `end`.
    pub(crate) fn stream(records: &[(i64, &[u8])], end: bool) -> Vec<u8> {
        let mut v = vec![0u8; 4096];
        v[..12].copy_from_slice(b"makedumpfile");
        v[16..24].copy_from_slice(&1i64.to_be_bytes());
        v[24..32].copy_from_slice(&1i64.to_be_bytes());
        for (off, d) in records {
            v.extend_from_slice(&off.to_be_bytes());
            v.extend_from_slice(&(d.len() as i64).to_be_bytes());
            v.extend_from_slice(d);
        }
        if end {
            v.extend_from_slice(&(-1i64).to_be_bytes());
            v.extend_from_slice(&(-1i64).to_be_bytes());
        }
        v
    }

    fn read(f: &FlatFile, off: u64, n: usize) -> Vec<u8> {
        let mut b = vec![0xAAu8; n];
        assert!(f.read_at(off, &mut b));
        b
    }

    #[test]
    fn later_records_win_and_holes_are_zero() {
        let s = stream(
            &[
                (0, b"aaaaaaaa"),
                (4, b"bb"),
                (20, b"cccc"),
                (2, b"dddddddd"), // covers 2..10, overlapping both earlier writes
                (9, b"e"),
            ],
            true,
        );
        let f = FlatFile::parse(Arc::new(s)).unwrap();
        assert!(f.complete);
        assert_eq!(f.len(), 24);
        assert_eq!(read(&f, 0, 24), b"aaddddddde\0\0\0\0\0\0\0\0\0\0cccc");
        assert_eq!(f.bytes(3, 3).unwrap().as_ref(), b"ddd");
        assert!(matches!(f.bytes(3, 3).unwrap(), Cow::Borrowed(_)));
        assert_eq!(f.bytes(8, 4).unwrap().as_ref(), b"de\0\0");
        assert!(f.bytes(22, 3).is_none());
    }

    #[test]
    fn split_interval() {
        let s = stream(&[(0, b"0123456789"), (3, b"xy")], false);
        let f = FlatFile::parse(Arc::new(s)).unwrap();
        assert!(!f.complete);
        assert_eq!(read(&f, 0, 10), b"012xy56789");
    }

    #[test]
    fn truncated_record_keeps_prefix() {
        let mut s = stream(&[(100, b"abcdef")], false);
        s.truncate(s.len() - 2);
        let f = FlatFile::parse(Arc::new(s)).unwrap();
        assert_eq!(f.len(), 104);
        assert_eq!(read(&f, 100, 4), b"abcd");
    }

    #[test]
    fn bad_records() {
        let s = stream(&[(-5, b"ab")], true);
        assert!(FlatFile::parse(Arc::new(s)).is_err());
        // Absurd but representable offsets are indexed lazily, not allocated.
        let s = stream(&[(i64::MAX, b"ab")], true);
        let f = FlatFile::parse(Arc::new(s)).unwrap();
        assert_eq!(f.len(), i64::MAX as u64 + 2);
        assert_eq!(read(&f, 0, 4), [0; 4]);
        assert!(FlatFile::parse(Arc::new(b"makedumpfile".to_vec())).is_err());
    }

    /// Found by the `dump_flat` fuzz target: a record at a huge offset made
    /// a huge file of holes, and reads spanning them were allocated.
    #[test]
    fn ranges_larger_than_the_records_are_not_allocated() {
        let s = stream(&[(0, b"ab"), (1 << 40, b"cd")], true);
        let f = FlatFile::parse(Arc::new(s)).unwrap();
        assert_eq!((f.len(), f.stored()), ((1 << 40) + 2, 4));
        assert!(f.bytes(0, 1 << 39).is_none());
        assert_eq!(f.bytes(1, 4).unwrap().as_ref(), b"b\0\0\0");
    }
}
