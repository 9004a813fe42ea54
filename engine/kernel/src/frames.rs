//! Functions that are never the place of a bug: the kernel's reporting
//! machinery, the watchdogs, exception entry, lock slow paths, the
//! scheduler and the primitives tasks wait in, the allocators, syscall and
//! kthread entry, inline helpers. A crash title skips them to name the
//! first frame that is not one (as syzbot's and satyr's lists do); a rule
//! asks where a task waits (`wait_site`) or where an oops happened
//! (`culprit`) through them. Matched on the name without compiler
//! suffixes; a documented, tested list.

/// A function name without the compiler's suffixes (`.cold`,
/// `.constprop.0`, `.isra.0`, `.part.0`, `.llvm.123`).
pub fn base_name(function: &str) -> &str {
    function.split('.').next().unwrap_or(function)
}

/// Why a function is generic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generic {
    /// panic(), kexec, die(), the oops and BUG/WARN machinery, stack dumps,
    /// printk, the sysrq crash handler, the OOM killer's report, and the
    /// checks that detect a corruption but did not cause it (list
    /// debugging, hardened usercopy, the stack protector, fortify).
    Report,
    /// The lockup watchdogs, the timer and NMI interrupt paths that run them.
    Watchdog,
    /// Exception and interrupt entry, the page-fault core every fault
    /// passes (`handle_mm_fault`), softirq dispatch.
    Exception,
    /// Spinlock, rwlock, mutex, rwsem, rtmutex (PREEMPT_RT) acquisition and
    /// slow paths, and the wrappers that only take a lock.
    Lock,
    /// The scheduler and the primitives tasks wait in (completions,
    /// timeouts, delays, wait queues, RCU grace periods).
    Wait,
    /// Memory allocation (page and slab allocators) and the OOM path.
    Alloc,
    /// Syscall and kernel-thread entry, signal delivery on return to user,
    /// the module loader calling an init function.
    Entry,
    /// Inline helpers that are never the place of a bug (preempt counts,
    /// atomics, sanitizer hooks, cpu_relax).
    Helper,
}

impl Generic {
    /// How any task sleeps, spins, takes a lock or crashes, not where it
    /// does: the scheduler, wait primitives, lock slow paths, helpers, the
    /// panic and watchdog machinery. A task's stack shown on one line
    /// keeps the outermost of a run of these only.
    pub fn is_mechanism(self) -> bool {
        matches!(
            self,
            Generic::Wait | Generic::Lock | Generic::Helper | Generic::Report | Generic::Watchdog
        )
    }
}

/// Entry points of asynchronous interrupts (timer and device IRQs, IPIs,
/// NMIs), by prefix: what runs above one on a stack is not the interrupted
/// code's doing. (`asm_exc_*` others are synchronous: a fault, a trap.)
const INTERRUPT_ENTRIES: &[&str] = &[
    "asm_sysvec_",
    "asm_common_interrupt",
    "asm_exc_nmi",
    "asm_spurious_interrupt",
];

/// Whether a function is the entry of an asynchronous interrupt (generic:
/// [`Generic::Exception`]).
pub fn interrupt_entry(function: &str) -> bool {
    let f = base_name(function);
    INTERRUPT_ENTRIES.iter().any(|p| f.starts_with(p))
}

/// Exact names of generic functions (compare after [`base_name`]).
const GENERIC_NAMES: &[(&str, Generic)] = &[
    ("call_timer_fn", Generic::Exception),
    ("__run_timers", Generic::Exception),
    ("__run_timer_base", Generic::Exception),
    ("run_timer_base", Generic::Exception),
    ("run_timer_softirq", Generic::Exception),
    ("expire_timers", Generic::Exception),
    ("run_timersd", Generic::Exception),
    // 6.3+ timer migration: an idle CPU's timers expired by another CPU.
    ("timer_expire_remote", Generic::Exception),
    ("tmigr_handle_remote", Generic::Exception),
    ("tmigr_handle_remote_up", Generic::Exception),
    ("tmigr_handle_remote_cpu", Generic::Exception),
    ("run_ksoftirqd", Generic::Exception),
    ("mem_cgroup_out_of_memory", Generic::Alloc),
    ("try_charge_memcg", Generic::Alloc),
    ("try_charge", Generic::Alloc),
    ("charge_memcg", Generic::Alloc),
    ("__mem_cgroup_charge", Generic::Alloc),
    ("mem_cgroup_charge", Generic::Alloc),
    ("do_anonymous_page", Generic::Exception),
    ("do_fault", Generic::Exception),
    ("do_read_fault", Generic::Exception),
    ("do_cow_fault", Generic::Exception),
    ("do_shared_fault", Generic::Exception),
    ("do_pte_missing", Generic::Exception),
    ("handle_pte_fault", Generic::Exception),
    ("__pte_offset_map", Generic::Exception),
    ("do_wp_page", Generic::Exception),
    ("wp_page_copy", Generic::Exception),
    ("handle_stack_overflow", Generic::Report),
    ("list_del_corruption", Generic::Report),
    ("__list_valid_slowpath", Generic::Report),
    ("__check_object_size", Generic::Report),
    ("check_stack_object", Generic::Report),
    ("check_heap_object", Generic::Report),
    ("usercopy_abort", Generic::Report),
    ("__stack_chk_fail", Generic::Report),
    ("fortify_panic", Generic::Report),
    ("handle_invalid_op", Generic::Exception),
    ("fixup_exception", Generic::Exception),
    ("do_general_protection", Generic::Exception),
    ("do_double_fault", Generic::Exception),
    ("do_invalid_op", Generic::Exception),
    ("do_divide_error", Generic::Exception),
    // Report
    ("panic", Generic::Report),
    ("vpanic", Generic::Report),
    ("nmi_panic", Generic::Report),
    ("__crash_kexec", Generic::Report),
    ("crash_kexec", Generic::Report),
    ("crash_setup_regs", Generic::Report),
    ("machine_crash_shutdown", Generic::Report),
    ("native_machine_crash_shutdown", Generic::Report),
    ("oops_end", Generic::Report),
    ("oops_begin", Generic::Report),
    ("die", Generic::Report),
    ("__die", Generic::Report),
    ("__die_body", Generic::Report),
    ("die_addr", Generic::Report),
    ("do_trap", Generic::Report),
    ("do_error_trap", Generic::Report),
    ("handle_bug", Generic::Report),
    ("report_bug", Generic::Report),
    ("__report_bug", Generic::Report),
    ("__warn", Generic::Report),
    ("warn_slowpath_fmt", Generic::Report),
    ("__warn_printk", Generic::Report),
    ("page_fault_oops", Generic::Report),
    ("kernelmode_fixup_or_oops", Generic::Report),
    ("no_context", Generic::Report),
    ("__bad_area_nosemaphore", Generic::Report),
    ("bad_area_nosemaphore", Generic::Report),
    ("do_kern_addr_fault", Generic::Report),
    ("spurious_kernel_fault", Generic::Report),
    ("sysrq_handle_crash", Generic::Report),
    ("__handle_sysrq", Generic::Report),
    ("handle_sysrq", Generic::Report),
    ("oom_kill_process", Generic::Report),
    ("__oom_kill_process", Generic::Report),
    ("out_of_memory", Generic::Report),
    ("dump_header", Generic::Report),
    ("pagefault_out_of_memory", Generic::Report),
    ("check_panic_on_oom", Generic::Report),
    // Watchdog
    ("watchdog_timer_fn", Generic::Watchdog),
    ("watchdog_overflow_callback", Generic::Watchdog),
    ("watchdog_hardlockup_check", Generic::Watchdog),
    ("__perf_event_overflow", Generic::Watchdog),
    ("perf_event_overflow", Generic::Watchdog),
    ("perf_event_nmi_handler", Generic::Watchdog),
    ("nmi_cpu_backtrace", Generic::Watchdog),
    ("nmi_cpu_backtrace_handler", Generic::Watchdog),
    ("nmi_handle", Generic::Watchdog),
    ("default_do_nmi", Generic::Watchdog),
    ("rcu_dump_cpu_stacks", Generic::Watchdog),
    ("print_cpu_stall", Generic::Watchdog),
    ("check_cpu_stall", Generic::Watchdog),
    ("rcu_pending", Generic::Watchdog),
    ("rcu_sched_clock_irq", Generic::Watchdog),
    ("update_process_times", Generic::Watchdog),
    ("tick_sched_handle", Generic::Watchdog),
    ("tick_sched_timer", Generic::Watchdog),
    ("tick_nohz_handler", Generic::Watchdog),
    ("__hrtimer_run_queues", Generic::Watchdog),
    ("__run_hrtimer", Generic::Watchdog),
    ("hrtimer_interrupt", Generic::Watchdog),
    ("local_apic_timer_interrupt", Generic::Watchdog),
    ("check_hung_uninterruptible_tasks", Generic::Watchdog),
    ("check_hung_task", Generic::Watchdog),
    ("watchdog", Generic::Watchdog),
    // Exception
    ("handle_page_fault", Generic::Exception),
    ("handle_mm_fault", Generic::Exception),
    ("__handle_mm_fault", Generic::Exception),
    ("handle_pte_fault", Generic::Exception),
    ("irq_exit_rcu", Generic::Exception),
    ("__irq_exit_rcu", Generic::Exception),
    ("irq_exit", Generic::Exception),
    ("handle_softirqs", Generic::Exception),
    ("__do_softirq", Generic::Exception),
    ("do_softirq", Generic::Exception),
    // 5.8-5.11 switch to the interrupt stack through these (later kernels
    // inline it): a softirq run at interrupt exit passes both.
    ("do_softirq_own_stack", Generic::Exception),
    ("asm_call_irq_on_stack", Generic::Exception),
    ("asm_call_sysvec_on_stack", Generic::Exception),
    ("asm_call_on_stack", Generic::Exception),
    ("common_interrupt", Generic::Exception),
    ("handle_irq_event", Generic::Exception),
    ("handle_edge_irq", Generic::Exception),
    ("handle_fasteoi_irq", Generic::Exception),
    // Lock
    ("do_raw_spin_lock", Generic::Lock),
    ("virt_spin_lock", Generic::Lock),
    ("mutex_lock", Generic::Lock),
    ("mutex_lock_killable", Generic::Lock),
    ("mutex_lock_interruptible", Generic::Lock),
    ("mutex_lock_io", Generic::Lock),
    ("mutex_lock_nested", Generic::Lock),
    ("down", Generic::Lock),
    ("down_interruptible", Generic::Lock),
    ("down_killable", Generic::Lock),
    ("down_timeout", Generic::Lock),
    ("down_trylock", Generic::Lock),
    ("read_lock", Generic::Lock),
    ("read_lock_irq", Generic::Lock),
    ("read_lock_irqsave", Generic::Lock),
    ("write_lock", Generic::Lock),
    ("write_lock_irq", Generic::Lock),
    ("write_lock_irqsave", Generic::Lock),
    ("spin_lock", Generic::Lock),
    ("spin_lock_irq", Generic::Lock),
    ("spin_lock_irqsave", Generic::Lock),
    ("spin_lock_bh", Generic::Lock),
    ("lock_mm_and_find_vma", Generic::Lock),
    ("get_mmap_lock_carefully", Generic::Lock),
    ("lock_sock_nested", Generic::Lock),
    // Wait
    ("schedule", Generic::Wait),
    ("__schedule", Generic::Wait),
    ("context_switch", Generic::Wait),
    ("finish_task_switch", Generic::Wait),
    ("__switch_to", Generic::Wait),
    ("__switch_to_asm", Generic::Wait),
    ("preempt_schedule", Generic::Wait),
    ("preempt_schedule_common", Generic::Wait),
    ("preempt_schedule_irq", Generic::Wait),
    ("preempt_schedule_notrace", Generic::Wait),
    ("__cond_resched", Generic::Wait),
    ("_cond_resched", Generic::Wait),
    ("__cond_resched_lock", Generic::Wait),
    ("might_resched", Generic::Wait),
    ("might_sleep", Generic::Wait),
    ("io_schedule", Generic::Wait),
    ("io_schedule_timeout", Generic::Wait),
    ("wait_for_completion", Generic::Wait),
    ("__wait_for_common", Generic::Wait),
    ("wait_for_common", Generic::Wait),
    ("wait_for_common_io", Generic::Wait),
    ("do_wait_for_common", Generic::Wait),
    ("msleep", Generic::Wait),
    ("msleep_interruptible", Generic::Wait),
    ("usleep_range", Generic::Wait),
    ("usleep_range_state", Generic::Wait),
    ("__delay", Generic::Wait),
    ("delay_tsc", Generic::Wait),
    ("delay_loop", Generic::Wait),
    ("delay_halt", Generic::Wait),
    ("delay_halt_tpause", Generic::Wait),
    ("delay_halt_mwaitx", Generic::Wait),
    ("__const_udelay", Generic::Wait),
    ("__udelay", Generic::Wait),
    ("__ndelay", Generic::Wait),
    ("udelay", Generic::Wait),
    ("mdelay", Generic::Wait),
    ("prepare_to_wait", Generic::Wait),
    ("prepare_to_wait_event", Generic::Wait),
    ("prepare_to_wait_exclusive", Generic::Wait),
    ("finish_wait", Generic::Wait),
    ("synchronize_rcu", Generic::Wait),
    ("synchronize_rcu_expedited", Generic::Wait),
    ("__wait_rcu_gp", Generic::Wait),
    ("wait_rcu_gp", Generic::Wait),
    ("rt_mutex_schedule", Generic::Wait),
    ("schedule_rtlock", Generic::Wait),
    ("do_nanosleep", Generic::Wait),
    ("hrtimer_nanosleep", Generic::Wait),
    ("bit_wait", Generic::Wait),
    ("bit_wait_io", Generic::Wait),
    ("out_of_line_wait_on_bit", Generic::Wait),
    ("__wait_on_bit", Generic::Wait),
    ("__wait_on_bit_lock", Generic::Wait),
    ("folio_wait_bit_common", Generic::Wait),
    ("folio_wait_bit", Generic::Wait),
    ("wait_on_page_bit_common", Generic::Wait),
    // Alloc
    ("vma_alloc_folio", Generic::Alloc),
    ("alloc_pages_vma", Generic::Alloc),
    ("get_page_from_freelist", Generic::Alloc),
    ("__kmalloc", Generic::Alloc),
    ("kmalloc", Generic::Alloc),
    ("kzalloc", Generic::Alloc),
    ("kmalloc_trace", Generic::Alloc),
    ("policy_node", Generic::Alloc),
    // Entry
    ("do_syscall_64", Generic::Entry),
    ("do_syscall_x64", Generic::Entry),
    ("do_syscall_32_irqs_on", Generic::Entry),
    ("x64_sys_call", Generic::Entry),
    ("syscall_exit_to_user_mode", Generic::Entry),
    ("__syscall_exit_to_user_mode_work", Generic::Entry),
    ("syscall_exit_to_user_mode_prepare", Generic::Entry),
    ("exit_to_user_mode_prepare", Generic::Entry),
    ("arch_exit_to_user_mode_prepare", Generic::Entry),
    ("exit_to_user_mode_loop", Generic::Entry),
    ("irqentry_exit_to_user_mode", Generic::Entry),
    ("arch_do_signal_or_restart", Generic::Entry),
    ("do_signal", Generic::Entry),
    ("get_signal", Generic::Entry),
    ("ret_from_fork", Generic::Entry),
    ("ret_from_fork_asm", Generic::Entry),
    ("kthread", Generic::Entry),
    ("worker_thread", Generic::Entry),
    ("process_one_work", Generic::Entry),
    ("process_scheduled_works", Generic::Entry),
    ("smpboot_thread_fn", Generic::Entry),
    ("do_one_initcall", Generic::Entry),
    ("do_init_module", Generic::Entry),
    ("load_module", Generic::Entry),
    ("init_module_from_file", Generic::Entry),
    ("idempotent_init_module", Generic::Entry),
    ("__do_sys_finit_module", Generic::Entry),
    ("__do_sys_init_module", Generic::Entry),
    // Helper
    ("cpu_relax", Generic::Helper),
    ("rep_nop", Generic::Helper),
    ("__preempt_count_add", Generic::Helper),
    ("__preempt_count_sub", Generic::Helper),
    ("__preempt_count_dec_and_test", Generic::Helper),
    ("preempt_count_add", Generic::Helper),
    ("preempt_count_sub", Generic::Helper),
    ("native_safe_halt", Generic::Helper),
    ("dump_stack", Generic::Helper),
];

/// Prefixes of generic function families.
const GENERIC_PREFIXES: &[(&str, Generic)] = &[
    ("oops_", Generic::Report),
    ("__list_add_valid", Generic::Report),
    ("__list_del_entry_valid", Generic::Report),
    ("do_int3", Generic::Exception),
    ("dump_stack", Generic::Report),
    ("__dump_stack", Generic::Report),
    ("show_stack", Generic::Report),
    ("show_trace_log_lvl", Generic::Report),
    ("show_regs", Generic::Report),
    ("printk", Generic::Report),
    ("_printk", Generic::Report),
    ("vprintk", Generic::Report),
    ("console_", Generic::Report),
    ("asm_exc_", Generic::Exception),
    ("exc_", Generic::Exception),
    ("sysvec_", Generic::Exception),
    ("__sysvec_", Generic::Exception),
    ("irqentry_", Generic::Exception),
    ("_raw_spin_", Generic::Lock),
    ("_raw_read_", Generic::Lock),
    ("_raw_write_", Generic::Lock),
    ("raw_spin_", Generic::Lock),
    ("native_queued_spin_lock", Generic::Lock),
    ("pv_queued_spin_lock", Generic::Lock),
    ("__pv_queued_spin_lock", Generic::Lock),
    ("queued_spin_lock", Generic::Lock),
    ("queued_read_lock", Generic::Lock),
    ("queued_write_lock", Generic::Lock),
    ("__mutex_lock", Generic::Lock),
    ("__mutex_lock_common", Generic::Lock),
    ("mutex_optimistic_spin", Generic::Lock),
    ("rt_mutex_", Generic::Lock),
    ("__rt_mutex_", Generic::Lock),
    ("rtlock_", Generic::Lock),
    ("rwbase_", Generic::Lock),
    ("__rwbase_", Generic::Lock),
    ("rt_spin_lock", Generic::Lock),
    ("rt_read_lock", Generic::Lock),
    ("rt_write_lock", Generic::Lock),
    ("rwsem_down_", Generic::Lock),
    ("rwsem_optimistic_spin", Generic::Lock),
    ("down_read", Generic::Lock),
    ("down_write", Generic::Lock),
    ("__down_", Generic::Lock),
    ("__down", Generic::Lock),
    ("percpu_down_", Generic::Lock),
    ("__percpu_down_", Generic::Lock),
    ("percpu_rwsem_", Generic::Lock),
    ("mmap_read_lock", Generic::Lock),
    ("mmap_write_lock", Generic::Lock),
    ("schedule_timeout", Generic::Wait),
    ("schedule_hrtimeout", Generic::Wait),
    ("schedule_preempt_disabled", Generic::Wait),
    ("__schedule_loop", Generic::Wait),
    ("wait_for_completion", Generic::Wait),
    ("__wait_event", Generic::Wait),
    ("__alloc_pages", Generic::Alloc),
    ("alloc_pages", Generic::Alloc),
    ("__folio_alloc", Generic::Alloc),
    ("folio_alloc", Generic::Alloc),
    ("kmem_cache_alloc", Generic::Alloc),
    ("__kmem_cache_alloc", Generic::Alloc),
    ("slab_alloc", Generic::Alloc),
    ("__kmalloc_", Generic::Alloc),
    ("___kmalloc_", Generic::Alloc),
    ("kmalloc_order", Generic::Alloc),
    ("kmalloc_large", Generic::Alloc),
    ("__get_free_pages", Generic::Alloc),
    ("warn_alloc", Generic::Report),
    ("entry_SYSCALL", Generic::Entry),
    ("entry_INT80", Generic::Entry),
    ("__x64_sys_", Generic::Entry),
    ("__ia32_sys_", Generic::Entry),
    ("__se_sys_", Generic::Entry),
    ("__pfx_", Generic::Helper),
    ("arch_atomic", Generic::Helper),
    ("raw_atomic", Generic::Helper),
    ("atomic_", Generic::Helper),
    ("__kasan_", Generic::Helper),
    ("kasan_", Generic::Helper),
    ("__asan_", Generic::Helper),
    ("__ubsan_", Generic::Helper),
    ("__sanitizer_", Generic::Helper),
    ("instrument_", Generic::Helper),
];

/// Whether (and why) a function is generic: never the place a title names.
pub fn generic(function: &str) -> Option<Generic> {
    let f = base_name(function);
    if interrupt_entry(f) {
        return Some(Generic::Exception);
    }
    if let Some((_, g)) = GENERIC_NAMES.iter().find(|(n, _)| *n == f) {
        return Some(*g);
    }
    GENERIC_PREFIXES
        .iter()
        .find(|(p, _)| f.starts_with(p))
        .map(|(_, g)| *g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_list() {
        for g in [
            "panic",
            "vpanic",
            "__crash_kexec",
            "crash_setup_regs",
            "dump_stack_lvl",
            "watchdog_timer_fn.cold",
            "asm_sysvec_apic_timer_interrupt",
            "asm_spurious_interrupt",
            "asm_exc_nmi",
            "native_queued_spin_lock_slowpath",
            "queued_write_lock_slowpath",
            "__mutex_lock.constprop.0",
            "rt_mutex_slowlock_block.constprop.0",
            "rwbase_write_lock",
            "rwsem_down_read_slowpath",
            "down_read_killable",
            "mmap_read_lock_killable",
            "lock_mm_and_find_vma",
            "schedule",
            "__schedule",
            "schedule_preempt_disabled",
            "schedule_timeout",
            "__wait_for_common",
            "wait_for_completion_killable",
            "delay_tsc",
            "__x64_sys_finit_module",
            "__se_sys_finit_module",
            "entry_SYSCALL_64_after_hwframe",
            "do_syscall_64",
            "kthread",
            "ret_from_fork_asm",
            "do_one_initcall",
            "idempotent_init_module",
            "sysrq_handle_crash",
            "__handle_sysrq.cold",
            "__alloc_pages_slowpath.constprop.0",
            "exc_page_fault",
            "__pfx_vmt_init",
            "__preempt_count_add",
        ] {
            assert!(generic(g).is_some(), "{g} should be generic");
        }
        for n in [
            "do_exit",
            "exit_notify",
            "mm_update_next_owner",
            "write_sysrq_trigger",
            "__do_sys_pause",
            "do_user_addr_fault",
            "vfs_write",
            "do_wait",
            "proc_reg_write",
            "ksys_write",
            "spinner",
            "panic_smth_else_module_fn",
            "schedule_work",
            "downgrade_write",
        ] {
            assert!(generic(n).is_none(), "{n} should not be generic");
        }
        assert_eq!(generic("mutex_lock"), Some(Generic::Lock));
        assert_eq!(generic("msleep"), Some(Generic::Wait));
    }

    #[test]
    fn interrupt_entries_are_the_asynchronous_ones() {
        for e in [
            "asm_sysvec_apic_timer_interrupt",
            "asm_common_interrupt",
            "asm_exc_nmi",
            "asm_spurious_interrupt",
        ] {
            assert!(interrupt_entry(e), "{e}");
        }
        // A fault or a trap is the code's own doing.
        for s in ["asm_exc_page_fault", "asm_exc_invalid_op", "exc_nmi"] {
            assert!(!interrupt_entry(s), "{s}");
        }
    }
}
