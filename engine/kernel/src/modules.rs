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

    /// The kernel's taint mask (as /proc/sys/kernel/tainted).
    pub fn tainted_mask(&self) -> Result<u64> {
        self.global("tainted_mask")?.as_u64()
    }
}
