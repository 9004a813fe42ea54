//! x86_64 virtual → physical translation: the kernel text mapping, the direct
//! map, and a page-table walk (4- or 5-level) for everything else.

use crate::error::{Error, Result};
use vmcore::Vmcore;

pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
const PRESENT: u64 = 1;
const PSE: u64 = 1 << 7;
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

/// Walks the kernel's page tables from a root (the physical address of
/// `init_top_pgt`), reading entries from the dump.
#[derive(Debug, Clone)]
pub struct PageTableWalker {
    pub root: u64,
    pub levels: u32,
}

impl PageTableWalker {
    pub fn translate(&self, dump: &Vmcore, vaddr: u64) -> Result<u64> {
        let mut table = self.root & ADDR_MASK;
        let shifts: &[u32] = if self.levels == 5 {
            &[48, 39, 30, 21, 12]
        } else {
            &[39, 30, 21, 12]
        };
        for (i, &shift) in shifts.iter().enumerate() {
            let idx = (vaddr >> shift) & 0x1ff;
            let mut e = [0u8; 8];
            dump.read_phys(table + idx * 8, &mut e)
                .map_err(|err| Error::Translate {
                    vaddr,
                    reason: format!("page table at {:#x} unreadable: {err}", table),
                })?;
            let entry = u64::from_le_bytes(e);
            if entry & PRESENT == 0 {
                return Err(Error::Translate {
                    vaddr,
                    reason: format!("not mapped (level-{} entry {entry:#x})", shifts.len() - i),
                });
            }
            // A huge page at the PUD (1 GiB) or PMD (2 MiB) level.
            if (shift == 30 || shift == 21) && entry & PSE != 0 {
                let mask = (1u64 << shift) - 1;
                return Ok((entry & ADDR_MASK & !mask) | (vaddr & mask));
            }
            table = entry & ADDR_MASK;
        }
        Ok(table | (vaddr & 0xfff))
    }
}
