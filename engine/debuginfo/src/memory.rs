//! Debug information made from the dump itself: the kernel's own kallsyms
//! tables (symbols), its `.BTF` (types) and its ORC tables (unwinding), read
//! from the dump's memory, for a kernel whose debug vmlinux is not at hand.
//!
//! The caller reads memory (this crate knows no dump format): it gives a
//! function from a run-time kernel-image address to bytes, and what the
//! dump's VMCOREINFO says (release, build-id, KASLR offset, `SYMBOL(...)`).
//! The tables are assembled into a small ELF image (`.symtab`, `.BTF`,
//! `.orc_unwind_ip`, `.orc_unwind`, the banner, the build-id note) at
//! link-time addresses, so everything that reads a vmlinux reads it the
//! same way; [`KernelDebugInfo::from_memory`] caches that image per
//! build-id beside the DWARF name index.
//!
//! Where the kallsyms tables are: VMCOREINFO names them on recent kernels
//! (`SYMBOL(kallsyms_names)` …; Debian's 6.1 and later). Otherwise they are
//! found by their shape in the kernel image (see [`find_kallsyms`]).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::KernelDebugInfo;

/// Reads `buf.len()` bytes of the kernel image at an address: a run-time
/// virtual address of a dump's memory, or a link-time address of a file
/// (`plain.rs`, with a KASLR offset of 0).
pub type ReadMemory<'a> = &'a dyn Fn(u64, &mut [u8]) -> std::result::Result<(), String>;

/// What the dump says of its kernel (from VMCOREINFO), and which globals
/// the caller will read.
pub struct DumpKernel<'a> {
    pub release: &'a str,
    pub build_id: Option<&'a [u8]>,
    /// `KERNELOFFSET`: run-time minus link-time address of the kernel image.
    pub kaslr_offset: u64,
    /// `SYMBOL(name)=…` of VMCOREINFO (run-time addresses).
    pub symbol: &'a dyn Fn(&str) -> Option<u64>,
    /// The globals the caller reads by name, typed through BTF by their
    /// declared C type (the kernel model's `kmodel::GLOBALS`).
    pub globals: &'static [crate::GlobalDecl],
}

/// The start of the kernel image mapping (`__START_KERNEL_map`).
const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// At most this many kallsyms entries (a kernel has ~100k–250k).
const MAX_SYMS: u32 = 2_000_000;
/// How far past `_stext` the search for the kallsyms tables reads.
const MAX_SCAN: u64 = 256 << 20;
const MAX_BTF: u64 = 128 << 20;
const MAX_ORC: u64 = 8 << 20;

fn fail(what: impl Into<String>) -> Error {
    Error::NoDebugInfoInDump(what.into())
}

/// Reads through a small cache of 64 KiB blocks (the tables are read
/// byte by byte while decoding).
struct Reader<'a> {
    read: ReadMemory<'a>,
    block: std::cell::RefCell<(u64, Vec<u8>)>,
}

const BLOCK: u64 = 64 << 10;

impl<'a> Reader<'a> {
    fn new(read: ReadMemory<'a>) -> Reader<'a> {
        Reader {
            read,
            block: std::cell::RefCell::new((u64::MAX, Vec::new())),
        }
    }

    fn bytes(&self, addr: u64, len: usize) -> std::result::Result<Vec<u8>, String> {
        let mut out = vec![0u8; len];
        // Page by page: a page missing from the dump fails alone.
        let mut done = 0usize;
        while done < len {
            let a = addr.wrapping_add(done as u64);
            let n = ((0x1000 - (a & 0xfff)) as usize).min(len - done);
            self.fill(a, &mut out[done..done + n])?;
            done += n;
        }
        Ok(out)
    }

    fn fill(&self, addr: u64, buf: &mut [u8]) -> std::result::Result<(), String> {
        let base = addr & !(BLOCK - 1);
        let off = (addr - base) as usize;
        let mut b = self.block.borrow_mut();
        if b.0 != base {
            let mut data = vec![0u8; BLOCK as usize];
            // A block running past readable memory: read just what is asked.
            if (self.read)(base, &mut data).is_err() {
                drop(b);
                return (self.read)(addr, buf);
            }
            *b = (base, data);
        }
        if off + buf.len() <= b.1.len() {
            buf.copy_from_slice(&b.1[off..off + buf.len()]);
            Ok(())
        } else {
            drop(b);
            (self.read)(addr, buf)
        }
    }

    fn u32(&self, addr: u64) -> std::result::Result<u32, String> {
        let b = self.bytes(addr, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&self, addr: u64) -> std::result::Result<u64, String> {
        let b = self.bytes(addr, 8)?;
        Ok(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    }
}

/// Where the kallsyms tables are (run-time addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KallsymsTables {
    pub names: u64,
    pub num_syms: u32,
    pub token_table: u64,
    pub token_index: u64,
    pub offsets: u64,
    pub relative_base: u64,
}

/// One decoded kallsyms entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KallSym {
    pub name: String,
    /// The type letter (`T`, `t`, `D`, `b`, …).
    pub kind: char,
    /// Run-time address (per-CPU symbols: their offset in the per-CPU area).
    pub addr: u64,
}

/// The kallsyms tables from VMCOREINFO (`SYMBOL(kallsyms_names)` …).
fn tables_from_vmcoreinfo(k: &DumpKernel<'_>, r: &Reader<'_>) -> Option<KallsymsTables> {
    let s = |n: &str| (k.symbol)(n);
    Some(KallsymsTables {
        names: s("kallsyms_names")?,
        num_syms: r.u32(s("kallsyms_num_syms")?).ok()?,
        token_table: s("kallsyms_token_table")?,
        token_index: s("kallsyms_token_index")?,
        offsets: s("kallsyms_offsets")?,
        relative_base: r.u64(s("kallsyms_relative_base")?).ok()?,
    })
}

/// Whether 256 little-endian u16 values are a token index: starting at 0,
/// each token at least one character and its NUL.
fn is_token_index(b: &[u8]) -> bool {
    if b.len() < 512 || b[0] != 0 || b[1] != 0 {
        return false;
    }
    let mut prev = 0u16;
    for i in 1..256 {
        let v = u16::from_le_bytes([b[2 * i], b[2 * i + 1]]);
        // Tokens are short (a symbol prefix at the most).
        if v < prev + 2 || v > prev + 128 {
            return false;
        }
        prev = v;
    }
    true
}

/// Finds the kallsyms tables in the kernel image of a kernel that does not
/// name them in VMCOREINFO (before 6.x), by their shape, as
/// `scripts/kallsyms.c` lays them out one after the other, each aligned to
/// 8 bytes: `kallsyms_offsets` (s32 per symbol), `kallsyms_relative_base`
/// (u64: the run-time `_text`), `kallsyms_num_syms` (u32), `kallsyms_names`,
/// `kallsyms_markers`, (`kallsyms_seqs_of_names`,) `kallsyms_token_table`
/// (256 NUL-terminated strings) and `kallsyms_token_index` (256 u16 offsets
/// into the token table).
///
/// 1. The token index: 256 increasing u16 from 0, each step a token's
///    length plus its NUL, with the token table right before it whose
///    strings end where the index says.
/// 2. The relative base: a u64 equal to the run-time `_stext`
///    (VMCOREINFO's `SYMBOL(_stext)`; `_text` and `_stext` are one address
///    on x86_64) followed by a plausible symbol count, at most
///    `MAX_SCAN` before the token table, whose names decode with that token
///    table exactly up to where the markers begin.
pub fn find_kallsyms(read: ReadMemory<'_>, stext: u64) -> Result<KallsymsTables> {
    let r = Reader::new(read);
    find_kallsyms_in(&r, stext)
}

fn find_kallsyms_in(r: &Reader<'_>, stext: u64) -> Result<KallsymsTables> {
    const CHUNK: u64 = 1 << 20;
    let mut bases: Vec<u64> = Vec::new();
    let mut pos = stext & !7;
    let end = stext.saturating_add(MAX_SCAN);
    let mut prev_tail: Vec<u8> = Vec::new();
    while pos < end {
        // Page by page: an unreadable page (a hole, the end of the image)
        // reads as zeros, which no table matches.
        let chunk = r.bytes(pos, CHUNK as usize).unwrap_or_else(|_| {
            let mut c = vec![0u8; CHUNK as usize];
            for (i, page) in c.chunks_mut(0x1000).enumerate() {
                if (r.read)(pos + 0x1000 * i as u64, page).is_err() {
                    page.fill(0);
                }
            }
            c
        });
        let mut data = std::mem::take(&mut prev_tail);
        let data_start = pos - data.len() as u64;
        data.extend_from_slice(&chunk);
        let mut i = 0usize;
        while i + 16 <= data.len() {
            let w = u64::from_le_bytes(data[i..i + 8].try_into().unwrap_or([0; 8]));
            if w == stext {
                bases.push(data_start + i as u64);
            }
            if data[i] == 0
                && data[i + 1] == 0
                && i + 512 <= data.len()
                && is_token_index(&data[i..i + 512])
            {
                let ti = data_start + i as u64;
                for &base in bases.iter().rev() {
                    if let Some(t) = check_candidate(r, base, ti) {
                        return Ok(t);
                    }
                }
            }
            i += 8;
        }
        // Keep the tail: a token index may straddle chunks.
        let keep = data.len().saturating_sub(512) & !7;
        prev_tail = data[keep..].to_vec();
        pos += CHUNK;
    }
    Err(fail(format!(
        "no kallsyms tables found in the {} MiB of the kernel image after _stext ({stext:#x})",
        MAX_SCAN >> 20
    )))
}

/// Checks a relative-base candidate against a token index found after it.
fn check_candidate(r: &Reader<'_>, base: u64, token_index: u64) -> Option<KallsymsTables> {
    let num = r.u32(base + 8).ok()?;
    if !(1000..=MAX_SYMS).contains(&num) {
        return None;
    }
    let offsets = base.checked_sub((u64::from(num) * 4 + 7) & !7)?;
    let names = base + 16;
    let idx = r.bytes(token_index, 512).ok()?;
    let last = u64::from(u16::from_le_bytes([idx[510], idx[511]]));
    // The token table ends (padded to 8) where the index begins; the last
    // token's length decides where it starts.
    for len in 1..=64u64 {
        let size = last + len + 1;
        let start = token_index.checked_sub((size + 7) & !7)?;
        if start <= names {
            return None;
        }
        let t = r.bytes(start, size as usize).ok()?;
        let ends_ok = (1..256).all(|i| {
            let o = u16::from_le_bytes([idx[2 * i], idx[2 * i + 1]]) as usize;
            o > 0 && t.get(o - 1) == Some(&0)
        }) && t[size as usize - 1] == 0
            && t[(last as usize)..size as usize - 1]
                .iter()
                .all(|&c| c != 0);
        if !ends_ok {
            continue;
        }
        let tables = KallsymsTables {
            names,
            num_syms: num,
            token_table: start,
            token_index,
            offsets,
            relative_base: r.u64(base).ok()?,
        };
        // The names must decode and end before the token table.
        let syms = decode(r, &tables).ok()?;
        let plausible = syms.iter().take(64).all(|s| {
            s.kind.is_ascii_alphabetic()
                && !s.name.is_empty()
                && s.name.bytes().all(|c| c.is_ascii_graphic())
        });
        return plausible.then_some(tables);
    }
    None
}

/// Expands every symbol of the tables (`kernel/kallsyms.c`'s expansion: a
/// length — one byte, or two when the first has bit 7 set (6.1+; shorter
/// names never set it) — then that many token numbers; the first character
/// of the expansion is the type letter).
fn decode(r: &Reader<'_>, t: &KallsymsTables) -> Result<Vec<KallSym>> {
    let bad = |what: String| fail(format!("the kallsyms tables are unreadable: {what}"));
    if t.num_syms == 0 || t.num_syms > MAX_SYMS {
        return Err(bad(format!("{} symbols", t.num_syms)));
    }
    let idx = r.bytes(t.token_index, 512).map_err(bad)?;
    let last = u16::from_le_bytes([idx[510], idx[511]]) as usize;
    let table = r.bytes(t.token_table, last + 256).map_err(bad)?;
    let mut tokens: Vec<&[u8]> = Vec::with_capacity(256);
    for i in 0..256 {
        let o = u16::from_le_bytes([idx[2 * i], idx[2 * i + 1]]) as usize;
        let s = table
            .get(o..)
            .and_then(|rest| rest.iter().position(|&c| c == 0).map(|e| &rest[..e]))
            .ok_or_else(|| bad(format!("token {i} lies outside the token table")))?;
        tokens.push(s);
    }
    let n = t.num_syms as usize;
    let offs = r.bytes(t.offsets, n * 4).map_err(bad)?;
    // The absolute-per-CPU encoding (x86_64 SMP): non-negative offsets are
    // absolute values (per-CPU symbols), negative ones count down from
    // relative_base - 1. Without it every offset is an unsigned distance
    // from relative_base; the kernel's text then has small positive offsets.
    let negative = offs
        .chunks_exact(4)
        .filter(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) < 0)
        .count();
    let absolute_percpu = negative > n / 2;
    let mut out = Vec::with_capacity(n);
    let mut pos = t.names;
    // Names are read in blocks; at most 2 + 255*… bytes each.
    let mut buf: Vec<u8> = Vec::new();
    let mut buf_at = pos;
    for (i, c) in offs.chunks_exact(4).enumerate() {
        let need = |p: u64, len: usize, buf: &mut Vec<u8>, at: &mut u64| -> Result<()> {
            if p < *at || p + len as u64 > *at + buf.len() as u64 {
                // Near the end of readable memory, only what is needed.
                *buf = r
                    .bytes(p, 64 << 10)
                    .or_else(|_| r.bytes(p, len))
                    .map_err(bad)?;
                *at = p;
            }
            Ok(())
        };
        need(pos, 2, &mut buf, &mut buf_at)?;
        let o = (pos - buf_at) as usize;
        let mut len = buf[o] as usize;
        let mut hdr = 1;
        if len & 0x80 != 0 {
            len = (len & 0x7f) | ((buf[o + 1] as usize) << 7);
            hdr = 2;
        }
        if len == 0 || len > 1024 {
            return Err(bad(format!("symbol {i} has a name of {len} tokens")));
        }
        need(pos + hdr, len, &mut buf, &mut buf_at)?;
        let o = (pos + hdr - buf_at) as usize;
        let mut name = Vec::with_capacity(len * 2);
        for &tok in &buf[o..o + len] {
            name.extend_from_slice(tokens[tok as usize]);
        }
        pos += hdr + len as u64;
        let Some((&kind, rest)) = name.split_first() else {
            return Err(bad(format!("symbol {i} is empty")));
        };
        let v = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let addr = if !absolute_percpu {
            t.relative_base.wrapping_add(u64::from(v as u32))
        } else if v >= 0 {
            v as u64
        } else {
            t.relative_base
                .wrapping_sub(1)
                .wrapping_sub(v as i64 as u64)
        };
        out.push(KallSym {
            name: String::from_utf8_lossy(rest).into_owned(),
            kind: kind as char,
            addr,
        });
    }
    Ok(out)
}

/// The kernel's symbols from its kallsyms tables in memory.
pub fn read_kallsyms(
    read: ReadMemory<'_>,
    k: &DumpKernel<'_>,
) -> Result<(KallsymsTables, Vec<KallSym>)> {
    let r = Reader::new(read);
    let tables = match tables_from_vmcoreinfo(k, &r) {
        Some(t) => t,
        None => {
            let stext = (k.symbol)("_stext")
                .ok_or_else(|| fail("VMCOREINFO names neither the kallsyms tables nor _stext"))?;
            find_kallsyms_in(&r, stext)?
        }
    };
    let syms = decode(&r, &tables)?;
    Ok((tables, syms))
}

// ------------------------------------------------------------ the image

/// What a memory image says of itself (a note of the image).
const MEMIMAGE_NOTE: &[u8] = b"vmtriage memory image v2";

pub(crate) struct SectionOut {
    pub name: &'static str,
    pub sh_type: u32,
    pub flags: u64,
    pub addr: u64,
    pub data: Vec<u8>,
    pub link: u32,
    pub entsize: u64,
}

/// Assembles the image: an ELF64 file with the sections the rest of the
/// crate reads from a vmlinux (and `.shstrtab` last).
pub(crate) fn write_elf(sections: &[SectionOut]) -> Vec<u8> {
    let pad = |v: &mut Vec<u8>| v.resize(v.len().next_multiple_of(8), 0);
    let mut shstr = vec![0u8];
    let mut names = Vec::new();
    for n in sections.iter().map(|s| s.name).chain([".shstrtab"]) {
        names.push(shstr.len() as u32);
        shstr.extend_from_slice(n.as_bytes());
        shstr.push(0);
    }
    let mut out = vec![0u8; 64];
    let mut offs = Vec::new();
    for d in sections.iter().map(|s| &s.data[..]).chain([&shstr[..]]) {
        pad(&mut out);
        offs.push(out.len() as u64);
        out.extend_from_slice(d);
    }
    pad(&mut out);
    let shoff = out.len() as u64;
    let shnum = sections.len() + 2;
    out.extend_from_slice(&[0u8; 64]); // section 0
    let shstrtab = SectionOut {
        name: ".shstrtab",
        sh_type: 3,
        flags: 0,
        addr: 0,
        data: Vec::new(),
        link: 0,
        entsize: 0,
    };
    for (i, s) in sections.iter().chain([&shstrtab]).enumerate() {
        let size = if i == sections.len() {
            shstr.len()
        } else {
            s.data.len()
        } as u64;
        out.extend_from_slice(&names[i].to_le_bytes());
        out.extend_from_slice(&s.sh_type.to_le_bytes());
        out.extend_from_slice(&s.flags.to_le_bytes());
        out.extend_from_slice(&s.addr.to_le_bytes());
        out.extend_from_slice(&offs[i].to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&s.link.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // info
        out.extend_from_slice(&8u64.to_le_bytes()); // addralign
        out.extend_from_slice(&s.entsize.to_le_bytes());
    }
    let h = &mut out[..64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // 64-bit
    h[5] = 1; // little-endian
    h[6] = 1; // version
    h[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    h[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[40..48].copy_from_slice(&shoff.to_le_bytes());
    h[52..54].copy_from_slice(&64u16.to_le_bytes()); // ehsize
    h[58..60].copy_from_slice(&64u16.to_le_bytes()); // shentsize
    h[60..62].copy_from_slice(&(shnum as u16).to_le_bytes());
    h[62..64].copy_from_slice(&((shnum - 1) as u16).to_le_bytes());
    out
}

pub(crate) fn note(name: &[u8], ty: u32, desc: &[u8]) -> Vec<u8> {
    let mut n = Vec::new();
    let namesz = name.len() as u32 + 1;
    n.extend_from_slice(&namesz.to_le_bytes());
    n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    n.extend_from_slice(&ty.to_le_bytes());
    n.extend_from_slice(name);
    n.push(0);
    while n.len() % 4 != 0 {
        n.push(0);
    }
    n.extend_from_slice(desc);
    while n.len() % 4 != 0 {
        n.push(0);
    }
    n
}

/// The section of counted table lengths (see [`crate::GlobalDecl`]'s `T[~]`).
pub(crate) const COUNTS_SECTION: &str = ".vmtriage.counts";

/// Counts the `T[~]` tables of the declared globals in memory: the image
/// without the counts gives each one's element type and extent.
fn count_tables(
    sections: &[SectionOut],
    r: &Reader<'_>,
    kaslr: u64,
    globals: &'static [crate::GlobalDecl],
) -> String {
    let Ok(probe) = KernelDebugInfo::from_bytes("probe", write_elf(sections)) else {
        return String::new();
    };
    probe.declare_globals(globals);
    let mut out = String::new();
    for &crate::GlobalDecl { name, types } in globals {
        if !types.iter().any(|s| s.ends_with("[~]")) {
            continue;
        }
        let found = (|| {
            let v = probe.variable(name).ok()?;
            let t = probe.type_of(v.ty).ok()?;
            let crate::TypeKind::Array {
                elem,
                count: Some(n),
            } = t.kind
            else {
                return None;
            };
            let es = probe.sizeof(elem).ok().filter(|&s| s > 0 && s <= 4096)?;
            let run = if v.address? >= START_KERNEL_MAP {
                v.address?.wrapping_add(kaslr)
            } else {
                v.address?
            };
            let n = n.min(4096);
            let bytes = r.bytes(run, (n * es) as usize).ok()?;
            Some(
                bytes
                    .chunks(es as usize)
                    .take_while(|e| e.iter().any(|&b| b != 0))
                    .count(),
            )
        })();
        if let Some(n) = found {
            out += &format!("{name}={n}\n");
        }
    }
    out
}

/// Builds the image's bytes from the dump.
pub fn build_image(read: ReadMemory<'_>, k: &DumpKernel<'_>) -> Result<Vec<u8>> {
    build_image_marked(read, k, MEMIMAGE_NOTE)
}

/// [`build_image`] with the note that says where the tables were read
/// (a dump's memory, a file).
#[expect(
    clippy::too_many_lines,
    reason = "the image's sections written in file order (symbols, BTF, ORC, notes, the tables' lengths), each needing the offsets of those before it"
)]
pub(crate) fn build_image_marked(
    read: ReadMemory<'_>,
    k: &DumpKernel<'_>,
    marker: &[u8],
) -> Result<Vec<u8>> {
    let (_, syms) = read_kallsyms(read, k)?;
    let r = Reader::new(read);
    let kaslr = k.kaslr_offset;
    let link = |a: u64| {
        if a >= START_KERNEL_MAP {
            a.wrapping_sub(kaslr)
        } else {
            a
        }
    };
    let find = |n: &str| syms.iter().find(|s| s.name == n).map(|s| s.addr);
    let text = (find("_stext"), find("_etext"));
    let span = |start: &str, stop: &str, max: u64| -> Option<(u64, u64)> {
        let (a, b) = (find(start)?, find(stop)?);
        (b > a && b - a <= max).then_some((a, b - a))
    };
    let btf =
        span("__start_BTF", "__stop_BTF", MAX_BTF).and_then(|(a, n)| r.bytes(a, n as usize).ok());
    // C functions, by BTF: what an assembler label is not.
    let funcs: std::collections::HashSet<String> = btf
        .as_deref()
        .and_then(crate::btf::Btf::parse)
        .map(|b| {
            b.ids()
                .filter(|&i| b.kind(i) == Some(crate::btf::BtfKind::Func))
                .filter_map(|i| b.name(i))
                .collect()
        })
        .unwrap_or_default();
    let in_text = |a: u64| matches!(text, (Some(x), Some(y)) if a >= x && a < y);
    let mut order: Vec<usize> = (0..syms.len()).collect();
    order.sort_by_key(|&i| syms[i].addr);
    // An assembler label inside a function (entry_SYSCALL_64_after_hwframe
    // in entry_SYSCALL_64): kallsyms lists it as a function of its own; the
    // vmlinux's symbol table as a label. Told by its name — the enclosing
    // symbol's and more — and by neither being a C function.
    let mut label = vec![false; syms.len()];
    let mut owner: Option<usize> = None;
    for &i in &order {
        let c = &syms[i];
        let is_label = owner.is_some_and(|o| {
            let p = &syms[o];
            c.addr > p.addr
                && in_text(c.addr)
                && in_text(p.addr)
                && c.name.len() > p.name.len() + 1
                && c.name.starts_with(p.name.as_str())
                && c.name.as_bytes()[p.name.len()] == b'_'
                && !funcs.contains(&c.name)
                && !funcs.contains(&p.name)
        });
        if is_label {
            label[i] = true;
        } else {
            owner = Some(i);
        }
    }
    // Sizes from the next symbol's address (kallsyms has none), labels
    // inside their function.
    let mut size = vec![0u64; syms.len()];
    for w in 0..order.len() {
        let a = syms[order[w]].addr;
        let next = order[w + 1..]
            .iter()
            .filter(|&&j| !label[j])
            .map(|&j| syms[j].addr)
            .find(|&b| b > a);
        if let Some(b) = next {
            size[order[w]] = (b - a).min(1 << 24);
        }
    }
    let mut strtab = vec![0u8];
    let mut symtab = vec![0u8; 24];
    for (i, s) in syms.iter().enumerate() {
        let in_text = matches!(text, (Some(a), Some(b)) if s.addr >= a && s.addr < b);
        let ty: u8 = match s.kind.to_ascii_lowercase() {
            't' | 'w' if in_text => 2, // STT_FUNC
            // Per-CPU variables are absolute ('A') with absolute per-CPU kallsyms.
            'a' if s.addr < START_KERNEL_MAP => 1,
            'a' | 'u' | 'v' | 'n' => 0, // STT_NOTYPE
            _ if s.name.starts_with("__start_") || s.name.starts_with("__stop_") => 0,
            _ => 1, // STT_OBJECT
        };
        let bind: u8 = if s.kind.is_ascii_uppercase() { 1 } else { 0 };
        let ty = if label[i] { 0 } else { ty };
        let sz = if ty == 0 { 0 } else { size[i] };
        let name_off = strtab.len() as u32;
        strtab.extend_from_slice(s.name.as_bytes());
        strtab.push(0);
        symtab.extend_from_slice(&name_off.to_le_bytes());
        symtab.push((bind << 4) | ty);
        symtab.push(0);
        symtab.extend_from_slice(&0xfff1u16.to_le_bytes()); // SHN_ABS
        symtab.extend_from_slice(&link(s.addr).to_le_bytes());
        symtab.extend_from_slice(&sz.to_le_bytes());
    }
    let mut sections = vec![
        SectionOut {
            name: ".symtab",
            sh_type: 2,
            flags: 0,
            addr: 0,
            data: symtab,
            link: 2,
            entsize: 24,
        },
        SectionOut {
            name: ".strtab",
            sh_type: 3,
            flags: 0,
            addr: 0,
            data: strtab,
            link: 0,
            entsize: 0,
        },
    ];
    let mut notes = note(b"vmtriage", 0x766d, marker);
    if let Some(id) = k.build_id {
        notes.extend_from_slice(&note(b"GNU", 3, id));
    }
    sections.push(SectionOut {
        name: ".notes",
        sh_type: 7,
        flags: 0,
        addr: 0,
        data: notes,
        link: 0,
        entsize: 0,
    });
    if let (Some((a, _)), Some(data)) = (span("__start_BTF", "__stop_BTF", MAX_BTF), btf) {
        sections.push(SectionOut {
            name: ".BTF",
            sh_type: 1,
            flags: 2,
            addr: link(a),
            data,
            link: 0,
            entsize: 0,
        });
    }
    if let (Some((ip, n)), Some(u)) = (
        span("__start_orc_unwind_ip", "__stop_orc_unwind_ip", MAX_ORC),
        find("__start_orc_unwind"),
    ) {
        let entries = n / 4;
        if let (Ok(ipd), Ok(ud)) = (r.bytes(ip, n as usize), r.bytes(u, (entries * 6) as usize)) {
            sections.push(SectionOut {
                name: ".orc_unwind_ip",
                sh_type: 1,
                flags: 2,
                addr: link(ip),
                data: ipd,
                link: 0,
                entsize: 0,
            });
            sections.push(SectionOut {
                name: ".orc_unwind",
                sh_type: 1,
                flags: 2,
                addr: link(u),
                data: ud,
                link: 0,
                entsize: 0,
            });
        }
    }
    if let Some(a) = find("linux_banner") {
        if let Ok(mut b) = r.bytes(a, 512) {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len() - 1);
            b.truncate(end + 1);
            sections.push(SectionOut {
                name: ".rodata.banner",
                sh_type: 1,
                flags: 2,
                addr: link(a),
                data: b,
                link: 0,
                entsize: 0,
            });
        }
    }
    let counts = count_tables(&sections, &r, kaslr, k.globals);
    sections.push(SectionOut {
        name: COUNTS_SECTION,
        sh_type: 1,
        flags: 0,
        addr: 0,
        data: counts.into_bytes(),
        link: 0,
        entsize: 0,
    });
    Ok(write_elf(&sections))
}

/// Whether ELF bytes are an image made by [`build_image`].
pub(crate) fn is_memory_image(notes: &[u8]) -> bool {
    has_marker(notes, MEMIMAGE_NOTE)
}

/// Whether an image's notes carry that marker.
pub(crate) fn has_marker(notes: &[u8], marker: &[u8]) -> bool {
    notes.windows(marker.len()).any(|w| w == marker)
}

impl KernelDebugInfo {
    /// Debug information from the dump's own memory (kallsyms, BTF, ORC):
    /// for a dump whose debug vmlinux is not at hand. The image is cached
    /// per build-id next to the DWARF name index (`….mem.elf`) and reused
    /// when its build-id is the dump's.
    pub fn from_memory(read: ReadMemory<'_>, k: &DumpKernel<'_>) -> Result<KernelDebugInfo> {
        let d = Self::memory_image(read, k)?;
        d.declare_globals(k.globals);
        Ok(d)
    }

    fn memory_image(read: ReadMemory<'_>, k: &DumpKernel<'_>) -> Result<KernelDebugInfo> {
        let cache = k.build_id.and_then(|id| image_cache_path(id, "mem.elf"));
        if let Some(d) = cache
            .as_deref()
            .and_then(|p| load_cached(p, k.build_id?, KernelDebugInfo::is_from_memory))
        {
            return Ok(d);
        }
        let bytes = build_image(read, k)?;
        if let Some(p) = &cache {
            store_image(p, &bytes);
        }
        let name = PathBuf::from(format!("<memory of the dump: {}>", k.release));
        KernelDebugInfo::from_bytes(name, bytes)
    }
}

/// Where an image made for a build is cached: `BUILDID.SUFFIX` beside the
/// DWARF name index.
pub(crate) fn image_cache_path(build_id: &[u8], suffix: &str) -> Option<PathBuf> {
    Some(crate::cache_dir()?.join(format!("{}.{suffix}", crate::to_hex(build_id))))
}

/// A cached image, if it is one of `kind`, of that build-id, with symbols.
pub(crate) fn load_cached(
    p: &Path,
    build_id: &[u8],
    kind: fn(&KernelDebugInfo) -> bool,
) -> Option<KernelDebugInfo> {
    let d = KernelDebugInfo::open(p).ok()?;
    let ok = d.build_id() == Some(build_id) && kind(&d) && d.symbols().is_ok_and(|s| !s.is_empty());
    ok.then_some(d)
}

/// Writes an image to the cache (whole or not at all; best effort: a
/// read-only or full disk only costs the next run the making).
pub(crate) fn store_image(p: &Path, bytes: &[u8]) {
    let tmp = p.with_extension(format!("tmp{}", std::process::id()));
    let ok = p
        .parent()
        .is_some_and(|d| std::fs::create_dir_all(d).is_ok())
        && crate::file::write_new(&tmp, bytes).is_ok()
        && std::fs::rename(&tmp, p).is_ok();
    if !ok {
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const BASE: u64 = 0xffff_ffff_8100_0000;

    /// Kallsyms tables as scripts/kallsyms.c lays them out (absolute
    /// per-CPU encoding), after 1 MiB of "text"; every token one byte.
    pub(crate) fn image(names: &[(&str, char, u64)]) -> (Vec<u8>, KallsymsTables) {
        let mut m = vec![0x90u8; 1 << 20];
        let align = |m: &mut Vec<u8>| m.resize(m.len().next_multiple_of(8), 0);
        let offsets = BASE + m.len() as u64;
        for &(_, _, a) in names {
            let v: i32 = if a < START_KERNEL_MAP {
                a as i32
            } else {
                -((a - BASE) as i32) - 1
            };
            m.extend_from_slice(&v.to_le_bytes());
        }
        align(&mut m);
        let rb = BASE + m.len() as u64;
        m.extend_from_slice(&BASE.to_le_bytes());
        m.extend_from_slice(&(names.len() as u32).to_le_bytes());
        align(&mut m);
        let names_at = BASE + m.len() as u64;
        for &(n, k, _) in names {
            let s: Vec<u8> = std::iter::once(k as u8).chain(n.bytes()).collect();
            m.push(s.len() as u8);
            m.extend_from_slice(&s);
        }
        align(&mut m);
        m.extend_from_slice(&[0u8; 8]); // markers
        let table = BASE + m.len() as u64;
        for b in 0..=255u8 {
            m.push(if b == 0 { b'a' } else { b });
            m.push(0);
        }
        align(&mut m);
        let index = BASE + m.len() as u64;
        for b in 0..256u16 {
            m.extend_from_slice(&(2 * b).to_le_bytes());
        }
        m.extend_from_slice(&[0u8; 4096]);
        let t = KallsymsTables {
            names: names_at,
            num_syms: names.len() as u32,
            token_table: table,
            token_index: index,
            offsets,
            relative_base: BASE,
        };
        let _ = rb;
        (m, t)
    }

    /// 2000 symbols: a per-CPU one, then functions 16 bytes apart.
    fn sample() -> (Vec<u8>, KallsymsTables) {
        let s = syms(2000);
        let names: Vec<(&str, char, u64)> =
            s.iter().map(|(n, k, a)| (n.as_str(), *k, *a)).collect();
        image(&names)
    }

    pub(crate) fn syms(n: usize) -> Vec<(String, char, u64)> {
        (0..n)
            .map(|i| {
                if i == 0 {
                    ("fixed_percpu_data".to_string(), 'A', 0)
                } else {
                    (format!("func_{i}"), 't', BASE + 16 * i as u64)
                }
            })
            .collect()
    }

    fn reader(m: &[u8]) -> impl Fn(u64, &mut [u8]) -> std::result::Result<(), String> + '_ {
        move |a: u64, buf: &mut [u8]| {
            let off = a.checked_sub(BASE).ok_or("below")? as usize;
            let s = m.get(off..off + buf.len()).ok_or("beyond")?;
            buf.copy_from_slice(s);
            Ok(())
        }
    }

    #[test]
    fn decodes_and_finds_the_tables_by_shape() {
        let (m, t) = sample();
        let read = reader(&m);
        let r = Reader::new(&read);
        let out = decode(&r, &t).unwrap();
        assert_eq!(out.len(), 2000);
        assert_eq!(
            (out[0].name.as_str(), out[0].kind, out[0].addr),
            ("fixed_percpu_data", 'A', 0)
        );
        assert_eq!((out[7].name.as_str(), out[7].addr), ("func_7", BASE + 112));
        assert_eq!(find_kallsyms(&read, BASE).unwrap(), t);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let (m, t) = sample();
        let read = reader(&m);
        let r = Reader::new(&read);
        for bad in [
            KallsymsTables {
                num_syms: u32::MAX,
                ..t
            },
            KallsymsTables { names: BASE, ..t },
            KallsymsTables {
                token_index: BASE,
                ..t
            },
            KallsymsTables {
                offsets: BASE + (m.len() as u64) - 8,
                ..t
            },
        ] {
            let _ = decode(&r, &bad);
        }
        let zeros = vec![0u8; 1 << 20];
        let read0 = reader(&zeros);
        assert!(find_kallsyms(&read0, BASE).is_err());
    }
}
