//! Where the kernel left the registers a stack is unwound from: a
//! switched-out task's `struct inactive_task_frame` (pushed by
//! `__switch_to_asm`, pointed at by `task->thread.sp`), and the registers
//! of a CPU stopped by the crash (kdump's per-CPU `crash_notes`, or the
//! dump's own PRSTATUS notes for a QEMU capture).

use crate::error::{Error, Result};
use crate::tasks::Task;
use crate::Kernel;

/// The callee-saved registers `__switch_to_asm` pushed for a switched-out
/// task, and where its stack continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchedOut {
    /// The frame's address (`task->thread.sp`).
    pub frame: u64,
    /// The stack pointer once the frame is popped: the caller's.
    pub sp: u64,
    /// Where the task resumes (`ret_addr`).
    pub ret_addr: u64,
    /// The saved callee-saved registers; `None` where this kernel's frame
    /// has no such member or it is unreadable.
    pub bp: Option<u64>,
    pub bx: Option<u64>,
    pub r12: Option<u64>,
    pub r13: Option<u64>,
    pub r14: Option<u64>,
    pub r15: Option<u64>,
}

fn context(what: String, e: Error) -> Error {
    Error::Type(format!("{what}: {e}"))
}

impl Kernel {
    /// The frame a switched-out task's stack starts with.
    pub fn switched_out_frame(&self, t: &Task<'_>) -> Result<SwitchedOut> {
        let frame = t
            .obj
            .member("thread.sp")
            .and_then(|o| o.as_u64())
            .map_err(|e| context("task->thread.sp unreadable".into(), e))?;
        let f = self
            .object(frame, "struct inactive_task_frame")
            .map_err(|e| context("struct inactive_task_frame".into(), e))?;
        let size = f.size()?;
        let reg = |m: &str| f.member(m).and_then(|o| o.as_u64()).ok();
        let ret_addr = f.member("ret_addr").and_then(|o| o.as_u64()).map_err(|e| {
            context(
                format!("the switched-out frame at {frame:#x} is unreadable"),
                e,
            )
        })?;
        Ok(SwitchedOut {
            frame,
            sp: frame.wrapping_add(size),
            ret_addr,
            bp: reg("bp"),
            bx: reg("bx"),
            r12: reg("r12"),
            r13: reg("r13"),
            r14: reg("r14"),
            r15: reg("r15"),
        })
    }

    /// The registers a CPU was stopped with, as `struct pt_regs` words
    /// (`elf_gregset_t` order): from `crash_notes` in memory for a kdump
    /// capture (the notes of the kernel that crashed), else from the dump's
    /// PRSTATUS note of that CPU (QEMU numbers them by CPU + 1).
    pub fn cpu_saved_regs(&self, cpu: u32) -> Result<Vec<u64>> {
        let not_saved = || Error::Unsupported(format!("registers for CPU {cpu} were not saved"));
        let kdump = self.dump.vmcoreinfo().and_then(|i| i.crashtime()).is_some();
        if kdump {
            let base = self
                .global("crash_notes")
                .and_then(|o| o.as_u64())
                .map_err(|e| context("crash_notes".into(), e))?;
            let addr = self.per_cpu_addr(base, cpu)?;
            // note_buf_t: room for one PRSTATUS note; older kernels' is
            // shorter than the newer size.
            let mut buf = vec![0u8; 0x200];
            if self.read(addr, &mut buf).is_err() {
                buf.truncate(0x170);
                self.read(addr, &mut buf)
                    .map_err(|e| context(format!("crash notes of CPU {cpu} unreadable"), e))?;
            }
            return vmcore::iter_notes(&buf, false)
                .filter(|n| n.name == b"CORE" && n.n_type == vmcore::NT_PRSTATUS)
                .find_map(|n| vmcore::PrStatus::parse(n.desc, true))
                .map(|p| p.regs)
                .ok_or_else(not_saved);
        }
        let notes = self.dump.prstatus();
        notes
            .iter()
            .find(|p| p.pid == cpu + 1)
            .or_else(|| notes.get(cpu as usize))
            .map(|p| p.regs.clone())
            .ok_or_else(not_saved)
    }
}
