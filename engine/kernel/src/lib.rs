//! The kernel object model over a crash dump: virtual memory, typed objects
//! read through the kernel's own DWARF types, and the kernel's data structures
//! (tasks, CPUs, the log, memory, modules) in kernel terms.
//!
//! Nothing here assumes one build's struct layout: members are found by name in
//! the dump's own debug info, and version differences (`state` vs `__state`,
//! `thread_info.cpu` vs `cpu`) are resolved by looking, not by release numbers.

pub mod context;
pub mod error;
pub mod files;
pub mod frames;
pub mod fuse;
pub mod globals;
pub mod locks;
pub mod logtext;
pub mod memcg;
pub mod mm;
pub mod modules;
pub mod object;
pub mod oops;
pub mod partial;
pub mod pid;
pub mod printk;
pub mod rcu;
pub mod sched;
pub mod slab;
pub mod taint;
pub mod tasks;
pub mod titles;
pub mod workqueue;
pub mod x86_64;
pub mod xarray;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use error::{Error, Result};
pub use globals::GLOBALS;
use kdebuginfo::{KernelDebugInfo, TypeId};
pub use object::Object;
use vmcore::Vmcore;
use x86_64::{PageTableWalker, START_KERNEL_MAP};

/// An opened dump with its matching debug info.
pub struct Kernel {
    pub dump: Arc<Vmcore>,
    pub debug: Arc<KernelDebugInfo>,
    /// KASLR: added to every link-time address of the vmlinux.
    pub kaslr_offset: u64,
    pub phys_base: u64,
    pub release: String,
    walker: PageTableWalker,
    page_offset_base: u64,
    direct_map_end: u64,
    text: (u64, u64),
    tlb: Mutex<HashMap<u64, u64>>,
    /// Every loaded module's name and symbol table, read on first use
    /// ([`Kernel::symbol_of`] looks addresses up in them).
    module_syms: std::sync::OnceLock<Vec<(String, Vec<modules::ModuleSymbol>)>>,
}

const TLB_MAX: usize = 1 << 20;

impl Kernel {
    /// Ties a dump to its vmlinux: checks the build-id, finds KASLR, the page
    /// tables and the direct map.
    pub fn open(dump: Arc<Vmcore>, debug: Arc<KernelDebugInfo>) -> Result<Kernel> {
        let info = dump.vmcoreinfo().ok_or_else(|| {
            Error::Unsupported(
                "the dump has no VMCOREINFO note, so the kernel's KASLR offset and page tables \
                 cannot be found; capture with kdump/makedumpfile, or with QEMU's \
                 `-device vmcoreinfo` and the guest's qemu_fw_cfg module loaded"
                    .into(),
            )
        })?;
        if let Some(id) = info.build_id() {
            let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
            debug.check_build_id(&hex)?;
        }
        let release = info.osrelease().unwrap_or("unknown").to_string();
        let kaslr_offset = info.kernel_offset().unwrap_or(0);
        let phys_base = info.phys_base().or(dump.phys_base()).unwrap_or(0);
        let dbg = debug.clone();
        let sym = move |name: &str| -> Result<u64> {
            dbg.symbol(name)
                .map(|s| s.addr.wrapping_add(kaslr_offset))
                .ok_or_else(|| Error::NoSymbol(name.into()))
        };
        let text = (sym("_text")?, sym("_end")?);
        let root_v = match info.symbol("init_top_pgt") {
            Some(v) => v,
            None => sym("init_top_pgt")?,
        };
        let l5 = info.number("pgtable_l5_enabled");
        let direct_map_end = dump.phys_ranges().iter().map(|r| r.end).max().unwrap_or(0);
        let mut k = Kernel {
            dump,
            debug,
            kaslr_offset,
            phys_base,
            release,
            walker: PageTableWalker {
                root: root_v
                    .wrapping_sub(START_KERNEL_MAP)
                    .wrapping_add(phys_base),
                levels: 4,
            },
            page_offset_base: 0,
            direct_map_end,
            text,
            tlb: Mutex::new(HashMap::new()),
            module_syms: std::sync::OnceLock::new(),
        };
        k.walker.levels = match l5 {
            Some(v) => {
                if v != 0 {
                    5
                } else {
                    4
                }
            }
            None => match sym("__pgtable_l5_enabled") {
                Ok(a) => {
                    if k.read_u32(a)? != 0 {
                        5
                    } else {
                        4
                    }
                }
                Err(_) => 4,
            },
        };
        k.page_offset_base = match sym("page_offset_base") {
            Ok(a) => k.read_u64(a)?,
            // Without memory randomization the direct map starts at a fixed place.
            Err(_) => {
                if k.walker.levels == 5 {
                    0xff11_0000_0000_0000
                } else {
                    0xffff_8880_0000_0000
                }
            }
        };
        Ok(k)
    }

    /// The kernel image, [`_text`, `_end`), at run-time addresses.
    pub fn image_range(&self) -> (u64, u64) {
        self.text
    }

    /// The kernel's `PAGE_SIZE`, as the dump records it (VMCOREINFO's
    /// `PAGESIZE`, a kdump file's block size).
    pub fn page_size(&self) -> u64 {
        self.dump.page_size()
    }

    pub fn paging_levels(&self) -> u32 {
        self.walker.levels
    }

    /// The kernel page-table walk for `vaddr`, entry by entry, and where it
    /// ends (`vtop`). The direct map and kernel text are translated without
    /// the walk by [`Kernel::translate`]; this always walks.
    pub fn vtop(&self, vaddr: u64) -> (Vec<x86_64::PageTableStep>, Result<u64>) {
        self.walker.steps_with(
            |pa, buf| self.dump.read_phys(pa, buf).map_err(|e| e.to_string()),
            vaddr,
        )
    }

    /// Virtual → physical.
    pub fn translate(&self, vaddr: u64) -> Result<u64> {
        if vaddr >= self.text.0 && vaddr < self.text.1 {
            return Ok(vaddr
                .wrapping_sub(START_KERNEL_MAP)
                .wrapping_add(self.phys_base));
        }
        if self.page_offset_base != 0
            && vaddr >= self.page_offset_base
            && vaddr - self.page_offset_base < self.direct_map_end
        {
            return Ok(vaddr - self.page_offset_base);
        }
        let page = vaddr & !0xfff;
        if let Some(p) = self
            .tlb
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&page)
        {
            return Ok(p | (vaddr & 0xfff));
        }
        let p = self.walker.translate(&self.dump, page)?;
        let mut tlb = self.tlb.lock().unwrap_or_else(|e| e.into_inner());
        if tlb.len() >= TLB_MAX {
            tlb.clear();
        }
        tlb.insert(page, p);
        Ok(p | (vaddr & 0xfff))
    }

    /// Reads kernel virtual memory (any span, page by page).
    pub fn read(&self, vaddr: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let va = vaddr.wrapping_add(done as u64);
            let in_page = (0x1000 - (va & 0xfff)) as usize;
            let n = in_page.min(buf.len() - done);
            let pa = self.translate(va)?;
            self.dump
                .read_phys(pa, &mut buf[done..done + n])
                .map_err(|source| Error::Read {
                    vaddr: va,
                    len: n,
                    source,
                })?;
            done += n;
        }
        Ok(())
    }

    pub fn read_u64(&self, vaddr: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read(vaddr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    pub fn read_u32(&self, vaddr: u64) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read(vaddr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// A NUL-terminated string of at most `max` bytes.
    pub fn read_cstr(&self, vaddr: u64, max: usize) -> Result<String> {
        let mut out = Vec::new();
        let mut chunk = [0u8; 64];
        while out.len() < max {
            let n = chunk.len().min(max - out.len());
            // Read up to the end of the page so a string at a page's end works.
            let va = vaddr + out.len() as u64;
            let n = n.min((0x1000 - (va & 0xfff)) as usize);
            self.read(va, &mut chunk[..n])?;
            if let Some(z) = chunk[..n].iter().position(|&c| c == 0) {
                out.extend_from_slice(&chunk[..z]);
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            out.extend_from_slice(&chunk[..n]);
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// The run-time address of a symbol of the vmlinux. Per-CPU variables
    /// (link addresses that are offsets into `.data..percpu`, below the kernel
    /// map) are not relocated by KASLR: they stay offsets, for `per_cpu_addr`.
    pub fn symbol_addr(&self, name: &str) -> Result<u64> {
        self.debug
            .symbol(name)
            .map(|s| {
                if s.addr < START_KERNEL_MAP {
                    s.addr
                } else {
                    s.addr.wrapping_add(self.kaslr_offset)
                }
            })
            .ok_or_else(|| Error::NoSymbol(name.into()))
    }

    /// The vmlinux function or object containing a run-time address:
    /// (name, offset, size). It knows no module: to name an address, use
    /// [`Kernel::symbol_of`].
    pub fn symbolize(&self, addr: u64) -> Option<(String, u64, u64)> {
        let link = addr.wrapping_sub(self.kaslr_offset);
        self.debug
            .symbolize(link)
            .map(|s| (s.symbol.name.to_string(), s.offset, s.symbol.size))
    }

    /// A global variable as a typed object.
    pub fn global(&self, name: &str) -> Result<Object<'_>> {
        let ty = self.debug.variable_type(name)?;
        Ok(Object::new(self, self.symbol_addr(name)?, ty))
    }

    /// Whether a global exists in this kernel (for symbols only some kernels have).
    pub fn has_global(&self, name: &str) -> bool {
        self.debug.symbol(name).is_some() && self.debug.variable_type(name).is_ok()
    }

    pub fn find_type(&self, name: &str) -> Result<TypeId> {
        Ok(self.debug.find_type(name)?)
    }

    /// An object of a named type at an address (`struct task_struct` at 0x…).
    pub fn object(&self, addr: u64, type_name: &str) -> Result<Object<'_>> {
        Ok(Object::new(self, addr, self.find_type(type_name)?))
    }

    /// The value of an enumerator, e.g. (`enum zone_stat_item`, `NR_FREE_PAGES`).
    pub fn enumerator(&self, enum_type: &str, name: &str) -> Result<i64> {
        Ok(self.debug.enumerator_value(enum_type, name)?)
    }

    /// Every enumerator of an enum type, in declaration order.
    pub fn enumerators(&self, enum_type: &str) -> Result<Vec<(String, i64)>> {
        let id = self
            .debug
            .strip_typedefs_and_cv(self.find_type(enum_type)?)?;
        match &self.debug.type_of(id)?.kind {
            kdebuginfo::TypeKind::Enum { enumerators, .. } => Ok(enumerators.clone()),
            _ => Err(Error::Type(format!("{enum_type} is not an enum"))),
        }
    }

    /// This CPU's copy of a per-CPU variable's address.
    pub fn per_cpu_addr(&self, addr: u64, cpu: u32) -> Result<u64> {
        let offs = self.symbol_addr("__per_cpu_offset")?;
        let off = self.read_u64(offs + 8 * cpu as u64)?;
        Ok(addr.wrapping_add(off))
    }

    /// CPUs that were online (from `__cpu_online_mask`).
    pub fn online_cpus(&self) -> Result<Vec<u32>> {
        let mask = self.global("__cpu_online_mask")?;
        let nr = self
            .global("nr_cpu_ids")
            .and_then(|o| o.as_u64())
            .unwrap_or(64) as u32;
        let mut out = Vec::new();
        let words = nr.div_ceil(64);
        for w in 0..words.min(128) {
            let v = self.read_u64(mask.addr + 8 * w as u64)?;
            for b in 0..64 {
                let cpu = w * 64 + b;
                if cpu < nr && v & (1 << b) != 0 {
                    out.push(cpu);
                }
            }
        }
        Ok(out)
    }
}
