//! Loaded modules.

use crate::error::Result;
use crate::Kernel;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    pub name: String,
    pub base: u64,
    pub size: u64,
    pub taints: u64,
}

impl Kernel {
    pub fn modules(&self) -> Result<Vec<ModuleInfo>> {
        let head = self.symbol_addr("modules")?;
        let mut out = Vec::new();
        for m in self.list_entries(head, "struct module", "list")? {
            // 6.4 replaced core_layout with mem[MOD_TEXT].
            let (base, size) = if m.has_member("core_layout") {
                (
                    m.member("core_layout.base")?.as_u64()?,
                    m.member("core_layout.size")?.as_u64()?,
                )
            } else {
                let t = m.member("mem")?.index(0)?;
                (t.member("base")?.as_u64()?, t.member("size")?.as_u64()?)
            };
            out.push(ModuleInfo {
                name: m.member("name")?.string()?,
                base,
                size,
                taints: m.member("taints")?.as_u64()?,
            });
        }
        Ok(out)
    }
}

/// A symbol of a module's own table: (address, size, name).
pub type ModuleSymbol = (u64, u64, String);

impl Kernel {
    /// A module's symbol table (`mod->kallsyms`: functions and data, local
    /// ones included), sorted by address. `m` is a `struct module`.
    pub fn module_symbols(&self, m: &crate::Object<'_>) -> Result<Vec<ModuleSymbol>> {
        let ks = m.member("kallsyms")?;
        let symtab = ks.member("symtab")?.as_u64()?;
        let num = ks.member("num_symtab")?.as_u64()? as usize;
        let strtab = ks.member("strtab")?.as_u64()?;
        if num > 1 << 20 {
            return Err(crate::Error::Type(format!(
                "module symbol table of {num} entries is implausible"
            )));
        }
        // Elf64_Sym: st_name u32, info, other, shndx u16, st_value, st_size.
        let mut b = vec![0u8; 24 * num];
        self.read(symtab, &mut b)?;
        let mut out = Vec::new();
        for s in b.chunks_exact(24) {
            let name_off = u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as u64;
            let value = u64::from_le_bytes(s[8..16].try_into().unwrap_or_default());
            let size = u64::from_le_bytes(s[16..24].try_into().unwrap_or_default());
            if name_off == 0 || value == 0 {
                continue;
            }
            if let Ok(n) = self.read_cstr(strtab + name_off, 256) {
                if !n.is_empty() && !n.starts_with('$') {
                    out.push((value, size, n));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The global an address lies in, as `name`, `name+0x10`, or
    /// `name [module]` for a module's variable; `None` for heap memory.
    pub fn data_symbol(&self, addr: u64) -> Option<String> {
        self.symbol_of(addr).map(|s| s.to_string())
    }

    /// The symbol an address lies in — a function or a variable, of the
    /// vmlinux or of a loaded module (from its own symbol table, as the
    /// unwinder names a module's frames) — with the offset into it; `None`
    /// for heap memory. Every printer of a code or data address names it
    /// here: [`Kernel::symbolize`] knows the vmlinux alone, and names a
    /// module's function as the last vmlinux symbol plus a huge offset.
    pub fn symbol_of(&self, addr: u64) -> Option<DataSymbol> {
        if let Some((name, offset, size)) = self.symbolize(addr) {
            if offset < size.max(1) {
                return Some(DataSymbol {
                    name,
                    offset,
                    module: None,
                });
            }
        }
        for (module, syms) in self.module_symbol_tables() {
            // Sorted by address: the last symbol starting at or below it.
            let i = syms.partition_point(|(v, _, _)| *v <= addr);
            let hit = syms[..i]
                .iter()
                .rev()
                .find(|(v, sz, _)| addr < v + (*sz).max(1));
            if let Some((v, _, name)) = hit {
                return Some(DataSymbol {
                    name: name.clone(),
                    offset: addr - v,
                    module: Some(module.clone()),
                });
            }
        }
        None
    }

    /// Every loaded module's name and symbol table, read once per dump; a
    /// module whose table cannot be read is left out.
    fn module_symbol_tables(&self) -> &[(String, Vec<ModuleSymbol>)] {
        self.module_syms.get_or_init(|| {
            let Ok(head) = self.symbol_addr("modules") else {
                return Vec::new();
            };
            let Ok(list) = self.list_entries(head, "struct module", "list") else {
                return Vec::new();
            };
            list.iter()
                .filter_map(|m| {
                    let name = m.member("name").and_then(|n| n.string()).ok()?;
                    Some((name, self.module_symbols(m).ok()?))
                })
                .collect()
        })
    }
}

/// Where an address lies: a symbol, the offset into it, and the module that
/// defines it (None for the kernel itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSymbol {
    pub name: String,
    pub offset: u64,
    pub module: Option<String>,
}

impl std::fmt::Display for DataSymbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if self.offset != 0 {
            write!(f, "+{:#x}", self.offset)?;
        }
        if let Some(m) = &self.module {
            write!(f, " [{m}]")?;
        }
        Ok(())
    }
}
