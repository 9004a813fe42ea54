//! ELF vmcores: `/proc/vmcore` copies, `makedumpfile -E`, QEMU
//! `dump-guest-memory` ELF.
//!
//! PT_LOAD segments map physical addresses (`p_paddr`) to file offsets;
//! bytes between `p_filesz` and `p_memsz` read as zeros. PT_NOTE segments
//! hold the notes.

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::ET_CORE;
use goblin::elf::program_header::{ProgramHeader, PT_LOAD, PT_NOTE};
use goblin::elf::section_header::SectionHeader;

use std::sync::Arc;

use crate::cache::PageCache;
use crate::error::{ReadError, VmcoreError};
use crate::notes::Notes;
use crate::source::ReadAt;

const FORMAT: &str = "ELF";
const PAGE: u64 = 4096;
/// `e_phnum` value saying the real count is in section header 0's `sh_info`.
const PN_XNUM: u16 = 0xffff;
/// x86_64 `e_machine`.
pub(crate) const EM_X86_64: u16 = 62;

/// A PT_LOAD segment, trimmed so that segments do not overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub paddr: u64,
    pub memsz: u64,
    pub filesz: u64,
    pub offset: u64,
}

impl Segment {
    fn end(&self) -> u64 {
        self.paddr.saturating_add(self.memsz)
    }
}

pub(crate) struct ElfDump {
    /// Sorted by `paddr`, non-overlapping, non-empty.
    pub segments: Vec<Segment>,
    pub machine: u16,
    /// The header's `e_ehsize` was wrong (QEMU 7.2 writes 8) and was
    /// ignored.
    pub ehsize_quirk: bool,
    pub notes: Notes,
    /// Whole pages of recent small reads: walks over thousands of structs
    /// read a few fields from each page, and a `pread` per field costs more
    /// than the walk.
    pub cache: PageCache,
}

fn truncated(what: impl Into<String>, needed: u64, len: u64) -> VmcoreError {
    VmcoreError::Truncated {
        format: FORMAT,
        what: what.into(),
        needed,
        len,
    }
}

impl ElfDump {
    pub(crate) fn parse(src: &dyn ReadAt) -> Result<ElfDump, VmcoreError> {
        let flen = src.len();
        let ident = src
            .bytes(0, 16)
            .ok_or_else(|| truncated("the ELF identification", 16, flen))?;
        let is_64 = match ident[4] {
            1 => false,
            2 => true,
            c => {
                return Err(VmcoreError::malformed(
                    FORMAT,
                    format!("unknown ELF class {c}"),
                ))
            }
        };
        let hsize: usize = if is_64 { 64 } else { 52 };
        let raw = src
            .bytes(0, hsize)
            .ok_or_else(|| truncated("the ELF header", hsize as u64, flen))?;
        // Parse a copy with e_ehsize set right: QEMU 7.2 writes a wrong one.
        let mut hdr = raw.to_vec();
        let ehsize_at = if is_64 { 52 } else { 40 };
        let big_endian = ident[5] == 2;
        let ehsize_bytes = if big_endian {
            (hsize as u16).to_be_bytes()
        } else {
            (hsize as u16).to_le_bytes()
        };
        let ehsize_quirk = hdr[ehsize_at..ehsize_at + 2] != ehsize_bytes;
        hdr[ehsize_at..ehsize_at + 2].copy_from_slice(&ehsize_bytes);
        let header = goblin::elf::Elf::parse_header(&hdr)
            .map_err(|e| VmcoreError::malformed(FORMAT, format!("bad ELF header: {e}")))?;
        if header.e_type != ET_CORE {
            return Err(VmcoreError::NotADump {
                found: format!("an ELF file of type {} (not a core file)", header.e_type),
            });
        }
        let ctx = Ctx::new(
            if is_64 {
                Container::Big
            } else {
                Container::Little
            },
            if big_endian {
                Endian::Big
            } else {
                Endian::Little
            },
        );
        let phent = ProgramHeader::size(ctx);
        if header.e_phentsize as usize != phent {
            return Err(VmcoreError::malformed(
                FORMAT,
                format!(
                    "program header entries are {} bytes, expected {phent}",
                    header.e_phentsize
                ),
            ));
        }
        let mut phnum = header.e_phnum as u64;
        if header.e_phnum == PN_XNUM {
            // The real count is in the first section header's sh_info.
            let shent = SectionHeader::size(ctx);
            let sh = src.bytes(header.e_shoff, shent).ok_or_else(|| {
                truncated(
                    "the first section header (program header count)",
                    header.e_shoff.saturating_add(shent as u64),
                    flen,
                )
            })?;
            let sh = SectionHeader::parse_from(&sh, 0, 1, ctx)
                .ok()
                .and_then(|v| v.into_iter().next())
                .ok_or_else(|| VmcoreError::malformed(FORMAT, "unreadable section header 0"))?;
            phnum = sh.sh_info as u64;
        }
        let ph_len = phnum
            .checked_mul(phent as u64)
            .filter(|&n| n <= flen)
            .ok_or_else(|| truncated("the program headers", u64::MAX, flen))?;
        let ph_bytes = src.bytes(header.e_phoff, ph_len as usize).ok_or_else(|| {
            truncated(
                format!("{phnum} program headers"),
                header.e_phoff.saturating_add(ph_len),
                flen,
            )
        })?;
        let phdrs = ProgramHeader::parse(&ph_bytes, 0, phnum as usize, ctx)
            .map_err(|e| VmcoreError::malformed(FORMAT, format!("bad program headers: {e}")))?;

        let machine = header.e_machine;
        let x86_64 = machine == EM_X86_64;
        let mut notes = Notes::default();
        let mut loads = Vec::new();
        for ph in &phdrs {
            match ph.p_type {
                PT_NOTE => {
                    let len = usize::try_from(ph.p_filesz).unwrap_or(usize::MAX);
                    let area = src.bytes(ph.p_offset, len).ok_or_else(|| {
                        truncated(
                            "the PT_NOTE segment",
                            ph.p_offset.saturating_add(ph.p_filesz),
                            flen,
                        )
                    })?;
                    notes.add_area(&area, big_endian, is_64, x86_64);
                }
                PT_LOAD if ph.p_memsz > 0 => loads.push(Segment {
                    paddr: ph.p_paddr,
                    memsz: ph.p_memsz,
                    filesz: ph.p_filesz.min(ph.p_memsz),
                    offset: ph.p_offset,
                }),
                _ => {}
            }
        }
        Ok(ElfDump {
            segments: normalize(loads),
            machine,
            ehsize_quirk,
            cache: PageCache::default(),
            notes,
        })
    }

    /// Reads physical memory. Data past the end of the file reads as
    /// `Truncated`.
    pub(crate) fn read_phys(
        &self,
        src: &dyn ReadAt,
        paddr: u64,
        buf: &mut [u8],
    ) -> Result<(), ReadError> {
        let page = paddr & !(PAGE - 1);
        // The last byte asked for; none past the end of the address space.
        let last = (buf.len() as u64)
            .checked_sub(1)
            .and_then(|n| paddr.checked_add(n));
        if last.is_some_and(|l| l & !(PAGE - 1) == page) {
            if let Some(data) = self.cached_page(src, page) {
                let rel = (paddr - page) as usize;
                buf.copy_from_slice(&data[rel..rel + buf.len()]);
                return Ok(());
            }
        }
        self.read_direct(src, paddr, buf)
    }

    /// The page at `page` through the cache, when one segment holds all of
    /// it in the file (else the caller reads directly and reports holes).
    fn cached_page(&self, src: &dyn ReadAt, page: u64) -> Option<Arc<[u8]>> {
        if let Some(d) = self.cache.get(page / PAGE) {
            return Some(d);
        }
        let i = self.segments.partition_point(|s| s.paddr <= page);
        let seg = self.segments[i.checked_sub(1)?];
        let rel = page - seg.paddr;
        if rel.checked_add(PAGE)? > seg.filesz {
            return None;
        }
        let mut data = vec![0u8; PAGE as usize];
        if !src.read_at(seg.offset.checked_add(rel)?, &mut data) {
            return None;
        }
        let data: Arc<[u8]> = Arc::from(data);
        self.cache.insert(page / PAGE, data.clone());
        Some(data)
    }

    fn read_direct(&self, src: &dyn ReadAt, paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let mut done = 0usize;
        while done < buf.len() {
            let addr = paddr
                .checked_add(done as u64)
                .ok_or(ReadError::NotInDump { paddr: u64::MAX })?;
            let i = self.segments.partition_point(|s| s.paddr <= addr);
            let seg = i
                .checked_sub(1)
                .map(|i| self.segments[i])
                .filter(|s| addr < s.end())
                .ok_or(ReadError::NotInDump { paddr: addr })?;
            let rel = addr - seg.paddr;
            let n = ((buf.len() - done) as u64).min(seg.end() - addr) as usize;
            let out = &mut buf[done..done + n];
            // Part backed by file data, then zeros up to p_memsz.
            let in_file = seg.filesz.saturating_sub(rel).min(n as u64) as usize;
            if in_file > 0 {
                let off = seg
                    .offset
                    .checked_add(rel)
                    .ok_or(ReadError::Truncated { paddr: addr })?;
                if !src.read_at(off, &mut out[..in_file]) {
                    return Err(ReadError::Truncated {
                        paddr: first_missing(src, off, addr, in_file),
                    });
                }
            }
            out[in_file..].fill(0);
            done += n;
        }
        Ok(())
    }
}

/// The physical address of the first byte past the end of the file in a
/// read of `n` bytes at file offset `off` / address `addr`.
fn first_missing(src: &dyn ReadAt, off: u64, addr: u64, n: usize) -> u64 {
    let have = src.len().saturating_sub(off).min(n as u64);
    addr.saturating_add(have)
}

/// Sorts segments by address and trims overlaps (an earlier-starting segment
/// keeps the overlapped range; overlapping segments in vmcores describe the
/// same memory, e.g. the kernel text segment of /proc/vmcore).
fn normalize(mut segs: Vec<Segment>) -> Vec<Segment> {
    segs.sort_by_key(|s| (s.paddr, std::cmp::Reverse(s.memsz)));
    let mut out: Vec<Segment> = Vec::with_capacity(segs.len());
    let mut covered_to = 0u64;
    for mut s in segs {
        let end = s.end();
        if !out.is_empty() && s.paddr < covered_to {
            if end <= covered_to {
                continue;
            }
            let cut = covered_to - s.paddr;
            s.paddr = covered_to;
            s.memsz = end - covered_to;
            s.filesz = s.filesz.saturating_sub(cut);
            s.offset = s.offset.saturating_add(cut);
        }
        covered_to = covered_to.max(end);
        out.push(s);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn seg(paddr: u64, memsz: u64, filesz: u64, offset: u64) -> Segment {
        Segment {
            paddr,
            memsz,
            filesz,
            offset,
        }
    }

    /// A little-endian x86_64 ELF core with one PT_LOAD of one page of
    /// 0xab at physical address `paddr`.
    pub(crate) fn one_page_core(paddr: u64) -> Vec<u8> {
        let mut v = vec![0u8; 0x2000];
        v[..8].copy_from_slice(b"\x7fELF\x02\x01\x01\x00");
        v[16..18].copy_from_slice(&ET_CORE.to_le_bytes());
        v[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        v[20..24].copy_from_slice(&1u32.to_le_bytes());
        v[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        v[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        v[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        v[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        let ph = [1u64 | 4 << 32, 0x1000, 0, paddr, PAGE, PAGE, 0];
        for (i, w) in ph.iter().enumerate() {
            v[64 + 8 * i..72 + 8 * i].copy_from_slice(&w.to_le_bytes());
        }
        v[0x1000..].fill(0xab);
        v
    }

    /// Found by the `dump_elf` fuzz target: a read ending past the last
    /// physical address overflowed (a panic with overflow checks).
    #[test]
    fn read_at_the_end_of_the_address_space() {
        let core = crate::Vmcore::from_bytes(one_page_core(0)).unwrap();
        let mut b = [0u8; 16];
        for addr in [u64::MAX - 15, u64::MAX - 8, u64::MAX] {
            assert!(core.read_phys(addr, &mut b).is_err(), "{addr:#x}");
        }
        core.read_phys(0xff0, &mut b).unwrap();
        assert_eq!(b, [0xab; 16]);
        let top = crate::Vmcore::from_bytes(one_page_core(u64::MAX - 0xfff)).unwrap();
        top.read_phys(u64::MAX - 15, &mut b).unwrap();
        assert_eq!(b, [0xab; 16]);
        assert!(top.read_phys(u64::MAX - 8, &mut b).is_err());
    }

    #[test]
    fn overlaps_are_trimmed() {
        let n = normalize(vec![
            seg(0x1000, 0x1000, 0x1000, 0x9000),
            seg(0, 0x3000, 0x3000, 0),
            seg(0x2800, 0x1000, 0x800, 0x5000),
        ]);
        assert_eq!(
            n,
            vec![seg(0, 0x3000, 0x3000, 0), seg(0x3000, 0x800, 0, 0x5800)]
        );
    }
}
