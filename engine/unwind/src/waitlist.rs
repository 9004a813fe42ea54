//! `blocked_on` without DWARF (debug info made from the dump's memory has
//! no frame variables): the lock is found by what proves it instead of by
//! the wait site's variable.
//!
//! Candidates are the values the waiting frames hold: every word of the
//! stack from the first frame up to the end of the outermost wait site's
//! frame (locals and callee-saved registers spilled there), and the
//! registers recovered for those frames. A candidate is taken when the
//! lock of the wait site's kind at that address proves it:
//! - a lock with a wait list or tree (mutex, rw_semaphore, rt_mutex and
//!   the PREEMPT_RT locks built on it, semaphore) lists the task among its
//!   waiters, or names it as the writer queued on it (PREEMPT_RT rwlock and
//!   rw_semaphore); candidates also include the lock of the rt_mutex a
//!   PREEMPT_RT task is queued on (`Kernel::rt_waiting_on`,
//!   `Kernel::rt_lock_of_base`);
//! - a spinning kind (qrwlock, qspinlock) has no list of its waiters: the
//!   candidate must be a global of that kind (a symbol whose declared type
//!   is the lock's) that is held or contended. That is evidence, not proof;
//!   it is what makes `blocked_on == @tasklist_lock` answerable without
//!   DWARF, and a lock that is no global stays unknown.

use kmodel::locks::{wait_site, BlockedOn};
use kmodel::tasks::Task;
use kmodel::Kernel;

use crate::StackTrace;

/// At most this much of a stack is looked at (x86_64 `THREAD_SIZE`).
const MAX_SPAN: u64 = 16 << 10;

fn is_kernel_addr(v: u64) -> bool {
    v >= 0xffff_8000_0000_0000 && v & 7 == 0
}

pub(crate) fn blocked_on(k: &Kernel, trace: &StackTrace, task: &Task<'_>) -> Option<BlockedOn> {
    let (at, site) = trace
        .frames
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, f)| Some((i, f.function.as_deref().and_then(wait_site)?)))?;
    let kind = site.outermost_kind();
    let me = task.addr();
    let mut cands: Vec<u64> = Vec::new();
    // A PREEMPT_RT waiter names its rt_mutex_base.
    if let Some(lock) = k
        .rt_waiting_on(task)
        .and_then(|base| k.rt_lock_of_base(base, kind))
    {
        cands.push(lock);
    }
    // Registers of the waiting frames, then the words of their stack.
    for f in &trace.frames[..=at] {
        if let Some(st) = trace.states.get(f.state) {
            cands.extend(st.regs.known().map(|(_, v)| v));
        }
    }
    let hi = trace
        .frames
        .get(at + 1)
        .map(|f| f.sp)
        .unwrap_or(trace.frames[at].sp.saturating_add(MAX_SPAN));
    // The words of the wait site's own stack: a task interrupted on its
    // CPU starts on the interrupt stack, whose frames are not the waiting
    // ones (a storm task in queued_read_lock_slowpath under the timer tick).
    let lo = trace.frames[..=at]
        .iter()
        .map(|f| f.sp)
        .filter(|&sp| sp <= hi && hi - sp <= MAX_SPAN)
        .min()
        .unwrap_or(hi);
    if hi > lo && hi - lo <= MAX_SPAN {
        let mut buf = vec![0u8; (hi - lo) as usize];
        if k.read(lo, &mut buf).is_ok() {
            cands.extend(
                buf.chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))),
            );
        }
    }
    let mut seen = std::collections::HashSet::new();
    for c in cands {
        if !is_kernel_addr(c) || (c >= lo && c < lo.saturating_add(MAX_SPAN)) || !seen.insert(c) {
            continue;
        }
        let Ok(st) = k.lock_at(c, kind) else {
            continue;
        };
        // Without a list of waiters, the lock spins (see the module's note).
        let proven = if st.waiters.is_none() {
            (st.locked || st.writer_waiting == Some(true)) && k.is_global_lock(c, kind)
        } else {
            st.waiters.as_ref().is_some_and(|w| w.contains(&me)) || st.queued_writer == Some(me)
        };
        if proven {
            return Some(BlockedOn {
                addr: c,
                kind,
                mode: site.mode,
                function: site.function.to_string(),
            });
        }
    }
    None
}
