//! Crash dump files as physical memory plus notes.
//!
//! Supported formats, detected by content:
//! - ELF cores: `/proc/vmcore` copies, `makedumpfile -E`, QEMU
//!   `dump-guest-memory` (including QEMU 7.2's wrong `e_ehsize`);
//! - kdump-compressed ("diskdump") files from makedumpfile or QEMU, pages
//!   compressed with zlib, LZO, snappy, zstd or stored;
//! - makedumpfile flattened streams (`makedumpfile -F`, QEMU 7.2 kdump
//!   formats) of either of the above, read in place through an index of
//!   their records.
//!
//! The parsers never do I/O: they read a byte buffer, which [`Vmcore::open`]
//! memory-maps. Nothing panics on malformed input; every read error names
//! the physical address that failed.
//!
//! ```no_run
//! let core = vmcore::Vmcore::open(std::path::Path::new("vmcore"))?;
//! let mut page = vec![0u8; core.page_size() as usize];
//! core.read_phys(0x100000, &mut page)?;
//! if let Some(info) = core.vmcoreinfo() {
//!     println!("{:?}", info.osrelease());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cache;
mod elf;
mod error;
mod flat;
mod kdump;
mod lzo;
mod notes;
mod source;
mod vmcoreinfo;

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

pub use error::{ReadError, VmcoreError};
pub use kdump::{Compression, KdumpHeader, Utsname};
pub use notes::{iter_notes, Note, PrStatus, QemuCpuState, X86_64Regs, NT_PRSTATUS};
pub use regular_file::{file_kind, open_regular};
pub use vmcoreinfo::VmcoreInfo;

use elf::ElfDump;
use flat::FlatFile;
use kdump::KdumpDump;
use notes::Notes;
use source::{Data, Plain, ReadAt};

/// Which format a dump is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// An ELF core.
    Elf {
        /// The ELF header had a wrong `e_ehsize` (QEMU 7.2 writes 8), which
        /// was ignored.
        qemu_header_quirk: bool,
        /// Read from a makedumpfile flattened stream.
        flattened: bool,
    },
    /// A kdump-compressed file.
    Kdump {
        /// From the header's status flags.
        compression: Compression,
        /// makedumpfile's dump level (`-d`), from the sub-header.
        dump_level: Option<u32>,
        /// Read from a makedumpfile flattened stream.
        flattened: bool,
        /// The dump is incomplete: makedumpfile set status flag 0x8 (it ran
        /// out of space), or the flattened stream has no end marker. What is
        /// there is still readable; missing pages read as
        /// [`ReadError::Truncated`].
        incomplete: bool,
    },
}

/// The architecture of the dumped machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
    /// Anything else (the reader does not interpret registers for it).
    Other,
}

enum Body {
    Elf(ElfDump),
    Kdump(Box<KdumpDump>),
}

/// An open crash dump. `Send + Sync`: reads may come from several threads.
pub struct Vmcore {
    src: Box<dyn ReadAt>,
    body: Body,
    format: DumpFormat,
    arch: Arch,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Vmcore>();
};

/// A printable rendering of the first bytes of a file, for error messages.
fn describe_start(b: &[u8]) -> String {
    if b.is_empty() {
        return "nothing (the file is empty)".into();
    }
    let head = &b[..b.len().min(16)];
    let hex: Vec<String> = head.iter().map(|x| format!("{x:02x}")).collect();
    let text: String = head
        .iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                c as char
            } else {
                '.'
            }
        })
        .collect();
    format!("{} (\"{}\")", hex.join(" "), text)
}

impl Vmcore {
    /// Opens a dump file: ELF and kdump files are read with `pread`, a
    /// flattened stream is memory-mapped.
    ///
    /// The file must not be truncated or modified while the `Vmcore` is
    /// alive (a memory map of a shrinking file faults on access).
    pub fn open(path: &Path) -> Result<Vmcore, VmcoreError> {
        let io = |source| VmcoreError::Io {
            path: path.to_owned(),
            source,
        };
        let file = source::open_regular(path).map_err(|e| match source::NotRegular::of(&e) {
            Some(kind) => VmcoreError::NotAFile {
                path: path.to_owned(),
                kind,
            },
            None => io(e),
        })?;
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            return Err(VmcoreError::NotADump {
                found: describe_start(&[]),
            });
        }
        let mut head = [0u8; 16];
        let n = head.len().min(len as usize);
        {
            use std::os::unix::fs::FileExt;
            file.read_exact_at(&mut head[..n], 0).map_err(io)?;
        }
        if head[..n].starts_with(flat::FLAT_SIGNATURE) {
            // The flattened stream's index points into the file: map it.
            // SAFETY: the map is read-only; the documented contract is that
            // the file is not changed while it is open.
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
            return Vmcore::from_data(Arc::new(map));
        }
        let kind = Kind::detect(&head[..n]).ok_or_else(|| VmcoreError::NotADump {
            found: describe_start(&head[..n]),
        })?;
        Vmcore::with_source(Box::new(source::PreadFile { file, len }), kind, false, true)
    }

    /// Opens a dump held in memory.
    pub fn from_bytes(
        data: impl AsRef<[u8]> + Send + Sync + 'static,
    ) -> Result<Vmcore, VmcoreError> {
        Vmcore::from_data(Arc::new(data))
    }

    fn from_data(data: Data) -> Result<Vmcore, VmcoreError> {
        let bytes: &[u8] = (*data).as_ref();
        if bytes.starts_with(flat::FLAT_SIGNATURE) {
            let flat = FlatFile::parse(data)?;
            let complete = flat.complete;
            let head = flat
                .bytes(0, flat.len().min(16) as usize)
                .unwrap_or_default();
            let kind = Kind::detect(&head).ok_or_else(|| VmcoreError::NotADump {
                found: format!(
                    "a makedumpfile flattened stream whose content starts with {}",
                    describe_start(&head)
                ),
            })?;
            return Vmcore::with_source(Box::new(flat), kind, true, complete);
        }
        let kind = Kind::detect(bytes).ok_or_else(|| VmcoreError::NotADump {
            found: describe_start(bytes),
        })?;
        Vmcore::with_source(Box::new(Plain(data)), kind, false, true)
    }

    fn with_source(
        src: Box<dyn ReadAt>,
        kind: Kind,
        flattened: bool,
        stream_complete: bool,
    ) -> Result<Vmcore, VmcoreError> {
        let (body, format, arch) = match kind {
            Kind::Elf => {
                let e = ElfDump::parse(src.as_ref())?;
                let arch = match e.machine {
                    elf::EM_X86_64 => Arch::X86_64,
                    183 => Arch::Aarch64,
                    _ => Arch::Other,
                };
                let format = DumpFormat::Elf {
                    qemu_header_quirk: e.ehsize_quirk,
                    flattened,
                };
                (Body::Elf(e), format, arch)
            }
            Kind::Kdump => {
                let k = KdumpDump::parse(src.as_ref())?;
                let arch = match k.header.utsname.machine.as_str() {
                    "x86_64" => Arch::X86_64,
                    "aarch64" | "arm64" => Arch::Aarch64,
                    _ => Arch::Other,
                };
                let format = DumpFormat::Kdump {
                    compression: k.header.compression(),
                    dump_level: k.header.dump_level,
                    flattened,
                    incomplete: k.header.incomplete() || !stream_complete,
                };
                (Body::Kdump(Box::new(k)), format, arch)
            }
        };
        Ok(Vmcore {
            src,
            body,
            format,
            arch,
        })
    }

    /// The dump's format.
    pub fn format(&self) -> DumpFormat {
        self.format
    }

    /// The dumped machine's architecture (from `e_machine` or the kdump
    /// header's utsname).
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Fills `buf` with physical memory starting at `paddr`. The range may
    /// span pages and segments; on error the content of `buf` is unspecified
    /// and the error names the first address that could not be read.
    pub fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        match &self.body {
            Body::Elf(e) => e.read_phys(self.src.as_ref(), paddr, buf),
            Body::Kdump(k) => k.read_phys(self.src.as_ref(), paddr, buf),
        }
    }

    fn notes(&self) -> &Notes {
        match &self.body {
            Body::Elf(e) => &e.notes,
            Body::Kdump(k) => &k.notes,
        }
    }

    /// The VMCOREINFO the kernel left, if the dump has it.
    pub fn vmcoreinfo(&self) -> Option<&VmcoreInfo> {
        self.notes().vmcoreinfo.as_ref()
    }

    /// The `NT_PRSTATUS` notes, one per CPU, in CPU order.
    pub fn prstatus(&self) -> &[PrStatus] {
        &self.notes().prstatus
    }

    /// QEMU's per-CPU state notes (QEMU dumps only), in CPU order.
    pub fn qemu_cpu_states(&self) -> &[QemuCpuState] {
        &self.notes().qemu_cpus
    }

    /// The kdump-compressed headers, for kdump files.
    pub fn kdump_header(&self) -> Option<&KdumpHeader> {
        match &self.body {
            Body::Kdump(k) => Some(&k.header),
            Body::Elf(_) => None,
        }
    }

    /// The page size: the kdump block size, else VMCOREINFO's PAGESIZE (a
    /// power of two from 512 bytes to 1 MiB, as kdump block sizes), else
    /// 4096.
    pub fn page_size(&self) -> u64 {
        match &self.body {
            Body::Kdump(k) => k.page_size(),
            Body::Elf(_) => self
                .vmcoreinfo()
                .and_then(VmcoreInfo::page_size)
                .filter(|p| p.is_power_of_two() && (512..=1 << 20).contains(p))
                .unwrap_or(4096),
        }
    }

    /// The kernel's `phys_base` (x86_64): VMCOREINFO's `NUMBER(phys_base)`,
    /// else the kdump sub-header's.
    pub fn phys_base(&self) -> Option<u64> {
        self.vmcoreinfo()
            .and_then(VmcoreInfo::phys_base)
            .or_else(|| self.kdump_header().and_then(|h| h.phys_base))
    }

    /// Physical address ranges present in the dump, sorted and merged where
    /// adjacent: PT_LOAD segments for ELF, dumped pages for kdump files
    /// (excluded pages are not included). For diagnostics.
    pub fn phys_ranges(&self) -> Vec<Range<u64>> {
        match &self.body {
            Body::Elf(e) => {
                let mut out: Vec<Range<u64>> = Vec::new();
                for s in &e.segments {
                    let r = s.paddr..s.paddr.saturating_add(s.memsz);
                    match out.last_mut() {
                        Some(l) if l.end == r.start => l.end = r.end,
                        _ => out.push(r),
                    }
                }
                out
            }
            Body::Kdump(k) => k.dumped_ranges(self.src.as_ref()),
        }
    }
}

impl std::fmt::Debug for Vmcore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vmcore")
            .field("format", &self.format)
            .field("arch", &self.arch)
            .field("len", &self.src.len())
            .finish_non_exhaustive()
    }
}

/// The format of the (possibly unflattened) content.
#[derive(Clone, Copy)]
enum Kind {
    Elf,
    Kdump,
}

impl Kind {
    fn detect(b: &[u8]) -> Option<Kind> {
        if b.starts_with(b"\x7fELF") {
            // The ELF parser checks for ET_CORE and explains otherwise.
            Some(Kind::Elf)
        } else if b.starts_with(kdump::KDUMP_SIGNATURE) {
            Some(Kind::Kdump)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `dump_elf` fuzz target: VMCOREINFO's PAGESIZE was taken
    /// as the page size if a power of two, 1 or 2^62 too (a page buffer is
    /// allocated at that size).
    #[test]
    fn absurd_pagesize_is_ignored() {
        for (text, want) in [
            ("PAGESIZE=2\n", 4096),
            ("PAGESIZE=4611686018427387904\n", 4096),
            ("PAGESIZE=16384\n", 16384),
        ] {
            let mut v = elf::tests::one_page_core(0);
            v[56..58].copy_from_slice(&2u16.to_le_bytes()); // e_phnum
            let mut note = Vec::new();
            note.extend_from_slice(&11u32.to_le_bytes());
            note.extend_from_slice(&(text.len() as u32).to_le_bytes());
            note.extend_from_slice(&0u32.to_le_bytes());
            note.extend_from_slice(b"VMCOREINFO\0\0");
            note.extend_from_slice(text.as_bytes());
            note.resize(note.len().next_multiple_of(4), 0);
            v[0x800..0x800 + note.len()].copy_from_slice(&note);
            let ph = [4u64, 0x800, 0, 0, note.len() as u64, note.len() as u64, 0];
            for (i, w) in ph.iter().enumerate() {
                v[120 + 8 * i..128 + 8 * i].copy_from_slice(&w.to_le_bytes());
            }
            let core = Vmcore::from_bytes(v).unwrap();
            assert!(core.vmcoreinfo().is_some());
            assert_eq!(core.page_size(), want, "{text}");
        }
    }

    #[test]
    fn not_a_dump() {
        let e = Vmcore::from_bytes(b"hello world, not a dump".to_vec()).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("not a crash dump: starts with 68 65 6c"),
            "{msg}"
        );
        assert!(msg.contains("\"hello world, not\""), "{msg}");
        assert!(msg.contains("expected an ELF core"), "{msg}");
        let e = Vmcore::from_bytes(Vec::new()).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }
}

/// Entry points for the fuzz targets in `fuzz/` into parsers that are not
/// public on their own. Not a stable API.
#[doc(hidden)]
pub mod fuzz {
    /// Decompresses `src` as one LZO1X stream into a buffer of `dst_len`
    /// bytes; returns the bytes written, or `None` on an error.
    pub fn lzo(src: &[u8], dst_len: usize) -> Option<usize> {
        let mut dst = vec![0u8; dst_len];
        crate::lzo::decompress(src, &mut dst).ok()
    }

    /// Decompresses one kdump page (`flags` as in a `page_desc`) into a page
    /// of `page_len` bytes.
    pub fn kdump_page(flags: u32, data: &[u8], page_len: usize) -> Result<(), String> {
        let mut page = vec![0u8; page_len];
        crate::kdump::decompress(flags, data, &mut page)
    }

    /// Collects the notes of one ELF note area; returns how many PRSTATUS,
    /// QEMU CPU state and VMCOREINFO notes were understood.
    pub fn note_area(area: &[u8], big_endian: bool, layout64: bool, x86_64: bool) -> usize {
        let mut n = crate::notes::Notes::default();
        n.add_area(area, big_endian, layout64, x86_64);
        n.prstatus.len() + n.qemu_cpus.len() + usize::from(n.vmcoreinfo.is_some())
    }
}
