//! Memory cgroups: each `mem_cgroup` of the hierarchy with its charge, its
//! limit and its event counters — what `memory.current`, `memory.max` and
//! `memory.events` show in cgroup v2 (and `memory.usage_in_bytes`,
//! `memory.limit_in_bytes`, `memory.failcnt`'s neighbours in v1).

use std::collections::HashSet;

use crate::error::Result;
use crate::Kernel;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemCgroup {
    /// The `struct mem_cgroup`.
    pub addr: u64,
    /// The cgroup's path from the root (`/`, `/system.slice/foo.service`).
    pub path: String,
    /// Pages charged (`memory.usage`).
    pub usage_pages: u64,
    /// The hard limit in pages (`memory.max`); None when unlimited.
    pub max_pages: Option<u64>,
    /// The same in bytes (pages of the kernel's `PAGE_SIZE`, saturating).
    pub usage_bytes: u64,
    pub max_bytes: Option<u64>,
    /// `memory.events`: times usage hit `max`, OOM situations, OOM kills.
    pub max_events: u64,
    pub oom_events: u64,
    pub oom_kills: u64,
}

/// More cgroups than a machine sets up; bounds a damaged hierarchy.
const MAX_CGROUPS: usize = 1 << 16;
/// Deeper than any cgroup hierarchy (the kernel's own cap is INT_MAX, but
/// systemd's trees are a handful deep).
const MAX_DEPTH: usize = 64;

impl Kernel {
    /// Every memory cgroup, the root first, then depth first in the
    /// order of each parent's `children` list. Empty when the kernel has no
    /// memory controller (no `root_mem_cgroup`, or it is NULL: `cgroup_disable=memory`).
    pub fn memcgs(&self) -> Result<Vec<MemCgroup>> {
        let Ok(root) = self.global("root_mem_cgroup") else {
            return Ok(Vec::new());
        };
        let root = root.as_u64()?;
        if root == 0 {
            return Ok(Vec::new());
        }
        let events = |name: &str| self.enumerator("enum memcg_memory_event", name).ok();
        let (ev_max, ev_oom, ev_kill) = (
            events("MEMCG_MAX"),
            events("MEMCG_OOM"),
            events("MEMCG_OOM_KILL"),
        );
        // PAGE_COUNTER_MAX: LONG_MAX / PAGE_SIZE.
        let page = self.page_size();
        let unlimited = (i64::MAX as u64) / page;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![(root, String::from("/"), 0usize)];
        while let Some((addr, path, depth)) = stack.pop() {
            if out.len() >= MAX_CGROUPS || !seen.insert(addr) {
                continue;
            }
            let m = self.object(addr, "struct mem_cgroup")?;
            let counter = |o: crate::Object<'_>| -> Result<u64> {
                let v = match o.unwrapped() {
                    Some(c) => c.as_i64()?,
                    None => o.as_i64()?,
                };
                Ok(v.max(0) as u64)
            };
            let event = |i: Option<i64>| -> u64 {
                i.and_then(|i| m.member("memory_events").ok()?.index(i as u64).ok())
                    .and_then(|o| counter(o).ok())
                    .unwrap_or(0)
            };
            let max = m.member("memory.max")?.as_u64()?;
            let usage = counter(m.member("memory.usage")?)?;
            let max_pages = (max < unlimited).then_some(max);
            out.push(MemCgroup {
                addr,
                path: path.clone(),
                usage_pages: usage,
                max_pages,
                usage_bytes: usage.saturating_mul(page),
                max_bytes: max_pages.map(|p| p.saturating_mul(page)),
                max_events: event(ev_max),
                oom_events: event(ev_oom),
                oom_kills: event(ev_kill),
            });
            if depth >= MAX_DEPTH {
                continue;
            }
            // Children in list order: pushed reversed onto the stack.
            let css = m.member("css")?;
            let head = css.member("children")?.addr;
            let mut kids = Vec::new();
            for child in self.list_entries(head, "struct cgroup_subsys_state", "sibling")? {
                let Ok(cm) = child.container_of("struct mem_cgroup", "css") else {
                    continue;
                };
                let name = child
                    .member("cgroup")
                    .and_then(|c| c.deref())
                    .and_then(|c| c.member("kn"))
                    .and_then(|kn| kn.deref())
                    .and_then(|kn| kn.member("name"))
                    .and_then(|n| n.as_u64())
                    .and_then(|p| self.read_cstr(p, 256))
                    .unwrap_or_else(|_| format!("?{:#x}", cm.addr));
                let p = if path == "/" {
                    format!("/{name}")
                } else {
                    format!("{path}/{name}")
                };
                kids.push((cm.addr, p, depth + 1));
            }
            stack.extend(kids.into_iter().rev());
        }
        Ok(out)
    }
}
