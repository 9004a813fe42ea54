//! Memory summary: total and free pages, per-zone watermarks.

use crate::error::Result;
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
