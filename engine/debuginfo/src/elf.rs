//! The ELF layer: the mapped file, its section table and notes.

use std::path::{Path, PathBuf};

use goblin::container::{Container, Ctx};
use goblin::elf::header::{
    Header, EI_CLASS, EI_DATA, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB,
};
use goblin::elf::section_header::{SectionHeader, SHF_COMPRESSED, SHT_NOBITS, SHT_NOTE};

use crate::error::{Error, Result};

/// What holds the bytes of the file.
pub(crate) enum Backing {
    Mmap(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mmap(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

/// One section of the ELF file.
#[derive(Clone, Debug)]
pub struct SectionInfo {
    /// Section name, e.g. `.orc_unwind`.
    pub name: String,
    /// Link-time virtual address (`sh_addr`); 0 for non-allocated sections.
    pub addr: u64,
    /// Size in bytes (`sh_size`).
    pub size: u64,
    /// Offset in the file (`sh_offset`).
    pub file_offset: u64,
    /// `sh_type`.
    pub sh_type: u32,
    /// `sh_flags`.
    pub flags: u64,
}

impl SectionInfo {
    /// Whether the section occupies no file space (`SHT_NOBITS`, e.g. `.bss`).
    pub fn is_nobits(&self) -> bool {
        self.sh_type == SHT_NOBITS
    }

    /// Whether the section data is compressed (`SHF_COMPRESSED`).
    pub fn is_compressed(&self) -> bool {
        self.flags & u64::from(SHF_COMPRESSED) != 0
    }
}

/// A section's bytes together with its link-time address.
#[derive(Clone, Copy, Debug)]
pub struct Section<'a> {
    /// Link-time address of the first byte.
    pub addr: u64,
    /// The section contents (empty for `SHT_NOBITS`).
    pub data: &'a [u8],
}

/// The parsed section table of the file.
pub(crate) struct ElfFile {
    pub path: PathBuf,
    /// Points into `Backing`, which lives as long as the owning `KernelDebugInfo`.
    pub data: &'static [u8],
    pub ctx: Ctx,
    pub little_endian: bool,
    pub is_64: bool,
    pub machine: u16,
    pub sections: Vec<SectionInfo>,
    pub shdrs: Vec<SectionHeader>,
}

impl ElfFile {
    pub fn parse(path: &Path, data: &'static [u8]) -> Result<ElfFile> {
        let bad = |reason: String| Error::BadElf {
            path: path.to_path_buf(),
            reason,
        };
        if data.len() < 16 || &data[..4] != b"\x7fELF" {
            return Err(bad("no ELF magic".into()));
        }
        let container = match data[EI_CLASS] {
            ELFCLASS64 => Container::Big,
            ELFCLASS32 => Container::Little,
            c => return Err(bad(format!("unknown ELF class {c}"))),
        };
        let little_endian = match data[EI_DATA] {
            ELFDATA2LSB => true,
            ELFDATA2MSB => false,
            d => return Err(bad(format!("unknown ELF data encoding {d}"))),
        };
        let header: Header =
            goblin::elf::Elf::parse_header(data).map_err(|e| bad(format!("ELF header: {e}")))?;
        let endian = if little_endian {
            goblin::container::Endian::Little
        } else {
            goblin::container::Endian::Big
        };
        let ctx = Ctx::new(container, endian);
        let shoff = usize::try_from(header.e_shoff).map_err(|_| bad("e_shoff too large".into()))?;
        if shoff >= data.len() {
            return Err(bad(format!(
                "section header table at {shoff:#x} is beyond the end of the file ({} bytes): truncated file?",
                data.len()
            )));
        }
        let shdrs = SectionHeader::parse(data, shoff, header.e_shnum as usize, ctx)
            .map_err(|e| bad(format!("section headers: {e}")))?;
        let mut shstrndx = header.e_shstrndx as usize;
        if shstrndx == goblin::elf::section_header::SHN_XINDEX as usize {
            shstrndx = shdrs.first().map(|s| s.sh_link as usize).unwrap_or(0);
        }
        let strtab: &[u8] = shdrs
            .get(shstrndx)
            .and_then(|s| slice(data, s.sh_offset, s.sh_size))
            .unwrap_or(&[]);
        let sections = shdrs
            .iter()
            .map(|s| SectionInfo {
                name: cstr_at(strtab, s.sh_name)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default(),
                addr: s.sh_addr,
                size: s.sh_size,
                file_offset: s.sh_offset,
                sh_type: s.sh_type,
                flags: s.sh_flags,
            })
            .collect();
        Ok(ElfFile {
            path: path.to_path_buf(),
            data,
            ctx,
            little_endian,
            is_64: container == Container::Big,
            machine: header.e_machine,
            sections,
            shdrs,
        })
    }

    pub fn section_index(&self, name: &str) -> Option<usize> {
        self.sections.iter().position(|s| s.name == name)
    }

    /// Bytes of a section (empty for NOBITS), or None when out of the file.
    pub fn section_data(&self, idx: usize) -> Option<&'static [u8]> {
        let s = self.sections.get(idx)?;
        if s.is_nobits() {
            return Some(&[]);
        }
        slice(self.data, s.file_offset, s.size)
    }

    pub fn section(&self, name: &str) -> Option<Section<'static>> {
        let idx = self.section_index(name)?;
        Some(Section {
            addr: self.sections[idx].addr,
            data: self.section_data(idx)?,
        })
    }

    /// The GNU build-id from the first NT_GNU_BUILD_ID note in a SHT_NOTE section.
    pub fn build_id(&self) -> Option<&'static [u8]> {
        for (i, s) in self.sections.iter().enumerate() {
            if s.sh_type != SHT_NOTE {
                continue;
            }
            let Some(data) = self.section_data(i) else {
                continue;
            };
            if let Some(id) = find_gnu_build_id(data, self.little_endian) {
                return Some(id);
            }
        }
        None
    }

    /// Bytes at a link-time address, from the file image of an allocated section.
    pub fn read_link_addr(&self, addr: u64, len: usize) -> Option<&'static [u8]> {
        for (i, s) in self.sections.iter().enumerate() {
            if s.addr == 0 || s.is_nobits() || s.flags & 2 == 0 {
                continue; // not SHF_ALLOC or no file bytes
            }
            if addr >= s.addr && addr - s.addr < s.size {
                let off = addr - s.addr;
                let data = self.section_data(i)?;
                let start = usize::try_from(off).ok()?;
                let end = start.checked_add(len)?.min(data.len());
                return data.get(start..end);
            }
        }
        None
    }
}

/// `data[off..off+len]`, checked.
pub(crate) fn slice(data: &[u8], off: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(off).ok()?;
    let len = usize::try_from(len).ok()?;
    data.get(start..start.checked_add(len)?)
}

/// The NUL-terminated string at `off` in a string table.
pub(crate) fn cstr_at(table: &[u8], off: usize) -> Option<&[u8]> {
    let rest = table.get(off..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(&rest[..end])
}

pub(crate) fn find_gnu_build_id(mut data: &[u8], le: bool) -> Option<&[u8]> {
    let rd = |b: &[u8]| -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let align4 = |n: usize| n.checked_add(3).map(|v| v & !3);
    while data.len() >= 12 {
        let namesz = rd(&data[0..4]) as usize;
        let descsz = rd(&data[4..8]) as usize;
        let ntype = rd(&data[8..12]);
        let name_end = 12usize.checked_add(namesz)?;
        let desc_start = align4(name_end)?;
        let desc_end = desc_start.checked_add(descsz)?;
        let name = data.get(12..name_end)?;
        let desc = data.get(desc_start..desc_end)?;
        if ntype == 3 && name == b"GNU\0" {
            return Some(desc);
        }
        let next = align4(desc_end)?;
        data = data.get(next..)?;
    }
    None
}

/// Lower-case hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
