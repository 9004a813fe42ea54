//! Memory: the `memory` root (RAM, free pages) and its zones, the VM
//! counters (`vmstat()`), the slab caches (`slab_caches`), the memory
//! cgroups (`memcgs`).

use kmodel::memcg::MemCgroup;
use kmodel::mm::{MemorySummary, ZoneInfo};
use kmodel::slab::SlabCache;
use vmtriage_dsl::ast::Span;

use super::{
    decl_field, model_err, nth, opt_int, wrong_owner, Ctx, Function, Module, Param, Root, Shape,
    Sig, TypeDecl,
};
use crate::ty::{Need, Ty};
use crate::value::EvalError;
use crate::value::Value;

pub static MODULE: Module = Module {
    name: "memory",
    doc: "RAM, free pages and zone watermarks",
    roots: &[
        Root {
            name: "memory",
            needs: Need::Dump,
            ty: Shape::Is(Ty::Memory),
            doc: "RAM and zone watermarks",
            // A handle on the dump's memory: none on a log alone.
            get: |ev, span| ev.kernel(span).map(|_| Value::Memory),
        },
        Root {
            name: "memcgs",
            needs: Need::Dump,
            ty: Shape::List(&Shape::Is(Ty::Memcg)),
            doc: "every memory cgroup, the root first (empty without the memory controller)",
            get: |ev, span| {
                let n = ev.model(span)?.memcgs().map_err(model_err(span))?.len();
                Ok(Value::list((0..n).map(Value::Memcg).collect()))
            },
        },
        Root {
            name: "slab_caches",
            needs: Need::Dump,
            ty: Shape::List(&Shape::Is(Ty::Slab)),
            doc: "every slab cache (/proc/slabinfo)",
            get: |ev, span| {
                let n = ev.model(span)?.slab_caches().map_err(model_err(span))?.len();
                Ok(Value::list((0..n).map(Value::Slab).collect()))
            },
        },
    ],
    types: &[MEMORY, ZONE, SLAB, MEMCG],
    functions: &[Function {
        name: "vmstat",
        needs: Need::Dump,
        sigs: &[Sig {
            params: &[Param {
                name: "counter",
                ty: Shape::Is(Ty::Str),
            }],
            result: Shape::Is(Ty::Int),
        }],
        doc: "a global VM counter of /proc/vmstat by the kernel's enumerator name (\"NR_SLAB_UNRECLAIMABLE_B\", \"NR_ANON_MAPPED\"), in pages (KB for *_KB); null if this kernel has no such counter",
        call: |ev, a| {
            let Value::Str(name) = a.get(0)? else {
                return Ok(Value::Null);
            };
            let stats = ev.model(a.span)?.vm_stats().map_err(model_err(a.span))?;
            Ok(opt_int(
                stats
                    .iter()
                    .find(|s| s.name == **name)
                    .map(|s| s.value as i64),
            ))
        },
    }],
    constants: &[],
};

fn memory<'m, 'k>(
    ev: &Ctx<'m, 'k>,
    v: &Value<'k>,
    span: Span,
) -> Result<&'m MemorySummary, EvalError> {
    match v {
        Value::Memory => ev.model(span)?.memory().map_err(model_err(span)),
        _ => wrong_owner("memory", v, span),
    }
}

const MEMORY: TypeDecl = TypeDecl {
    name: "memory",
    needs: Need::Dump,
    doc: "the machine's memory",
    fields: &[
        decl_field!(
            memory,
            "totalram",
            Shape::Is(Ty::Int),
            "total RAM pages",
            |_, mem, _| { Value::Int(mem.totalram_pages as i64) }
        ),
        decl_field!(
            memory,
            "free",
            Shape::Is(Ty::Int),
            "free pages",
            |_, mem, _| { Value::Int(mem.free_pages as i64) }
        ),
        decl_field!(
            memory,
            "zones",
            Shape::List(&Shape::Is(Ty::Zone)),
            "populated zones",
            |_, mem, _| { Value::list((0..mem.zones.len()).map(Value::Zone).collect()) }
        ),
    ],
};

fn zone<'m, 'k>(ev: &Ctx<'m, 'k>, v: &Value<'k>, span: Span) -> Result<&'m ZoneInfo, EvalError> {
    let Value::Zone(i) = v else {
        return wrong_owner("zone", v, span);
    };
    let zones = ev.model(span)?.memory().map(|m| m.zones.as_slice());
    nth(zones, *i, "zone", span)
}

const ZONE: TypeDecl = TypeDecl {
    name: "zone",
    needs: Need::Dump,
    doc: "a populated memory zone",
    fields: &[
        decl_field!(zone, "node", Shape::Is(Ty::Int), "NUMA node", |_, z, _| {
            Value::Int(z.node as i64)
        }),
        decl_field!(
            zone,
            "name",
            Shape::Is(Ty::Str),
            "DMA, DMA32, Normal, Movable",
            |_, z, _| { Value::str(&z.name) }
        ),
        decl_field!(zone, "free", Shape::Is(Ty::Int), "free pages", |_, z, _| {
            Value::Int(z.free as i64)
        }),
        decl_field!(
            zone,
            "min",
            Shape::Is(Ty::Int),
            "min watermark (pages)",
            |_, z, _| { Value::Int(z.min as i64) }
        ),
        decl_field!(
            zone,
            "low",
            Shape::Is(Ty::Int),
            "low watermark",
            |_, z, _| { Value::Int(z.low as i64) }
        ),
        decl_field!(
            zone,
            "high",
            Shape::Is(Ty::Int),
            "high watermark",
            |_, z, _| { Value::Int(z.high as i64) }
        ),
        decl_field!(
            zone,
            "free_blocks",
            Shape::List(&Shape::Is(Ty::Int)),
            "free blocks of each order, order 0 first (an order-n block is 2^n pages): fragmentation shows as free pages only at low orders",
            |_, z, _| { Value::list(z.free_blocks.iter().map(|&n| Value::Int(n as i64)).collect()) }
        ),
        decl_field!(
            zone,
            "largest_free_order",
            Shape::Is(Ty::Int),
            "the highest order with a free block (the largest contiguous request the zone can meet without compaction); null when nothing is free",
            |_, z, _| { super::opt_int(z.largest_free_order().map(i64::from)) }
        ),
        decl_field!(
            zone,
            "present",
            Shape::Is(Ty::Int),
            "present pages",
            |_, z, _| { Value::Int(z.present as i64) }
        ),
    ],
};

fn slab<'m, 'k>(ev: &Ctx<'m, 'k>, v: &Value<'k>, span: Span) -> Result<&'m SlabCache, EvalError> {
    let Value::Slab(i) = v else {
        return wrong_owner("slab", v, span);
    };
    nth(ev.model(span)?.slab_caches(), *i, "slab cache", span)
}

const SLAB: TypeDecl = TypeDecl {
    name: "slab",
    needs: Need::Dump,
    doc: "a slab cache (SLUB)",
    fields: &[
        decl_field!(slab, "name", Shape::Is(Ty::Str), "cache name", |_, c, _| {
            Value::str(&c.name)
        }),
        decl_field!(
            slab,
            "object_size",
            Shape::Is(Ty::Int),
            "bytes callers asked for",
            |_, c, _| { Value::Int(c.object_size as i64) }
        ),
        decl_field!(
            slab,
            "size",
            Shape::Is(Ty::Int),
            "bytes an object takes in a slab",
            |_, c, _| { Value::Int(c.size as i64) }
        ),
        decl_field!(
            slab,
            "objects",
            Shape::Is(Ty::Int),
            "objects in its slabs, allocated or free (null without CONFIG_SLUB_DEBUG)",
            |_, c, _| { opt_int(c.num_objs.map(|n| n as i64)) }
        ),
        decl_field!(
            slab,
            "slabs",
            Shape::Is(Ty::Int),
            "slabs over all nodes (null without CONFIG_SLUB_DEBUG)",
            |_, c, _| { opt_int(c.num_slabs.map(|n| n as i64)) }
        ),
        decl_field!(
            slab,
            "bytes",
            Shape::Is(Ty::Int),
            "objects × size (null without CONFIG_SLUB_DEBUG)",
            |_, c, _| { opt_int(c.num_objs.map(|n| (n * c.size) as i64)) }
        ),
    ],
};

fn memcg<'m, 'k>(ev: &Ctx<'m, 'k>, v: &Value<'k>, span: Span) -> Result<&'m MemCgroup, EvalError> {
    let Value::Memcg(i) = v else {
        return wrong_owner("memcg", v, span);
    };
    nth(ev.model(span)?.memcgs(), *i, "memory cgroup", span)
}

/// A byte count of the model as an integer of the language (saturating).
fn bytes<'k>(n: u64) -> Value<'k> {
    Value::Int(n.min(i64::MAX as u64) as i64)
}

const MEMCG: TypeDecl = TypeDecl {
    name: "memcg",
    needs: Need::Dump,
    doc: "a memory cgroup: its charge, limit and events (cgroup v2's memory.current, memory.max, memory.events)",
    fields: &[
        decl_field!(memcg, "path", Shape::Is(Ty::Str), "the cgroup's path from the root (`/`, `/system.slice/nginx.service`)", |_, c, _| {
            Value::str(&c.path)
        }),
        decl_field!(memcg, "usage", Shape::Is(Ty::Int), "bytes charged (memory.current)", |_, c, _| {
            bytes(c.usage_bytes)
        }),
        decl_field!(memcg, "max", Shape::Is(Ty::Int), "the hard limit in bytes (memory.max); null when unlimited", |_, c, _| {
            c.max_bytes.map_or(Value::Null, bytes)
        }),
        decl_field!(memcg, "usage_pct", Shape::Is(Ty::Float), "usage as a percentage of the limit; null when unlimited", |_, c, _| {
            match c.max_pages {
                Some(m) if m > 0 => Value::Float(100.0 * c.usage_pages as f64 / m as f64),
                _ => Value::Null,
            }
        }),
        decl_field!(memcg, "max_events", Shape::Is(Ty::Int), "times usage reached the limit (memory.events `max`)", |_, c, _| {
            Value::Int(c.max_events as i64)
        }),
        decl_field!(memcg, "oom_events", Shape::Is(Ty::Int), "times the cgroup ran out of memory (memory.events `oom`)", |_, c, _| {
            Value::Int(c.oom_events as i64)
        }),
        decl_field!(memcg, "oom_kills", Shape::Is(Ty::Int), "processes the OOM killer ended in it (memory.events `oom_kill`)", |_, c, _| {
            Value::Int(c.oom_kills as i64)
        }),
    ],
};
