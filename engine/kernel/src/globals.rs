//! The globals the model and the rule pack read, declared by their C type
//! for debug info without DWARF (BTF types no global but per-CPU ones).
//! The session hands this list to `kdebuginfo` when it makes debug info
//! from the dump's memory or a plain kernel file
//! (`kdebuginfo::DumpKernel::globals`); a global missing here is a `needs
//! debuginfo` error there. The spellings are `kdebuginfo::GlobalDecl`'s.

use kdebuginfo::GlobalDecl;

/// Every global read by name without DWARF.
pub const GLOBALS: &[GlobalDecl] = &[
    GlobalDecl::new("init_task", &["struct task_struct"]),
    GlobalDecl::new("tasklist_lock", &["rwlock_t"]),
    GlobalDecl::new("task_state_array", &["char *[~]"]),
    GlobalDecl::new("panic_cpu", &["atomic_t"]),
    GlobalDecl::new("jiffies_64", &["u64"]),
    GlobalDecl::new("jiffies", &["long unsigned int"]),
    GlobalDecl::new("tk_core", &["struct {seq,timekeeper}"]),
    GlobalDecl::new("init_pid_ns", &["struct pid_namespace"]),
    GlobalDecl::new("tainted_mask", &["long unsigned int"]),
    GlobalDecl::new("taint_flags", &["struct taint_flag[~]"]),
    GlobalDecl::new("prb", &["struct printk_ringbuffer *"]),
    GlobalDecl::new("saved_command_line", &["char *"]),
    GlobalDecl::new("crash_notes", &["note_buf_t *"]),
    GlobalDecl::new("worker_pool_idr", &["struct idr"]),
    GlobalDecl::new("vm_zone_stat", &["atomic_long_t[NR_VM_ZONE_STAT_ITEMS]"]),
    GlobalDecl::new("vm_node_stat", &["atomic_long_t[NR_VM_NODE_STAT_ITEMS]"]),
    GlobalDecl::new("tick_nsec", &["long unsigned int"]),
    GlobalDecl::new("avenrun", &["long unsigned int[3]"]),
    GlobalDecl::new("rcu_state", &["struct rcu_state"]),
    GlobalDecl::new("gp_state_names", &["char *[~]"]),
    GlobalDecl::new("rcu_num_lvls", &["int"]),
    GlobalDecl::new("rcu_num_nodes", &["int"]),
    GlobalDecl::new("nr_threads", &["int"]),
    GlobalDecl::new("nr_node_ids", &["unsigned int"]),
    GlobalDecl::new("nr_cpu_ids", &["unsigned int"]),
    GlobalDecl::new("node_data", &["struct pglist_data *[]"]),
    GlobalDecl::new("contig_page_data", &["struct pglist_data"]),
    GlobalDecl::new("_totalram_pages", &["atomic_long_t"]),
    GlobalDecl::new("__cpu_online_mask", &["struct cpumask"]),
    GlobalDecl::new("__cpu_possible_mask", &["struct cpumask"]),
    GlobalDecl::new("modules", &["struct list_head"]),
    GlobalDecl::new("slab_caches", &["struct list_head"]),
    GlobalDecl::new("root_mem_cgroup", &["struct mem_cgroup *"]),
    GlobalDecl::new("panic_on_oops", &["int"]),
    GlobalDecl::new("panic_on_warn", &["int"]),
    GlobalDecl::new("sysctl_panic_on_rcu_stall", &["int"]),
    GlobalDecl::new("pid_max", &["int"]),
    GlobalDecl::new("max_threads", &["int"]),
    // Per-CPU: BTF lists them as VARs when pahole encodes them (not 5.10's).
    GlobalDecl::new("runqueues", &["struct rq"]),
    GlobalDecl::new("softlockup_panic", &["unsigned int", "int"]),
    GlobalDecl::new("sysctl_hung_task_panic", &["unsigned int", "int"]),
    GlobalDecl::new("sysctl_hung_task_timeout_secs", &["long unsigned int"]),
    GlobalDecl::new("init_uts_ns", &["struct uts_namespace"]),
    GlobalDecl::new("mem_section", &["struct mem_section **"]),
    GlobalDecl::new("__per_cpu_offset", &["long unsigned int[]"]),
];
