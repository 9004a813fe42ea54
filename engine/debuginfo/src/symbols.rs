//! The ELF symbol table, indexed by name and by address.

use std::collections::HashMap;

use goblin::elf::section_header::SHT_SYMTAB;
use goblin::elf::sym::{self, Symtab};

use crate::elf::{cstr_at, slice, ElfFile};
use crate::error::{Error, Result};
use crate::hash::FxBuildHasher;

/// What a symbol names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SymbolKind {
    /// `STT_FUNC`.
    Function,
    /// `STT_OBJECT` (and `STT_TLS`, `STT_COMMON`).
    Object,
    /// `STT_NOTYPE`: assembler labels such as `_stext`.
    NoType,
}

/// One symbol. Addresses are link-time: callers add the KASLR offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol<'a> {
    pub name: &'a str,
    pub addr: u64,
    pub size: u64,
    pub kind: SymbolKind,
    /// `STB_GLOBAL` or `STB_WEAK` rather than `STB_LOCAL`.
    pub global: bool,
}

/// The result of an address lookup: the nearest symbol at or below the address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SymbolOffset<'a> {
    pub symbol: Symbol<'a>,
    /// `addr - symbol.addr`. When `symbol.size > 0` and `offset >= size` the
    /// address lies in a gap after the symbol (like kallsyms would still say).
    pub offset: u64,
}

#[derive(Clone, Copy)]
struct Raw {
    name: &'static str,
    addr: u64,
    size: u64,
    kind: SymbolKind,
    global: bool,
    /// The section the symbol is defined in (`st_shndx`).
    shndx: u32,
    /// For a local symbol, which `STT_FILE` group of the table it follows
    /// (the linker writes each object file's locals after its name); else
    /// `NO_FILE`.
    file: u32,
    /// Position in the ELF table: the last tie-break of the sort.
    seq: u32,
}

const NO_FILE: u32 = u32::MAX;

impl Raw {
    fn sym(&self) -> Symbol<'static> {
        Symbol {
            name: self.name,
            addr: self.addr,
            size: self.size,
            kind: self.kind,
            global: self.global,
        }
    }
    /// Higher is preferred when several symbols share an address.
    fn rank(&self) -> u8 {
        let k = match self.kind {
            SymbolKind::Function => 4,
            SymbolKind::Object => 4,
            SymbolKind::NoType => 0,
        };
        k + u8::from(self.global) * 2 + u8::from(self.size > 0)
    }
}

/// The symbol table: sorted by address, hashed by name.
pub struct SymbolTable {
    by_addr: Vec<Raw>,
    by_name: HashMap<&'static str, u32, FxBuildHasher>,
    /// Per `STT_FILE` group, the address of one of its local functions
    /// (0: none): `.debug_aranges` maps it to the object's DWARF unit.
    file_text: Vec<u64>,
}

impl SymbolTable {
    pub(crate) fn build(elf: &ElfFile) -> Result<SymbolTable> {
        let idx = elf
            .shdrs
            .iter()
            .position(|s| s.sh_type == SHT_SYMTAB)
            .ok_or_else(|| Error::NoSymtab {
                path: elf.path.clone(),
            })?;
        let sh = &elf.shdrs[idx];
        let entsize = sym::Sym::size(elf.ctx.container) as u64;
        let count = (sh.sh_size / entsize) as usize;
        let bad = |reason: String| Error::BadElf {
            path: elf.path.clone(),
            reason,
        };
        let symtab = Symtab::parse(elf.data, sh.sh_offset as usize, count, elf.ctx)
            .map_err(|e| bad(format!("symbol table: {e}")))?;
        // Without its strings the table would look empty, and every name
        // absent: an error instead.
        let strtab: &'static [u8] = elf
            .shdrs
            .get(sh.sh_link as usize)
            .and_then(|s| slice(elf.data, s.sh_offset, s.sh_size))
            .ok_or_else(|| bad("the symbol table's string table is missing or cut short".into()))?;
        let mut by_addr = Vec::with_capacity(count);
        let mut file_text: Vec<u64> = Vec::new();
        let mut unnamed = 0usize;
        for s in symtab.iter() {
            if s.st_type() == sym::STT_FILE {
                file_text.push(0);
                continue;
            }
            let global = s.st_bind() != sym::STB_LOCAL;
            let file = match file_text.len() {
                n if n > 0 && !global => (n - 1) as u32,
                _ => NO_FILE,
            };
            let kind = match s.st_type() {
                sym::STT_FUNC | sym::STT_GNU_IFUNC => SymbolKind::Function,
                sym::STT_OBJECT | sym::STT_TLS | sym::STT_COMMON => SymbolKind::Object,
                sym::STT_NOTYPE => SymbolKind::NoType,
                _ => continue, // sections, files
            };
            if s.st_shndx == 0 {
                continue; // undefined
            }
            let Some(name) = cstr_at(strtab, s.st_name).and_then(|b| std::str::from_utf8(b).ok())
            else {
                unnamed += 1;
                continue;
            };
            if name.is_empty() {
                continue;
            }
            if kind == SymbolKind::Function && file != NO_FILE && file_text[file as usize] == 0 {
                file_text[file as usize] = s.st_value;
            }
            by_addr.push(Raw {
                name,
                addr: s.st_value,
                size: s.st_size,
                kind,
                global,
                shndx: s.st_shndx as u32,
                file,
                seq: by_addr.len() as u32,
            });
        }
        if by_addr.is_empty() && unnamed > 0 {
            return Err(bad(format!(
                "none of its {unnamed} symbols has a readable name"
            )));
        }
        // Within one address, the preferred symbol sorts last so that a
        // "last entry <= addr" search finds it.
        by_addr.sort_unstable_by_key(|r| (r.addr, r.rank(), r.seq));
        let mut by_name: HashMap<&'static str, u32, FxBuildHasher> =
            HashMap::with_capacity_and_hasher(by_addr.len(), FxBuildHasher);
        for (i, r) in by_addr.iter().enumerate() {
            by_name
                .entry(r.name)
                .and_modify(|old| {
                    if by_addr[*old as usize].rank() < r.rank() {
                        *old = i as u32;
                    }
                })
                .or_insert(i as u32);
        }
        Ok(SymbolTable {
            by_addr,
            by_name,
            file_text,
        })
    }

    /// Code addresses that bracket the object file defining a symbol, in
    /// link order, which is also the order of the DWARF units: the code of
    /// the symbol's own file (a local symbol), else of the nearest files
    /// around it, found through the local symbols next to it in the same
    /// section (a global one: its neighbours in memory come from the files
    /// linked around it). A hint only: the caller checks what it finds.
    pub fn defining_file_text(&self, name: &str) -> Option<(u64, u64)> {
        const NEIGHBOURS: usize = 64;
        let &i = self.by_name.get(name)?;
        let r = &self.by_addr[i as usize];
        let text_of = |file: u32, down: bool| -> Option<u64> {
            // The nearest file, that way, with code of its own.
            let n = self.file_text.len() as i64;
            let mut f = file as i64;
            for _ in 0..NEIGHBOURS {
                if f < 0 || f >= n {
                    return None;
                }
                match self.file_text[f as usize] {
                    0 => f += if down { -1 } else { 1 },
                    t => return Some(t),
                }
            }
            None
        };
        if r.file != NO_FILE {
            return Some((text_of(r.file, true)?, text_of(r.file, false)?));
        }
        let near = |it: &mut dyn Iterator<Item = &Raw>| {
            it.take(NEIGHBOURS)
                .find(|o| o.file != NO_FILE && o.shndx == r.shndx)
                .map(|o| o.file)
        };
        let below = near(&mut self.by_addr[..i as usize].iter().rev())?;
        let above = near(&mut self.by_addr[i as usize + 1..].iter())?;
        Some((text_of(below, true)?, text_of(above, false)?))
    }

    /// Number of symbols indexed.
    pub fn len(&self) -> usize {
        self.by_addr.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }

    /// The symbol of that name (a global one when there are several).
    pub fn lookup(&self, name: &str) -> Option<Symbol<'_>> {
        self.by_name
            .get(name)
            .map(|&i| self.by_addr[i as usize].sym())
    }

    /// The symbol of a link-time address: the innermost sized symbol that
    /// contains it (a zero-sized label inside a function does not win), else
    /// the nearest symbol at or below it.
    pub fn symbolize(&self, addr: u64) -> Option<SymbolOffset<'_>> {
        // How far back a containing symbol is looked for: past the labels
        // and small objects that can sit between a function's start and pc.
        const SCAN: usize = 128;
        let n = self.by_addr.partition_point(|r| r.addr <= addr);
        let nearest = self.by_addr[..n].last()?;
        let chosen = self.by_addr[..n]
            .iter()
            .rev()
            .take(SCAN)
            .find(|r| r.size > 0 && addr - r.addr < r.size)
            .unwrap_or(nearest);
        Some(SymbolOffset {
            symbol: chosen.sym(),
            offset: addr - chosen.addr,
        })
    }

    /// All symbols, sorted by address.
    pub fn iter(&self) -> impl Iterator<Item = Symbol<'_>> + '_ {
        self.by_addr.iter().map(|r| -> Symbol<'_> { r.sym() })
    }
}
