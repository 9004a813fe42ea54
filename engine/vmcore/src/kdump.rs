//! kdump-compressed ("diskdump") files, as written by makedumpfile and by
//! QEMU's `dump-guest-memory` kdump formats.
//!
//! Layout, in blocks of `block_size` bytes:
//! - block 0: `disk_dump_header` (signature `KDUMP   `);
//! - `sub_hdr_size` blocks: `kdump_sub_header` (fields grow with
//!   `header_version`), note and VMCOREINFO areas;
//! - `bitmap_blocks` blocks: two bitmaps of equal size, the first marking the
//!   pfns that are RAM, the second the pfns whose page was dumped;
//! - one 24-byte `page_desc` per dumped pfn, in pfn order;
//! - page data.
//!
//! Only the 64-bit little-endian layout is supported.

use std::ops::Range;
use std::sync::Arc;

use crate::cache::PageCache;
use crate::error::{ReadError, VmcoreError};
use crate::lzo;
use crate::notes::Notes;
use crate::source::ReadAt;
use crate::vmcoreinfo::VmcoreInfo;

const FORMAT: &str = "kdump-compressed";
/// Signature of `disk_dump_header`.
pub(crate) const KDUMP_SIGNATURE: &[u8; 8] = b"KDUMP   ";

/// Page flags / header status bits.
const DUMP_DH_COMPRESSED_ZLIB: u32 = 0x1;
const DUMP_DH_COMPRESSED_LZO: u32 = 0x2;
const DUMP_DH_COMPRESSED_SNAPPY: u32 = 0x4;
const DUMP_DH_COMPRESSED_INCOMPLETE: u32 = 0x8;
const DUMP_DH_COMPRESSED_ZSTD: u32 = 0x20;
const COMPRESSION_MASK: u32 = DUMP_DH_COMPRESSED_ZLIB
    | DUMP_DH_COMPRESSED_LZO
    | DUMP_DH_COMPRESSED_SNAPPY
    | DUMP_DH_COMPRESSED_ZSTD;

/// Size of a `page_desc`.
const PAGE_DESC_SIZE: u64 = 24;
/// Bitmap bytes covered by one entry of the rank table (512 pfns).
const RANK_CHUNK: u64 = 64;
/// Largest note or VMCOREINFO area we accept.
const MAX_AREA: u64 = 64 << 20;

/// Offsets in the 64-bit `disk_dump_header`.
mod dh {
    pub const HEADER_VERSION: usize = 8;
    pub const UTSNAME: usize = 12;
    pub const TIMESTAMP: usize = 408;
    pub const STATUS: usize = 424;
    pub const BLOCK_SIZE: usize = 428;
    pub const SUB_HDR_SIZE: usize = 432;
    pub const BITMAP_BLOCKS: usize = 436;
    pub const MAX_MAPNR: usize = 440;
    pub const TOTAL_RAM_BLOCKS: usize = 444;
    pub const DEVICE_BLOCKS: usize = 448;
    pub const WRITTEN_BLOCKS: usize = 452;
    pub const CURRENT_CPU: usize = 456;
    pub const NR_CPUS: usize = 460;
    /// End of the fixed part.
    pub const SIZE: usize = 464;
}

/// How the pages of a kdump-compressed file are compressed, from the
/// header's status flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// No compression flag: pages are stored as they are.
    None,
    Zlib,
    Lzo,
    Snappy,
    Zstd,
    /// Several flags at once (not written by known tools): the raw bits.
    Mixed(u32),
}

impl Compression {
    fn from_status(status: u32) -> Compression {
        match status & COMPRESSION_MASK {
            0 => Compression::None,
            DUMP_DH_COMPRESSED_ZLIB => Compression::Zlib,
            DUMP_DH_COMPRESSED_LZO => Compression::Lzo,
            DUMP_DH_COMPRESSED_SNAPPY => Compression::Snappy,
            DUMP_DH_COMPRESSED_ZSTD => Compression::Zstd,
            bits => Compression::Mixed(bits),
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::Zlib => f.write_str("zlib"),
            Compression::Lzo => f.write_str("lzo"),
            Compression::Snappy => f.write_str("snappy"),
            Compression::Zstd => f.write_str("zstd"),
            Compression::Mixed(b) => write!(f, "mixed({b:#x})"),
        }
    }
}

/// `struct new_utsname` from the kdump header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Utsname {
    pub sysname: String,
    pub nodename: String,
    pub release: String,
    pub version: String,
    pub machine: String,
    pub domainname: String,
}

/// The `disk_dump_header` and `kdump_sub_header` of a kdump-compressed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdumpHeader {
    pub header_version: u32,
    pub utsname: Utsname,
    /// Dump time: seconds and microseconds since the epoch.
    pub timestamp: (i64, i64),
    /// Status flags: compression bits, 0x8 incomplete, 0x10 excluded vmemmap.
    pub status: u32,
    /// Block (and page) size in bytes.
    pub block_size: u32,
    pub sub_hdr_size: u32,
    pub bitmap_blocks: u32,
    /// Number of pfns the bitmaps describe (`max_mapnr_64` from version 6).
    pub max_mapnr: u64,
    pub total_ram_blocks: u32,
    pub device_blocks: u32,
    pub written_blocks: u32,
    /// The CPU that took the dump (the crashing CPU for kdump).
    pub current_cpu: u32,
    pub nr_cpus: u32,
    /// Sub-header `phys_base` (version 1+).
    pub phys_base: Option<u64>,
    /// Sub-header `dump_level` (version 1+): makedumpfile's `-d` mask.
    pub dump_level: Option<u32>,
    /// Sub-header `split`, `start_pfn`, `end_pfn` (version 2+): this file is
    /// one part of a split dump covering the pfn range.
    pub split: Option<Range<u64>>,
    /// File range of the VMCOREINFO text (version 3+).
    pub vmcoreinfo_area: Option<Range<u64>>,
    /// File range of the ELF notes (version 4+).
    pub note_area: Option<Range<u64>>,
    /// File range of the erase information (version 5+).
    pub eraseinfo_area: Option<Range<u64>>,
}

impl KdumpHeader {
    /// Whether makedumpfile marked the dump incomplete (status 0x8).
    pub fn incomplete(&self) -> bool {
        self.status & DUMP_DH_COMPRESSED_INCOMPLETE != 0
    }

    /// The compression named by the status flags.
    pub fn compression(&self) -> Compression {
        Compression::from_status(self.status)
    }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at.checked_add(8)?)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn truncated(what: impl Into<String>, needed: u64, len: u64) -> VmcoreError {
    VmcoreError::Truncated {
        format: FORMAT,
        what: what.into(),
        needed,
        len,
    }
}

/// A `page_desc`.
#[derive(Debug, Clone, Copy)]
struct PageDesc {
    offset: i64,
    size: u32,
    flags: u32,
}

pub(crate) struct KdumpDump {
    pub header: KdumpHeader,
    pub notes: Notes,
    block_size: u64,
    bitmap1: u64,
    bitmap2: u64,
    /// Bytes in each bitmap.
    bitmap_len: u64,
    /// pfns at or past this are not in the dump.
    pfn_limit: u64,
    descs: u64,
    /// `rank[i]`: dumped pfns before pfn `i * 512`.
    rank: Vec<u64>,
    cache: PageCache,
}

impl KdumpDump {
    #[expect(
        clippy::too_many_lines,
        reason = "the header, sub-header, bitmaps and page descriptor table in file order, each checked against the file length and what came before it; split, the half-read state would travel in arguments"
    )]
    pub(crate) fn parse(src: &dyn ReadAt) -> Result<KdumpDump, VmcoreError> {
        let flen = src.len();
        let h = src
            .bytes(0, dh::SIZE)
            .ok_or_else(|| truncated("the disk_dump_header", dh::SIZE as u64, flen))?;
        if &h[..8] != KDUMP_SIGNATURE {
            return Err(VmcoreError::malformed(
                FORMAT,
                "missing the `KDUMP   ` signature",
            ));
        }
        let header_version = le_u32(&h, dh::HEADER_VERSION);
        if !(1..=1000).contains(&header_version) {
            if (1..=1000).contains(&header_version.swap_bytes()) {
                return Err(VmcoreError::Unsupported(
                    "big-endian kdump-compressed file (only little-endian is supported)".into(),
                ));
            }
            return Err(VmcoreError::malformed(
                FORMAT,
                format!("header_version {header_version} is not a known version"),
            ));
        }
        let u = |i: usize| cstr(&h[dh::UTSNAME + 65 * i..dh::UTSNAME + 65 * (i + 1)]);
        let utsname = Utsname {
            sysname: u(0),
            nodename: u(1),
            release: u(2),
            version: u(3),
            machine: u(4),
            domainname: u(5),
        };
        if matches!(
            utsname.machine.as_str(),
            "i386" | "i486" | "i586" | "i686" | "arm" | "armv7l" | "ppc" | "s390" | "mips"
        ) {
            return Err(VmcoreError::Unsupported(format!(
                "kdump-compressed file of a 32-bit machine ({}): only the 64-bit layout is supported",
                utsname.machine
            )));
        }
        let block_size = le_u32(&h, dh::BLOCK_SIZE);
        if !(512..=(1 << 20)).contains(&block_size) || !block_size.is_power_of_two() {
            return Err(VmcoreError::malformed(
                FORMAT,
                format!("block_size {block_size} is not a power of two between 512 and 1 MiB"),
            ));
        }
        let bs = block_size as u64;
        let sub_hdr_size = le_u32(&h, dh::SUB_HDR_SIZE);
        let bitmap_blocks = le_u32(&h, dh::BITMAP_BLOCKS);
        let status = le_u32(&h, dh::STATUS);
        let mut header = KdumpHeader {
            header_version,
            utsname,
            timestamp: (
                le_u64(&h, dh::TIMESTAMP).unwrap_or(0) as i64,
                le_u64(&h, dh::TIMESTAMP + 8).unwrap_or(0) as i64,
            ),
            status,
            block_size,
            sub_hdr_size,
            bitmap_blocks,
            max_mapnr: le_u32(&h, dh::MAX_MAPNR) as u64,
            total_ram_blocks: le_u32(&h, dh::TOTAL_RAM_BLOCKS),
            device_blocks: le_u32(&h, dh::DEVICE_BLOCKS),
            written_blocks: le_u32(&h, dh::WRITTEN_BLOCKS),
            current_cpu: le_u32(&h, dh::CURRENT_CPU),
            nr_cpus: le_u32(&h, dh::NR_CPUS),
            phys_base: None,
            dump_level: None,
            split: None,
            vmcoreinfo_area: None,
            note_area: None,
            eraseinfo_area: None,
        };
        drop(h);

        // Sub-header: block 1, sub_hdr_size blocks.
        let sub_len = (sub_hdr_size as u64) * bs;
        if sub_hdr_size > 0 {
            let want = sub_len.min(104) as usize;
            let sub = src
                .bytes(bs, want)
                .ok_or_else(|| truncated("the kdump_sub_header", bs + want as u64, flen))?;
            let v = header_version;
            let area = |at: usize| -> Option<Range<u64>> {
                let off = le_u64(&sub, at)?;
                let size = le_u64(&sub, at + 8)?;
                (size > 0).then_some(off..off.saturating_add(size))
            };
            if v >= 1 {
                header.phys_base = le_u64(&sub, 0);
                header.dump_level = sub.get(8..12).map(|_| le_u32(&sub, 8));
            }
            if v >= 2 && sub.len() >= 32 && le_u32(&sub, 12) != 0 {
                let start = le_u64(&sub, 16).unwrap_or(0);
                let end = le_u64(&sub, 24).unwrap_or(0);
                header.split = Some(start..end);
            }
            if v >= 3 {
                header.vmcoreinfo_area = area(32);
            }
            if v >= 4 {
                header.note_area = area(48);
            }
            if v >= 5 {
                header.eraseinfo_area = area(64);
            }
            if v >= 6 {
                if let Some(max) = le_u64(&sub, 96) {
                    header.max_mapnr = max;
                }
                if header.split.is_some() {
                    if let (Some(s), Some(e)) = (le_u64(&sub, 80), le_u64(&sub, 88)) {
                        header.split = Some(s..e);
                    }
                }
            }
        }

        // Notes, then VMCOREINFO text if the notes had none.
        let mut notes = Notes::default();
        let read_area = |r: &Range<u64>, what: &str| -> Result<Vec<u8>, VmcoreError> {
            let len = r.end - r.start;
            if len > MAX_AREA {
                return Err(VmcoreError::malformed(
                    FORMAT,
                    format!("the {what} area claims {len} bytes"),
                ));
            }
            src.bytes(r.start, len as usize)
                .map(|b| b.into_owned())
                .ok_or_else(|| truncated(format!("the {what} area"), r.end, flen))
        };
        if let Some(r) = &header.note_area {
            let area = read_area(r, "ELF note")?;
            notes.add_area(&area, false, true, header.utsname.machine == "x86_64");
        }
        if notes.vmcoreinfo.is_none() {
            if let Some(r) = &header.vmcoreinfo_area {
                let text = read_area(r, "VMCOREINFO")?;
                notes.vmcoreinfo = Some(VmcoreInfo::parse(&text));
            }
        }

        // Bitmaps.
        let bitmap1 = bs * (1 + sub_hdr_size as u64);
        let bitmap_total = bs * bitmap_blocks as u64;
        if bitmap1 + bitmap_total > flen {
            return Err(truncated(
                format!("the page bitmaps ({bitmap_blocks} blocks)"),
                bitmap1 + bitmap_total,
                flen,
            ));
        }
        // The bitmaps are scanned once (the rank table): their size must be
        // data the file holds, not the holes of a flattened stream.
        if bitmap_total > src.stored() {
            return Err(VmcoreError::malformed(
                FORMAT,
                format!(
                    "the page bitmaps ({bitmap_blocks} blocks) are larger than the {} bytes \
                     the flattened stream holds",
                    src.stored()
                ),
            ));
        }
        let bitmap_len = bitmap_total / 2;
        let bitmap2 = bitmap1 + bitmap_len;
        let descs = bitmap1 + bitmap_total;
        let pfn_limit = header.max_mapnr.min(bitmap_len.saturating_mul(8));

        let rank = build_rank(src, bitmap2, bitmap_len)?;
        Ok(KdumpDump {
            header,
            notes,
            block_size: bs,
            bitmap1,
            bitmap2,
            bitmap_len,
            pfn_limit,
            descs,
            rank,
            cache: PageCache::default(),
        })
    }

    fn test_bit(&self, src: &dyn ReadAt, bitmap: u64, pfn: u64) -> bool {
        let mut b = [0u8; 1];
        pfn < self.pfn_limit
            && src.read_at(bitmap + pfn / 8, &mut b)
            && b[0] & (1 << (pfn % 8)) != 0
    }

    /// Number of dumped pfns before `pfn` (which is below `pfn_limit`).
    fn rank_of(&self, src: &dyn ReadAt, pfn: u64) -> Option<u64> {
        let chunk = pfn / (RANK_CHUNK * 8);
        let base = *self.rank.get(usize::try_from(chunk).ok()?)?;
        let start = chunk * RANK_CHUNK;
        let upto = pfn / 8 - start; // whole bytes before pfn's byte
        let mut buf = [0u8; RANK_CHUNK as usize + 1];
        let n = (upto + 1).min(self.bitmap_len - start) as usize;
        if !src.read_at(self.bitmap2 + start, &mut buf[..n]) {
            return None;
        }
        let mut r = base;
        for &b in &buf[..upto as usize] {
            r += b.count_ones() as u64;
        }
        let mask = (1u16 << (pfn % 8)) - 1;
        r += (buf[upto as usize] & mask as u8).count_ones() as u64;
        Some(r)
    }

    fn page_desc(&self, src: &dyn ReadAt, pfn: u64) -> Result<PageDesc, ReadError> {
        let paddr = pfn * self.block_size;
        let rank = self.rank_of(src, pfn).ok_or(ReadError::Corrupt {
            paddr,
            reason: "page bitmap unreadable".into(),
        })?;
        let at = rank
            .checked_mul(PAGE_DESC_SIZE)
            .and_then(|o| o.checked_add(self.descs))
            .ok_or(ReadError::Truncated { paddr })?;
        let mut d = [0u8; PAGE_DESC_SIZE as usize];
        if !src.read_at(at, &mut d) {
            return Err(ReadError::Truncated { paddr });
        }
        Ok(PageDesc {
            offset: le_u64(&d, 0).unwrap_or(0) as i64,
            size: le_u32(&d, 8),
            flags: le_u32(&d, 12),
        })
    }

    /// Whether `pfn` was dumped; if not, the error saying why.
    fn check_pfn(&self, src: &dyn ReadAt, pfn: u64) -> Result<(), ReadError> {
        let paddr = pfn.saturating_mul(self.block_size);
        if self.test_bit(src, self.bitmap2, pfn) {
            Ok(())
        } else if self.test_bit(src, self.bitmap1, pfn) {
            Err(ReadError::Excluded { paddr })
        } else {
            Err(ReadError::NotInDump { paddr })
        }
    }

    pub(crate) fn read_phys(
        &self,
        src: &dyn ReadAt,
        paddr: u64,
        buf: &mut [u8],
    ) -> Result<(), ReadError> {
        let bs = self.block_size;
        let mut done = 0usize;
        while done < buf.len() {
            let addr = paddr
                .checked_add(done as u64)
                .ok_or(ReadError::NotInDump { paddr: u64::MAX })?;
            let pfn = addr / bs;
            let in_page = addr % bs;
            let n = ((buf.len() - done) as u64).min(bs - in_page) as usize;
            let out = &mut buf[done..done + n];
            self.read_in_page(src, pfn, in_page, out)
                .map_err(|e| relocate(e, addr))?;
            done += n;
        }
        Ok(())
    }

    fn read_in_page(
        &self,
        src: &dyn ReadAt,
        pfn: u64,
        in_page: u64,
        out: &mut [u8],
    ) -> Result<(), ReadError> {
        self.check_pfn(src, pfn)?;
        let paddr = pfn * self.block_size;
        if let Some(page) = self.cache.get(pfn) {
            out.copy_from_slice(&page[in_page as usize..in_page as usize + out.len()]);
            return Ok(());
        }
        let pd = self.page_desc(src, pfn)?;
        let corrupt = |reason: String| ReadError::Corrupt { paddr, reason };
        if pd.size == 0 || pd.offset == 0 {
            // makedumpfile leaves the descriptors of pages it could not write
            // zeroed when it runs out of space (and flags the dump
            // incomplete); a flattened stream cut short leaves them as holes.
            return Err(ReadError::Truncated { paddr });
        }
        if pd.offset < 0 {
            return Err(corrupt(format!("page descriptor has offset {}", pd.offset)));
        }
        let off = pd.offset as u64;
        if pd.size as u64 > self.block_size {
            return Err(corrupt(format!(
                "page descriptor size {} exceeds the block size {}",
                pd.size, self.block_size
            )));
        }
        if !src.contains(off, pd.size as u64) {
            return Err(ReadError::Truncated { paddr });
        }
        let compression = pd.flags & COMPRESSION_MASK;
        if compression == 0 {
            if pd.size as u64 != self.block_size {
                return Err(corrupt(format!(
                    "uncompressed page of {} bytes (block size {})",
                    pd.size, self.block_size
                )));
            }
            return if src.read_at(off + in_page, out) {
                Ok(())
            } else {
                Err(ReadError::Truncated { paddr })
            };
        }
        let data = src
            .bytes(off, pd.size as usize)
            .ok_or(ReadError::Truncated { paddr })?;
        let mut page = vec![0u8; self.block_size as usize];
        decompress(compression, &data, &mut page).map_err(corrupt)?;
        out.copy_from_slice(&page[in_page as usize..in_page as usize + out.len()]);
        self.cache.insert(pfn, Arc::from(page));
        Ok(())
    }

    /// Physical ranges of dumped pages.
    pub(crate) fn dumped_ranges(&self, src: &dyn ReadAt) -> Vec<Range<u64>> {
        let mut out: Vec<Range<u64>> = Vec::new();
        let bs = self.block_size;
        let bytes = self.pfn_limit.div_ceil(8);
        let mut pos = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        while pos < bytes {
            let n = (bytes - pos).min(buf.len() as u64) as usize;
            if !src.read_at(self.bitmap2 + pos, &mut buf[..n]) {
                break;
            }
            for (i, &b) in buf[..n].iter().enumerate() {
                if b == 0 {
                    continue;
                }
                for bit in 0..8 {
                    if b & (1 << bit) == 0 {
                        continue;
                    }
                    let pfn = (pos + i as u64) * 8 + bit;
                    if pfn >= self.pfn_limit {
                        break;
                    }
                    let start = pfn * bs;
                    match out.last_mut() {
                        Some(r) if r.end == start => r.end = start + bs,
                        _ => out.push(start..start + bs),
                    }
                }
            }
            pos += n as u64;
        }
        out
    }

    pub(crate) fn page_size(&self) -> u64 {
        self.block_size
    }
}

/// Re-targets a page-level error to the first address actually requested.
fn relocate(e: ReadError, addr: u64) -> ReadError {
    match e {
        ReadError::NotInDump { .. } => ReadError::NotInDump { paddr: addr },
        ReadError::Excluded { .. } => ReadError::Excluded { paddr: addr },
        ReadError::Corrupt { reason, .. } => ReadError::Corrupt {
            paddr: addr,
            reason,
        },
        ReadError::Truncated { .. } => ReadError::Truncated { paddr: addr },
    }
}

/// Counts set bits of bitmap 2 per 64-byte chunk.
fn build_rank(src: &dyn ReadAt, bitmap2: u64, len: u64) -> Result<Vec<u64>, VmcoreError> {
    // Bounded by the file size: the bitmap was checked to lie inside it.
    let chunks = len.div_ceil(RANK_CHUNK);
    let mut rank = Vec::with_capacity(chunks as usize);
    let mut total = 0u64;
    let mut pos = 0u64;
    const STEP: u64 = 1 << 20;
    while pos < len {
        let n = (len - pos).min(STEP);
        let bytes = src
            .bytes(bitmap2 + pos, n as usize)
            .ok_or_else(|| truncated("the page bitmaps", bitmap2 + len, src.len()))?;
        for c in bytes.chunks(RANK_CHUNK as usize) {
            rank.push(total);
            total += c.iter().map(|b| b.count_ones() as u64).sum::<u64>();
        }
        pos += n;
    }
    Ok(rank)
}

/// Decompresses one page; the result must fill `page` exactly.
pub(crate) fn decompress(flags: u32, data: &[u8], page: &mut [u8]) -> Result<(), String> {
    let want = page.len();
    let got = match flags {
        DUMP_DH_COMPRESSED_ZLIB => {
            let mut d = flate2::Decompress::new(true);
            match d.decompress(data, page, flate2::FlushDecompress::Finish) {
                Ok(flate2::Status::StreamEnd) => d.total_out() as usize,
                Ok(_) => return Err("zlib stream does not end within a page".into()),
                Err(e) => return Err(format!("zlib: {e}")),
            }
        }
        DUMP_DH_COMPRESSED_LZO => lzo::decompress(data, page).map_err(|e| format!("lzo: {e}"))?,
        DUMP_DH_COMPRESSED_SNAPPY => {
            let len = snap::raw::decompress_len(data).map_err(|e| format!("snappy: {e}"))?;
            if len != want {
                return Err(format!("snappy data is {len} bytes, expected {want}"));
            }
            snap::raw::Decoder::new()
                .decompress(data, page)
                .map_err(|e| format!("snappy: {e}"))?
        }
        DUMP_DH_COMPRESSED_ZSTD => {
            zstd::bulk::decompress_to_buffer(data, page).map_err(|e| format!("zstd: {e}"))?
        }
        other => return Err(format!("unknown compression flags {other:#x}")),
    };
    if got != want {
        return Err(format!("page decompresses to {got} bytes, expected {want}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Found by the `dump_flat` fuzz target: a kdump header in a flattened
    /// stream whose bitmaps (8 TiB) lie in a hole of the stream was
    /// accepted, and its rank table scanned (and allocated) for minutes.
    #[test]
    fn bitmaps_in_the_holes_of_a_flattened_stream() {
        let mut h = vec![0u8; 4096];
        h[..8].copy_from_slice(super::KDUMP_SIGNATURE);
        h[super::dh::HEADER_VERSION..][..4].copy_from_slice(&1u32.to_le_bytes());
        h[super::dh::UTSNAME + 65 * 4..][..6].copy_from_slice(b"x86_64");
        h[super::dh::BLOCK_SIZE..][..4].copy_from_slice(&4096u32.to_le_bytes());
        h[super::dh::BITMAP_BLOCKS..][..4].copy_from_slice(&(1u32 << 31).to_le_bytes());
        h[super::dh::MAX_MAPNR..][..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let s = crate::flat::tests::stream(&[(0, &h), (4096 << 32, b"end")], true);
        let start = std::time::Instant::now();
        let e = crate::Vmcore::from_bytes(s).unwrap_err().to_string();
        assert!(e.contains("larger than"), "{e}");
        assert!(start.elapsed().as_secs() < 2);
    }
}
