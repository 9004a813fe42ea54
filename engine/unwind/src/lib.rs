//! Exact x86_64 kernel stack unwinding over a crash dump.
//!
//! Starting registers come from the task's `inactive_task_frame` (a task that
//! is switched out) or from its CPU's saved registers (a task running at the
//! time of the dump: kdump's `crash_notes`, QEMU's PRSTATUS notes). Each
//! frame is unwound with the compiler's DWARF CFI (`.debug_frame`) where it
//! covers the address, else with the kernel's ORC tables (vmlinux and loaded
//! modules), crossing exception frames (`struct pt_regs`) on the IRQ and
//! exception stacks, and stopping at user mode or at the end of the stack.
//! Frames are expanded into inline frames from DWARF, and a frame's
//! variables can be evaluated from their location expressions with the
//! registers recovered for that frame.
//!
//! Everything is lazy: the tables are read on first use, a task's stack is
//! unwound when first asked for and then cached by task address.
//!
//! ```no_run
//! # fn f(k: &kmodel::Kernel) -> Result<(), Box<dyn std::error::Error>> {
//! let unwinder = kunwind::Unwinder::new(k)?;
//! for task in k.tasks()? {
//!     let trace = unwinder.stack(k, &task);
//!     for f in &trace.frames {
//!         println!("{:#x} {}", f.pc, f.function.as_deref().unwrap_or("?"));
//!     }
//!     if let Some(b) = unwinder.blocked_on(k, &task) {
//!         println!("waits in {} on {:#x}", b.function, b.addr);
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod cfi;
mod dwarf;
pub mod orc;
pub mod regs;
mod unwind;
mod waitlist;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use kdebuginfo::KernelDebugInfo;
use kmodel::locks::BlockedOn;
use kmodel::tasks::Task;
use kmodel::Kernel;

pub use dwarf::SymFrame;
pub use orc::{OrcEntry, OrcKind, OrcLayout, OrcTable};
pub use regs::{Reg, Regs};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Kernel(#[from] kmodel::Error),
    #[error("frame {0} does not exist (the trace has {1} frames)")]
    NoFrame(usize, usize),
    #[error("no variable `{name}` in scope in {function} (frame {frame})")]
    NoVariable {
        name: String,
        function: String,
        frame: usize,
    },
    #[error("{0}")]
    Dwarf(String),
    /// Debug info without DWARF (made from the dump's memory) has no
    /// frame variables.
    #[error("needs debuginfo: {0}")]
    NeedsDebuginfo(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The value of a frame variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarValue {
    /// The value (for pointers, the address they hold).
    Value(u64),
    /// The compiler recorded no location for the variable at this address.
    OptimizedOut,
    /// It has a location, but it depends on something the dump or the
    /// unwinder does not know (a clobbered register, an entry value,
    /// unreadable memory); the reason says what.
    Unavailable(String),
}

/// One frame of a stack trace. Inline frames share the pc and sp of the
/// function containing them and come first (innermost first).
#[derive(Debug, Clone)]
pub struct Frame {
    pub pc: u64,
    pub sp: u64,
    /// The function (from DWARF, inline functions included; else the ELF
    /// or module symbol).
    pub function: Option<String>,
    /// `pc` minus the start of the containing symbol.
    pub offset: u64,
    /// The size of the containing symbol.
    pub size: u64,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub inline: bool,
    /// The module whose code this is (None for the vmlinux).
    pub module: Option<String>,
    /// The full register set, on the first frame of a stack unwound from a
    /// CPU's saved registers and on the frame right after each exception
    /// frame (the `pt_regs` that was crossed to reach it).
    pub regs: Option<Regs>,
    /// Index of the register state this frame was unwound to (frames of
    /// one pc share one).
    pub(crate) state: usize,
    /// Index of this frame among the source frames at its pc (0 = innermost).
    pub(crate) depth: usize,
}

/// Where the registers of the first frame came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// `task->thread.sp` (`struct inactive_task_frame`): the task is switched out.
    SwitchedOut,
    /// The saved registers of the CPU the task was running on.
    Cpu(u32),
}

/// A task's kernel stack.
#[derive(Debug, Clone)]
pub struct StackTrace {
    pub task: u64,
    pub pid: i32,
    pub start: Option<Start>,
    pub frames: Vec<Frame>,
    /// Why the unwinding stopped early, if it did (unreadable memory, no
    /// unwind information, a corrupt stack).
    pub error: Option<String>,
    /// The stack ended in user mode (the task's kernel entry frame was reached).
    pub reached_user: bool,
    pub(crate) states: Vec<unwind::State>,
}

/// Unwinds kernel stacks of one dump. `Send + Sync`: share it.
pub struct Unwinder {
    build: Arc<BuildTables>,
    debug: Arc<KernelDebugInfo>,
    kaslr: u64,
    release: String,
    modules: OnceLock<Vec<unwind::ModuleCode>>,
    text: (u64, u64),
    stacks: Mutex<HashMap<u64, Arc<StackTrace>>>,
    unwinds: AtomicUsize,
}

/// The unwinder's tables of one kernel build (ORC, CFI, DWARF
/// line and inline tables): loaded on first use and shared by every dump of
/// the build through [`KernelDebugInfo::derived`].
pub(crate) struct BuildTables {
    layout: OnceLock<OrcLayout>,
    orc: OnceLock<Arc<OrcTable>>,
    cfi: OnceLock<cfi::CfiIndex>,
    dwarf: dwarf::DwarfInfo,
}

impl Unwinder {
    /// Cheap: tables are loaded on first use.
    pub fn new(k: &Kernel) -> Result<Unwinder> {
        let (start, end) = k.image_range();
        let text = (
            start.wrapping_sub(k.kaslr_offset),
            end.wrapping_sub(k.kaslr_offset),
        );
        let build = k.debug.derived(|| BuildTables {
            layout: OnceLock::new(),
            orc: OnceLock::new(),
            cfi: OnceLock::new(),
            dwarf: dwarf::DwarfInfo::new(&k.debug),
        });
        Ok(Unwinder {
            build,
            debug: k.debug.clone(),
            kaslr: k.kaslr_offset,
            release: k.release.clone(),
            modules: OnceLock::new(),
            text,
            stacks: Mutex::new(HashMap::new()),
            unwinds: AtomicUsize::new(0),
        })
    }

    /// How many stacks have been unwound (cache misses) so far.
    pub fn unwind_count(&self) -> usize {
        self.unwinds.load(Ordering::Relaxed)
    }

    /// The ORC layout of this vmlinux.
    pub fn orc_layout(&self) -> OrcLayout {
        *self
            .build
            .layout
            .get_or_init(|| OrcLayout::detect(&self.debug, &self.release))
    }

    /// The vmlinux's ORC table (absolute link-time addresses).
    pub fn orc_table(&self) -> Arc<OrcTable> {
        self.build
            .orc
            .get_or_init(|| {
                let layout = self.orc_layout();
                match (
                    self.debug.section(".orc_unwind_ip"),
                    self.debug.section(".orc_unwind"),
                ) {
                    (Some(ip), Some(u)) => {
                        Arc::new(OrcTable::build(ip.addr, ip.data, u.data, &layout))
                    }
                    _ => Arc::new(OrcTable::default()),
                }
            })
            .clone()
    }

    fn cfi(&self) -> &cfi::CfiIndex {
        self.build
            .cfi
            .get_or_init(|| cfi::CfiIndex::build(dwarf::section(&self.debug, ".debug_frame")))
    }

    /// The task's kernel stack, unwound on first request and cached.
    pub fn stack(&self, k: &Kernel, task: &Task<'_>) -> Arc<StackTrace> {
        let key = task.addr();
        if let Some(t) = self
            .stacks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return t.clone();
        }
        self.unwinds.fetch_add(1, Ordering::Relaxed);
        let t = Arc::new(unwind::unwind_task(self, k, task));
        self.stacks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert(t)
            .clone()
    }

    /// Source frames (inline expansion) at a run-time address that is
    /// exact (`exact`) or a return address.
    pub fn source_frames(&self, pc: u64, exact: bool) -> Arc<[SymFrame]> {
        let link = pc.wrapping_sub(self.kaslr).wrapping_sub(u64::from(!exact));
        self.build.dwarf.frames(link)
    }

    /// A parameter or local variable of a frame, from its DWARF location
    /// and the registers recovered for that frame.
    pub fn frame_var(
        &self,
        k: &Kernel,
        trace: &StackTrace,
        frame: usize,
        name: &str,
    ) -> Result<VarValue> {
        let f = trace
            .frames
            .get(frame)
            .ok_or(Error::NoFrame(frame, trace.frames.len()))?;
        let no_var = || Error::NoVariable {
            name: name.to_string(),
            function: f.function.clone().unwrap_or_else(|| format!("{:#x}", f.pc)),
            frame,
        };
        if f.module.is_some() {
            return Err(no_var());
        }
        if !self.debug.has_dwarf() {
            return Err(Error::NeedsDebuginfo(format!(
                "the variable `{name}` of {} (frame variables come from DWARF; this debug \
                 info was made without it)",
                f.function.as_deref().unwrap_or("?")
            )));
        }
        let st = &trace.states[f.state];
        let link =
            f.pc.wrapping_sub(self.kaslr)
                .wrapping_sub(u64::from(!st.interrupted));
        let read = |addr: u64, n: usize| -> Option<u64> {
            let mut b = [0u8; 8];
            k.read(addr, &mut b[..n.min(8)]).ok()?;
            Some(u64::from_le_bytes(b))
        };
        let env = dwarf::FrameEnv {
            regs: &st.regs,
            cfa: st.cfa,
            kaslr: self.kaslr,
            read: &read,
        };
        match self.build.dwarf.variable(link, f.depth, name, &env) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(no_var()),
            Err(e) => Err(Error::Dwarf(e)),
        }
    }

    /// The lock a task is blocked on: the outermost frame of the kernel
    /// model's wait sites ([`kmodel::locks::WAIT_SITES`]) whose lock
    /// variable has a known value. Outermost, because inner frames may name
    /// a part of the lock (PREEMPT_RT's `rtlock_slowlock_locked` gets an
    /// rwlock's inner rtmutex; `rwbase_write_lock` the rwlock itself).
    ///
    /// Without DWARF there are no frame variables: the lock is the one a
    /// value of the waiting frames points at whose own wait list holds the
    /// task (see `waitlist.rs`).
    pub fn blocked_on(&self, k: &Kernel, task: &Task<'_>) -> Option<BlockedOn> {
        let trace = self.stack(k, task);
        if !self.debug.has_dwarf() {
            return waitlist::blocked_on(k, &trace, task);
        }
        let mut found = None;
        for (i, f) in trace.frames.iter().enumerate() {
            let Some(site) = f.function.as_deref().and_then(kmodel::locks::wait_site) else {
                continue;
            };
            if let Ok(VarValue::Value(v)) = self.frame_var(k, &trace, i, site.variable) {
                found = Some(BlockedOn {
                    addr: v,
                    kind: site.outermost_kind(),
                    mode: site.mode,
                    function: site.function.to_string(),
                });
            }
        }
        found
    }
}

#[cfg(test)]
mod assert_traits {
    fn send_sync<T: Send + Sync>() {}
    #[test]
    fn unwinder_is_send_sync() {
        send_sync::<super::Unwinder>();
        send_sync::<super::StackTrace>();
    }
}
