//! Memory: total and free pages, per-zone watermarks and free pages by
//! order (the buddy allocator's free areas), the global VM counters of
//! /proc/vmstat by the kernel's own names.

use crate::error::{Error, Result};
use crate::Kernel;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneInfo {
    pub node: u32,
    pub name: String,
    pub free: u64,
    pub min: u64,
    pub low: u64,
    pub high: u64,
    pub present: u64,
    /// Free blocks of each order (`free_area[order].nr_free`), order 0
    /// first: blocks, not pages (an order-n block is 2^n pages).
    pub free_blocks: Vec<u64>,
}

impl ZoneInfo {
    /// The highest order with a free block: the largest physically
    /// contiguous request the zone can meet without compaction or reclaim.
    /// None when the zone has no free block at all.
    pub fn largest_free_order(&self) -> Option<u32> {
        self.free_blocks
            .iter()
            .rposition(|&n| n > 0)
            .map(|o| o as u32)
    }
}

/// One global VM counter, by its enumerator's name (`NR_FREE_PAGES`,
/// `NR_SLAB_UNRECLAIMABLE_B`, `NR_ANON_MAPPED`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmStat {
    pub name: String,
    /// As /proc/vmstat prints it: per-CPU drift can leave the global sum
    /// below zero for a moment; that reads as 0.
    pub value: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemorySummary {
    pub totalram_pages: u64,
    pub free_pages: u64,
    pub zones: Vec<ZoneInfo>,
}

impl Kernel {
    pub fn memory(&self) -> Result<MemorySummary> {
        let nr_free = self.enumerator("enum zone_stat_item", "NR_FREE_PAGES")? as u64;
        let totalram_pages = self
            .global("_totalram_pages")?
            .member("counter")?
            .as_u64()?;
        let free_pages = self
            .global("vm_zone_stat")?
            .index(nr_free)?
            .member("counter")?
            .as_u64()?;
        let wmin = self.enumerator("enum zone_watermarks", "WMARK_MIN")? as u64;
        let wlow = self.enumerator("enum zone_watermarks", "WMARK_LOW")? as u64;
        let whigh = self.enumerator("enum zone_watermarks", "WMARK_HIGH")? as u64;
        let mut zones = Vec::new();
        let nodes: Vec<(u32, crate::Object<'_>)> = if self.has_global("node_data") {
            let nd = self.global("node_data")?;
            let mut v = Vec::new();
            for nid in 0..1024u32 {
                let Ok(p) = nd.index(nid as u64) else { break };
                if p.as_u64()? == 0 {
                    continue;
                }
                v.push((nid, p.deref()?));
            }
            v
        } else {
            vec![(0, self.global("contig_page_data")?)]
        };
        for (nid, pgdat) in nodes {
            let zs = pgdat.member("node_zones")?;
            let n = match zs.resolved()?.kind {
                kdebuginfo::TypeKind::Array { count: Some(c), .. } => c,
                _ => 0,
            };
            for i in 0..n {
                let z = zs.index(i)?;
                let present = z.member("present_pages")?.as_u64()?;
                if present == 0 {
                    continue;
                }
                let wm = z.member("_watermark")?;
                zones.push(ZoneInfo {
                    node: nid,
                    name: z.member("name")?.string()?,
                    free: z
                        .member("vm_stat")?
                        .index(nr_free)?
                        .member("counter")?
                        .as_u64()?,
                    min: wm.index(wmin)?.as_u64()?,
                    low: wm.index(wlow)?.as_u64()?,
                    high: wm.index(whigh)?.as_u64()?,
                    present,
                    free_blocks: free_blocks(&z)?,
                });
            }
        }
        Ok(MemorySummary {
            totalram_pages,
            free_pages,
            zones,
        })
    }
}

/// A zone's free blocks by order, from its `free_area[]` (as long as this
/// kernel's MAX_ORDER makes it).
fn free_blocks(zone: &crate::Object<'_>) -> Result<Vec<u64>> {
    let fa = zone.member("free_area")?;
    let n = match fa.resolved()?.kind {
        kdebuginfo::TypeKind::Array { count: Some(c), .. } => c.min(64),
        _ => return Err(Error::Type("zone.free_area is not an array".into())),
    };
    (0..n)
        .map(|o| fa.index(o)?.member("nr_free")?.as_u64())
        .collect()
}

impl Kernel {
    /// The global VM counters, zone items (`vm_zone_stat`, enum
    /// zone_stat_item) then node items (`vm_node_stat`, enum
    /// node_stat_item), named by this kernel's enumerators; the counts'
    /// sentinels (`NR_VM_*_ITEMS`) excluded.
    pub fn vm_stats(&self) -> Result<Vec<VmStat>> {
        let mut out = Vec::new();
        for (array, items) in [
            ("vm_zone_stat", "enum zone_stat_item"),
            ("vm_node_stat", "enum node_stat_item"),
        ] {
            let a = self.global(array)?;
            let len = match a.resolved()?.kind {
                kdebuginfo::TypeKind::Array { count: Some(c), .. } => c,
                _ => return Err(Error::Type(format!("{array} is not an array"))),
            };
            for (name, v) in self.enumerators(items)? {
                if name.starts_with("NR_VM_") && name.ends_with("_ITEMS") {
                    continue;
                }
                let Ok(i) = u64::try_from(v) else { continue };
                if i >= len {
                    continue;
                }
                let value = a.index(i)?.member("counter")?.as_i64()?;
                out.push(VmStat {
                    name,
                    value: value.max(0) as u64,
                });
            }
        }
        Ok(out)
    }
}

/// The unit a VM counter counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Pages,
    KiB,
}

/// What memory is used for, as /proc/meminfo sums it up: a label and the
/// VM counters that give it, newest name first. The `_B` slab counters
/// (5.9 and later) are named for bytes but the global array holds them in
/// pages, as for every other node item (`__mod_node_page_state` shifts
/// byte deltas by PAGE_SHIFT); some kernels name the page-table counter
/// `NR_PAGETABLE_PAGES`.
const MEMORY_USE: &[(&str, &[&str], Unit)] = &[
    ("anon", &["NR_ANON_MAPPED"], Unit::Pages),
    ("file", &["NR_FILE_PAGES"], Unit::Pages),
    ("shmem", &["NR_SHMEM"], Unit::Pages),
    (
        "page tables",
        &["NR_PAGETABLE", "NR_PAGETABLE_PAGES"],
        Unit::Pages,
    ),
    ("kernel stacks", &["NR_KERNEL_STACK_KB"], Unit::KiB),
    (
        "slab reclaimable",
        &["NR_SLAB_RECLAIMABLE_B", "NR_SLAB_RECLAIMABLE"],
        Unit::Pages,
    ),
    (
        "slab unreclaimable",
        &["NR_SLAB_UNRECLAIMABLE_B", "NR_SLAB_UNRECLAIMABLE"],
        Unit::Pages,
    ),
];

/// What memory is used for, in bytes, from the VM counters (`stat` looks
/// one up by its enumerator's name, as [`Kernel::vm_stats`] names them);
/// a use whose counters this kernel does not have is left out.
pub fn memory_use(stat: impl Fn(&str) -> Option<u64>, page_size: u64) -> Vec<(&'static str, u64)> {
    MEMORY_USE
        .iter()
        .filter_map(|&(label, names, unit)| {
            let v = names.iter().find_map(|n| stat(n))?;
            let bytes = match unit {
                Unit::Pages => v.saturating_mul(page_size),
                Unit::KiB => v.saturating_mul(1024),
            };
            Some((label, bytes))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_use_reads_each_counter_in_its_unit() {
        let stats = [
            ("NR_ANON_MAPPED", 10),
            ("NR_KERNEL_STACK_KB", 3),
            ("NR_SLAB_RECLAIMABLE", 2),
        ];
        let stat = |n: &str| stats.iter().find(|(s, _)| *s == n).map(|(_, v)| *v);
        assert_eq!(
            memory_use(stat, 4096),
            vec![
                ("anon", 40_960),
                ("kernel stacks", 3072),
                ("slab reclaimable", 8192)
            ]
        );
    }
}
