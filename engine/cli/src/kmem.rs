//! `vmtriage kmem`: memory as crash's `kmem -i`, `-z`, `-f` and `-s` show
//! it — totals, each zone's free pages, watermarks and free blocks by order,
//! the VM counters of /proc/vmstat, and the slab caches of /proc/slabinfo.

use std::fmt::Write;

use kmodel::Kernel;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ZoneRow {
    pub node: u32,
    pub name: String,
    pub present: u64,
    pub free: u64,
    pub min: u64,
    pub low: u64,
    pub high: u64,
    /// Free blocks of each order, order 0 first.
    pub free_blocks: Vec<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlabRow {
    pub name: String,
    pub object_size: u64,
    pub size: u64,
    pub num_slabs: Option<u64>,
    pub num_objs: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KmemReport {
    pub page_size: u64,
    pub totalram_pages: u64,
    pub free_pages: u64,
    pub zones: Vec<ZoneRow>,
    /// /proc/vmstat's counters by the kernel's names, in its order.
    pub vm_stats: Vec<(String, u64)>,
    pub slab_caches: Vec<SlabRow>,
}

pub fn kmem(k: &Kernel) -> kmodel::Result<KmemReport> {
    let m = k.memory()?;
    Ok(KmemReport {
        page_size: k.dump.page_size(),
        totalram_pages: m.totalram_pages,
        free_pages: m.free_pages,
        zones: m
            .zones
            .into_iter()
            .map(|z| ZoneRow {
                node: z.node,
                name: z.name,
                present: z.present,
                free: z.free,
                min: z.min,
                low: z.low,
                high: z.high,
                free_blocks: z.free_blocks,
            })
            .collect(),
        vm_stats: k
            .vm_stats()?
            .into_iter()
            .map(|s| (s.name, s.value))
            .collect(),
        slab_caches: k
            .slab_caches()?
            .into_iter()
            .map(|c| SlabRow {
                name: c.name,
                object_size: c.object_size,
                size: c.size,
                num_slabs: c.num_slabs,
                num_objs: c.num_objs,
            })
            .collect(),
    })
}

fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// How many slab caches the text shows (largest first); JSON has all.
const TOP_SLABS: usize = 15;

pub fn kmem_text(r: &KmemReport) -> String {
    let ps = r.page_size;
    let mut s = String::new();
    let pct = |n: u64| {
        if r.totalram_pages == 0 {
            0.0
        } else {
            n as f64 * 100.0 / r.totalram_pages as f64
        }
    };
    let _ = writeln!(
        s,
        "MEMORY  total {} ({} pages), free {} ({} pages, {:.1}%)",
        size(r.totalram_pages * ps),
        r.totalram_pages,
        size(r.free_pages * ps),
        r.free_pages,
        pct(r.free_pages)
    );
    let stat = |name: &str| r.vm_stats.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    let parts: Vec<String> = kmodel::mm::memory_use(stat, ps)
        .into_iter()
        .map(|(label, bytes)| format!("{label} {}", size(bytes)))
        .collect();
    if !parts.is_empty() {
        let _ = writeln!(s, "        {}", parts.join(", "));
    }
    s += "\nZONE           PRESENT       FREE        MIN        LOW       HIGH  FREE BLOCKS BY ORDER (0..)\n";
    for z in &r.zones {
        let _ = writeln!(
            s,
            "{:<10} {:>11} {:>10} {:>10} {:>10} {:>10}  {}{}",
            format!("{}:{}", z.node, z.name),
            z.present,
            z.free,
            z.min,
            z.low,
            z.high,
            z.free_blocks
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            if z.free <= z.min {
                "  below min"
            } else if z.free <= z.high {
                "  below high"
            } else {
                ""
            }
        );
    }
    let mut caches: Vec<&SlabRow> = r.slab_caches.iter().collect();
    caches.sort_by_key(|c| std::cmp::Reverse(c.num_objs.unwrap_or(0) * c.size));
    let _ = writeln!(
        s,
        "\nSLAB CACHE            OBJSIZE   SIZE     OBJS  SLABS   MEMORY   (largest {} of {})",
        TOP_SLABS.min(caches.len()),
        caches.len()
    );
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    for c in caches.iter().take(TOP_SLABS) {
        let _ = writeln!(
            s,
            "{:<20} {:>8} {:>6} {:>8} {:>6} {:>8}",
            c.name,
            c.object_size,
            c.size,
            opt(c.num_objs),
            opt(c.num_slabs),
            c.num_objs.map_or("-".into(), |n| size(n * c.size))
        );
    }
    s
}

/// `vtop`: a page-table walk, entry by entry.
#[derive(Debug, Clone, Serialize)]
pub struct VtopReport {
    pub vaddr: String,
    /// (level, entry's physical address, entry), top level first.
    pub steps: Vec<(u32, String, String)>,
    /// The physical address, or why the walk stopped.
    pub paddr: Option<String>,
    pub error: Option<String>,
}

impl VtopReport {
    pub fn new(
        vaddr: u64,
        steps: &[kmodel::x86_64::PageTableStep],
        end: kmodel::Result<u64>,
    ) -> VtopReport {
        VtopReport {
            vaddr: format!("{vaddr:#x}"),
            steps: steps
                .iter()
                .map(|s| {
                    (
                        s.level,
                        format!("{:#x}", s.entry_addr),
                        format!("{:#x}", s.entry),
                    )
                })
                .collect(),
            paddr: end.as_ref().ok().map(|p| format!("{p:#x}")),
            error: end.err().map(|e| e.to_string()),
        }
    }
}

pub fn vtop_text(r: &VtopReport) -> String {
    const NAMES: [&str; 6] = ["", "PTE", "PMD", "PUD", "PGD", "P4D"];
    let mut s = format!(
        "VIRTUAL {}
",
        r.vaddr
    );
    for (level, at, entry) in &r.steps {
        let name = NAMES.get(*level as usize).copied().unwrap_or("?");
        let _ = writeln!(s, "  {name:<4} entry at {at:>18}: {entry}");
    }
    match (&r.paddr, &r.error) {
        (Some(p), _) => {
            let _ = writeln!(s, "PHYSICAL {p}");
        }
        (None, Some(e)) => {
            let _ = writeln!(s, "not translated: {e}");
        }
        (None, None) => {}
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> KmemReport {
        KmemReport {
            page_size: 4096,
            totalram_pages: 120_000,
            free_pages: 3_100,
            zones: vec![
                ZoneRow {
                    node: 0,
                    name: "DMA".into(),
                    present: 3998,
                    free: 900,
                    min: 30,
                    low: 37,
                    high: 44,
                    free_blocks: vec![0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 3],
                },
                ZoneRow {
                    node: 0,
                    name: "DMA32".into(),
                    present: 126_942,
                    free: 2_200,
                    min: 1_000,
                    low: 1_250,
                    high: 2_400,
                    free_blocks: vec![310, 101, 20, 4, 0, 0, 0, 0, 0, 0, 0],
                },
            ],
            vm_stats: vec![
                ("NR_FREE_PAGES".into(), 3_100),
                ("NR_ANON_MAPPED".into(), 90_000),
                ("NR_FILE_PAGES".into(), 4_000),
                ("NR_SHMEM".into(), 120),
                ("NR_KERNEL_STACK_KB".into(), 2_048),
                ("NR_PAGETABLE".into(), 400),
                ("NR_SLAB_RECLAIMABLE_B".into(), 1_200),
                ("NR_SLAB_UNRECLAIMABLE_B".into(), 3_000),
            ],
            slab_caches: vec![
                SlabRow {
                    name: "kmalloc-64".into(),
                    object_size: 64,
                    size: 64,
                    num_slabs: Some(40),
                    num_objs: Some(2560),
                },
                SlabRow {
                    name: "task_struct".into(),
                    object_size: 9_792,
                    size: 9_856,
                    num_slabs: Some(30),
                    num_objs: Some(90),
                },
                SlabRow {
                    name: "no_debug".into(),
                    object_size: 32,
                    size: 32,
                    num_slabs: None,
                    num_objs: None,
                },
            ],
        }
    }

    #[test]
    fn text_report() {
        insta::assert_snapshot!(kmem_text(&report()));
    }

    #[test]
    fn vtop() {
        let steps = [
            kmodel::x86_64::PageTableStep {
                level: 4,
                entry_addr: 0x1a0c000 + 0x8c8,
                entry: 0x2a01067,
            },
            kmodel::x86_64::PageTableStep {
                level: 3,
                entry_addr: 0x2a01000 + 0x10,
                entry: 0x80000000022000e3,
            },
        ];
        let ok = VtopReport::new(0xffffc90000480000, &steps, Ok(0x22080000));
        let bad = VtopReport::new(
            0xffffc90000480000,
            &steps[..1],
            Err(kmodel::Error::Translate {
                vaddr: 0xffffc90000480000,
                reason: "not mapped (level-3 entry 0x0)".into(),
            }),
        );
        insta::assert_snapshot!(format!("{}\n{}", vtop_text(&ok), vtop_text(&bad)));
    }

    #[test]
    fn sizes() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
    }
}
