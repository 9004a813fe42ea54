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
        let named = |name: &str, off: u64, module: Option<&str>| {
            let m = module.map(|m| format!(" [{m}]")).unwrap_or_default();
            if off == 0 {
                format!("{name}{m}")
            } else {
                format!("{name}+{off:#x}{m}")
            }
        };
        if let Some((name, off, size)) = self.symbolize(addr) {
            if off < size.max(1) {
                return Some(named(&name, off, None));
            }
        }
        let head = self.symbol_addr("modules").ok()?;
        for m in self.list_entries(head, "struct module", "list").ok()? {
            let Ok(syms) = self.module_symbols(&m) else {
                continue;
            };
            let hit = syms
                .iter()
                .rev()
                .find(|(v, sz, _)| *v <= addr && addr < v + (*sz).max(1));
            if let Some((v, _, name)) = hit {
                let module = m.member("name").and_then(|n| n.string()).ok();
                return Some(named(name, addr - v, module.as_deref()));
            }
        }
        None
    }
}
