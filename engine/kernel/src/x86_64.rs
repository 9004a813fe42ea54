//! x86_64 virtual → physical translation: the kernel text mapping, the direct
//! map, and a page-table walk (4- or 5-level) for everything else.

use crate::error::{Error, Result};
use vmcore::Vmcore;

pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
const PRESENT: u64 = 1;
const PSE: u64 = 1 << 7;
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

/// One entry a page-table walk read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageTableStep {
    /// 5 (P4D with 5 levels) or 4 (PGD) down to 1 (PTE).
    pub level: u32,
    /// The entry's physical address.
    pub entry_addr: u64,
    pub entry: u64,
}

/// Walks the kernel's page tables from a root (the physical address of
/// `init_top_pgt`), reading entries from the dump.
#[derive(Debug, Clone)]
pub struct PageTableWalker {
    pub root: u64,
    pub levels: u32,
}

impl PageTableWalker {
    pub fn translate(&self, dump: &Vmcore, vaddr: u64) -> Result<u64> {
        self.translate_with(
            |pa, buf| dump.read_phys(pa, buf).map_err(|e| e.to_string()),
            vaddr,
        )
    }

    /// The walk over any physical memory (the dump, or a test's).
    pub fn translate_with(
        &self,
        read_phys: impl Fn(u64, &mut [u8]) -> std::result::Result<(), String>,
        vaddr: u64,
    ) -> Result<u64> {
        self.walk(read_phys, vaddr, &mut |_| {})
    }

    /// The walk as crash's `vtop` shows it: each entry read, top level first.
    pub fn steps_with(
        &self,
        read_phys: impl Fn(u64, &mut [u8]) -> std::result::Result<(), String>,
        vaddr: u64,
    ) -> (Vec<PageTableStep>, Result<u64>) {
        let mut steps = Vec::new();
        let r = self.walk(read_phys, vaddr, &mut |s| steps.push(s));
        (steps, r)
    }

    fn walk(
        &self,
        read_phys: impl Fn(u64, &mut [u8]) -> std::result::Result<(), String>,
        vaddr: u64,
        step: &mut dyn FnMut(PageTableStep),
    ) -> Result<u64> {
        let mut table = self.root & ADDR_MASK;
        let shifts: &[u32] = if self.levels == 5 {
            &[48, 39, 30, 21, 12]
        } else {
            &[39, 30, 21, 12]
        };
        for (i, &shift) in shifts.iter().enumerate() {
            let idx = (vaddr >> shift) & 0x1ff;
            let mut e = [0u8; 8];
            read_phys(table + idx * 8, &mut e).map_err(|err| Error::Translate {
                vaddr,
                reason: format!("page table at {:#x} unreadable: {err}", table),
            })?;
            let entry = u64::from_le_bytes(e);
            step(PageTableStep {
                level: (shifts.len() - i) as u32,
                entry_addr: table + idx * 8,
                entry,
            });
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Sparse physical memory of 8-byte entries.
    struct Phys(HashMap<u64, u64>);

    impl Phys {
        fn read(&self, pa: u64, buf: &mut [u8]) -> std::result::Result<(), String> {
            let v = self.0.get(&pa).copied().unwrap_or(0);
            buf.copy_from_slice(&v.to_le_bytes()[..buf.len()]);
            Ok(())
        }
    }

    fn idx(va: u64, shift: u32) -> u64 {
        (va >> shift) & 0x1ff
    }

    #[test]
    fn four_level_4k_2m_1g_and_holes() {
        let va4k = 0xffff_c900_0012_3456u64; // vmalloc-like
        let va2m = 0xffff_ea00_0040_1234u64; // vmemmap-like, a 2 MiB page
        let va1g = 0xffff_8880_4000_5678u64; // direct map, a 1 GiB page
        let mut m = HashMap::new();
        let (pgd, pud, pmd, pte) = (0x1000u64, 0x2000u64, 0x3000u64, 0x4000u64);
        m.insert(pgd + idx(va4k, 39) * 8, pud | 0x63);
        m.insert(pud + idx(va4k, 30) * 8, pmd | 0x63);
        m.insert(pmd + idx(va4k, 21) * 8, pte | 0x63);
        m.insert(pte + idx(va4k, 12) * 8, 0x7654_3000 | 0x63);
        let (pud2, pmd2) = (0x5000u64, 0x6000u64);
        m.insert(pgd + idx(va2m, 39) * 8, pud2 | 0x63);
        m.insert(pud2 + idx(va2m, 30) * 8, pmd2 | 0x63);
        m.insert(pmd2 + idx(va2m, 21) * 8, 0x1_2340_0000 | PSE | 0x63);
        let pud3 = 0x7000u64;
        m.insert(pgd + idx(va1g, 39) * 8, pud3 | 0x63);
        m.insert(pud3 + idx(va1g, 30) * 8, 0x2_8000_0000 | PSE | 0x63);
        let phys = Phys(m);
        let w = PageTableWalker {
            root: pgd,
            levels: 4,
        };
        let t = |va| w.translate_with(|pa, b| phys.read(pa, b), va);
        assert_eq!(t(va4k).unwrap(), 0x7654_3456);
        assert_eq!(t(va2m).unwrap(), 0x1_2340_0000 | (va2m & 0x1f_ffff));
        assert_eq!(t(va1g).unwrap(), 0x2_8000_0000 | (va1g & 0x3fff_ffff));
        // vtop: the entries read, top level first; a huge page ends early.
        let (steps, end) = w.steps_with(|pa, b| phys.read(pa, b), va4k);
        assert_eq!(end.unwrap(), 0x7654_3456);
        let levels: Vec<(u32, u64)> = steps.iter().map(|s| (s.level, s.entry_addr)).collect();
        assert_eq!(
            levels,
            [
                (4, pgd + idx(va4k, 39) * 8),
                (3, pud + idx(va4k, 30) * 8),
                (2, pmd + idx(va4k, 21) * 8),
                (1, pte + idx(va4k, 12) * 8)
            ]
        );
        let (steps, _) = w.steps_with(|pa, b| phys.read(pa, b), va2m);
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[2].entry, 0x1_2340_0000 | PSE | 0x63);
        let err = t(0xffff_c900_0000_0000).unwrap_err().to_string();
        assert!(
            err.contains("0xffffc90000000000") && err.contains("not mapped"),
            "{err}"
        );
    }

    #[test]
    fn five_level() {
        let va = 0xff11_0000_0123_4567u64;
        let tables = [0x1000u64, 0x2000, 0x3000, 0x4000, 0x5000];
        let shifts = [48u32, 39, 30, 21, 12];
        let mut m = HashMap::new();
        for i in 0..5 {
            let next = if i < 4 { tables[i + 1] } else { 0xabc_d000 };
            m.insert(tables[i] + idx(va, shifts[i]) * 8, next | 0x63);
        }
        let phys = Phys(m);
        let w = PageTableWalker {
            root: tables[0],
            levels: 5,
        };
        assert_eq!(
            w.translate_with(|pa, b| phys.read(pa, b), va).unwrap(),
            0xabc_d567
        );
        // The same tables read as 4-level give a different (unmapped) walk.
        let w4 = PageTableWalker {
            root: tables[0],
            levels: 4,
        };
        assert!(w4.translate_with(|pa, b| phys.read(pa, b), va).is_err());
    }

    #[test]
    fn unreadable_table_is_an_error_naming_the_address() {
        let w = PageTableWalker {
            root: 0x1000,
            levels: 4,
        };
        let err = w
            .translate_with(|_, _| Err("page excluded".into()), 0xffff_8880_0000_1000)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("0xffff888000001000") && err.contains("page excluded"),
            "{err}"
        );
    }
}
