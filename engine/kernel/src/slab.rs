//! Slab caches (SLUB): every cache on `slab_caches` with its object sizes
//! and, where the kernel keeps the per-node counters (CONFIG_SLUB_DEBUG,
//! Debian's default), its slabs and objects — /proc/slabinfo's `num_slabs`
//! and `num_objs`.

use crate::error::Result;
use crate::Kernel;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlabCache {
    /// The `struct kmem_cache`.
    pub addr: u64,
    pub name: String,
    /// The size callers asked for (`object_size`).
    pub object_size: u64,
    /// The size an object takes in a slab, metadata and padding included.
    pub size: u64,
    /// Slabs and objects over all nodes (`kmem_cache_node.nr_slabs`,
    /// `total_objects`); `None` without CONFIG_SLUB_DEBUG.
    pub num_slabs: Option<u64>,
    pub num_objs: Option<u64>,
}

/// More caches than any kernel has: bounds the walk of a damaged list.
const MAX_CACHES: usize = 1 << 16;

impl Kernel {
    /// Every slab cache, in `slab_caches` order (newest first, as
    /// /proc/slabinfo lists them).
    pub fn slab_caches(&self) -> Result<Vec<SlabCache>> {
        let head = self.symbol_addr("slab_caches")?;
        let nodes = self
            .global("nr_node_ids")
            .and_then(|o| o.as_u64())
            .unwrap_or(1)
            .min(1024);
        let mut out = Vec::new();
        for c in self
            .list_entries(head, "struct kmem_cache", "list")?
            .into_iter()
            .take(MAX_CACHES)
        {
            let name_ptr = c.member("name")?.as_u64()?;
            let (mut slabs, mut objs) = (Some(0u64), Some(0u64));
            let per_node = c.member("node")?;
            for n in 0..nodes {
                let p = per_node.index(n)?;
                if p.as_u64()? == 0 {
                    continue;
                }
                let node = p.deref()?;
                let count = |m: &str| -> Option<u64> {
                    let v = node.member(m).ok()?.member("counter").ok()?.as_i64().ok()?;
                    Some(v.max(0) as u64)
                };
                slabs = slabs.zip(count("nr_slabs")).map(|(a, b)| a + b);
                objs = objs.zip(count("total_objects")).map(|(a, b)| a + b);
            }
            out.push(SlabCache {
                addr: c.addr,
                name: self.read_cstr(name_ptr, 64)?,
                object_size: c.member("object_size")?.as_u64()?,
                size: c.member("size")?.as_u64()?,
                num_slabs: slabs,
                num_objs: objs,
            });
        }
        Ok(out)
    }
}
