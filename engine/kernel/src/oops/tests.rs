use super::*;

fn one(log: &str) -> OopsReport {
    let r = parse_lines(log.lines());
    assert_eq!(r.len(), 1, "{r:#?}");
    r.into_iter().next().unwrap()
}

fn names(fs: &[&PrintedFrame]) -> Vec<String> {
    fs.iter()
        .map(|f| match (&f.function, &f.module) {
            (Some(n), Some(m)) => format!("{n} [{m}]"),
            (Some(n), None) => n.clone(),
            (None, _) => format!("{:#x}", f.address.unwrap_or(0)),
        })
        .collect()
}

/// 6.1 (Debian 6.1.192): a NULL dereference in a module's init.
const NULL_6_1: &str = "\
BUG: kernel NULL pointer dereference, address: 0000000000000000
#PF: supervisor write access in kernel mode
#PF: error_code(0x0002) - not-present page
PGD 285e1067 P4D 285e1067 PUD 285dd067 PMD 0 
Oops: 0002 [#1] PREEMPT SMP NOPTI
CPU: 1 PID: 101 Comm: insmod Kdump: loaded Tainted: G           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
RIP: 0010:vmt_init+0x117/0x1000 [vmtriage_scen]
Code: c0 e8 4d 13 e0 d9 e9 18 01 00 00 48 c7 c6 90 12 3c c0 48 89 df <c7> 04 25 00 00 00 00 01
RSP: 0018:ffffd5e1c0413b10 EFLAGS: 00000246
RAX: 0000000000000021 RBX: ffff8f0542718fb0 RCX: c0000000ffffefff
CR2: 0000000000000000 CR3: 0000000002514000 CR4: 0000000000750ea0
PKRU: 55555554
Call Trace:
 <TASK>
 ? 0xffffffffc03f1000
 do_one_initcall+0x59/0x220
 do_init_module+0x4a/0x1f0
 __do_sys_finit_module+0xac/0x120
 do_syscall_64+0x5d/0x90
 ? page_add_file_rmap+0xba/0x2f0
 entry_SYSCALL_64_after_hwframe+0x6e/0xd8
RIP: 0033:0x47fbe9
Code: 08 89 e8 5b 5d c3 66 2e 0f 1f 84 00 00 00 00 00 90 48 89 f8 48 89 f7 48 89 d6 48 89 ca
RSP: 002b:00007ffe9086f1d8 EFLAGS: 00000246 ORIG_RAX: 0000000000000139
 </TASK>
Modules linked in: vmtriage_scen(OE+) virtio_blk virtio_pci qemu_fw_cfg
CR2: 0000000000000000";

#[test]
fn null_dereference_6_1() {
    let r = one(NULL_6_1);
    assert_eq!(r.kind, OopsKind::PageFault { null: true });
    assert_eq!(r.address, Some(0));
    assert_eq!(r.cpu, Some(1));
    assert_eq!(
        r.task,
        Some(OopsTask {
            comm: "insmod".into(),
            pid: 101
        })
    );
    assert_eq!(r.tainted.as_deref(), Some("OE"));
    let rip = r.rip.clone().unwrap();
    assert_eq!(rip.function.as_deref(), Some("vmt_init"));
    assert_eq!((rip.offset, rip.size), (0x117, 0x1000));
    assert_eq!(rip.module.as_deref(), Some("vmtriage_scen"));
    assert_eq!(r.call_trace.len(), 7);
    assert!(!r.call_trace[0].reliable);
    assert_eq!(r.call_trace[0].address, Some(0xffffffffc03f1000));
    assert_eq!(r.call_trace[1].context.as_deref(), Some("TASK"));
    assert_eq!(
        names(&r.frames()),
        [
            "vmt_init [vmtriage_scen]",
            "do_one_initcall",
            "do_init_module",
            "__do_sys_finit_module",
            "do_syscall_64",
            "entry_SYSCALL_64_after_hwframe"
        ]
    );
}

/// 6.12: `Oops: Oops:`, `UID:` in the CPU line, the taint legend line.
#[test]
fn null_dereference_6_12() {
    let r = one("\
BUG: kernel NULL pointer dereference, address: 0000000000000000
Oops: Oops: 0002 [#1] PREEMPT SMP NOPTI
CPU: 0 UID: 0 PID: 146 Comm: insmod Kdump: loaded Tainted: G           OE      6.12.118+deb13-cloud-amd64 #1  Debian 6.12.118-1
Tainted: [O]=OOT_MODULE, [E]=UNSIGNED_MODULE
RIP: 0010:vmt_init+0x11b/0xff0 [vmtriage_scen]
Call Trace:
 <TASK>
 ? __pfx_vmt_init+0x10/0x10 [vmtriage_scen]
 do_one_initcall+0x5b/0x310
 __x64_sys_finit_module+0x5e/0xb0
 </TASK>");
    assert_eq!(r.kind, OopsKind::PageFault { null: true });
    assert_eq!(r.cpu, Some(0));
    assert_eq!(r.task.as_ref().map(|t| t.pid), Some(146));
    assert_eq!(r.tainted.as_deref(), Some("OE"));
    assert_eq!(
        names(&r.frames()),
        [
            "vmt_init [vmtriage_scen]",
            "do_one_initcall",
            "__x64_sys_finit_module"
        ]
    );
}

/// A soft lockup, then the panic it causes, whose trace crosses the
/// timer interrupt's exception frame (6.1).
#[test]
fn soft_lockup_then_panic() {
    let r = parse_lines(
            "\
watchdog: BUG: soft lockup - CPU#0 stuck for 9s! [vmt_spinner:103]
Modules linked in: vmtriage_scen(OE) virtio_blk qemu_fw_cfg
CPU: 0 PID: 103 Comm: vmt_spinner Kdump: loaded Tainted: G           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
RIP: 0010:spinner+0x1a/0x20 [vmtriage_scen]
RSP: 0018:ffffd542403b3f18 EFLAGS: 00000246
Call Trace:
 <TASK>
 kthread+0xda/0x100
 ? kthread_complete_and_exit+0x20/0x20
 ret_from_fork+0x22/0x30
 </TASK>
Kernel panic - not syncing: softlockup: hung tasks
CPU: 0 PID: 103 Comm: vmt_spinner Kdump: loaded Tainted: G           OEL     6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
Call Trace:
 <IRQ>
 dump_stack_lvl+0x44/0x5c
 panic+0x118/0x2f4
 watchdog_timer_fn.cold+0xc/0x16
 </IRQ>
 <TASK>
 asm_sysvec_apic_timer_interrupt+0x16/0x20
RIP: 0010:spinner+0x1a/0x20 [vmtriage_scen]
RSP: 0018:ffffd542403b3f18 EFLAGS: 00000246
 ? spinner+0x18/0x20 [vmtriage_scen]
 kthread+0xda/0x100
 </TASK>"
                .lines(),
        );
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].kind, OopsKind::SoftLockup { cpu: 0, seconds: 9 });
    assert_eq!(
        r[0].task.as_ref().map(|t| t.comm.as_str()),
        Some("vmt_spinner")
    );
    assert_eq!(
        names(&r[0].frames()),
        ["spinner [vmtriage_scen]", "kthread", "ret_from_fork"]
    );
    assert_eq!(r[1].kind, OopsKind::Panic);
    assert_eq!(r[1].message.as_deref(), Some("softlockup: hung tasks"));
    assert_eq!(r[1].tainted.as_deref(), Some("OEL"));
    assert_eq!(r[1].call_trace[0].context.as_deref(), Some("IRQ"));
    let regs = r[1].call_trace.iter().find(|f| f.from_regs).unwrap();
    assert_eq!(regs.function.as_deref(), Some("spinner"));
    assert_eq!(regs.context.as_deref(), Some("TASK"));
    assert_eq!(
        names(&r[1].frames()),
        [
            "dump_stack_lvl",
            "panic",
            "watchdog_timer_fn.cold",
            "asm_sysvec_apic_timer_interrupt",
            "spinner [vmtriage_scen]",
            "kthread"
        ]
    );
}

/// 5.10 hung task: no `<TASK>` markers, padded `pid:` fields.
#[test]
fn hung_task_5_10() {
    let r = parse_lines(
        "\
INFO: task vmt_rwsem_owner:89 blocked for more than 5 seconds.
      Tainted: G           OE     5.10.0-32-cloud-amd64 #1 Debian 5.10.223-1
\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.
task:vmt_rwsem_owner state:D stack:    0 pid:   89 ppid:     2 flags:0x00004000
Call Trace:
 __schedule+0x282/0x870
 ? usleep_range+0x90/0x90
 schedule+0x46/0xb0
 schedule_timeout+0x107/0x150
 __wait_for_common+0xb9/0x170
 ? stall_fault+0x20/0x20 [vmtriage_scen]
 rwsem_writer+0x29/0x40 [vmtriage_scen]
 kthread+0x11b/0x140
 ret_from_fork+0x22/0x30
INFO: task cat:91 blocked for more than 120 seconds.
task:cat             state:D stack:    0 pid:   91 ppid:     1 flags:0x00000002
Call Trace:
 __schedule+0x282/0x870
 rwsem_down_read_slowpath+0x30e/0x530
RIP: 0033:0x47b6fd
RSP: 002b:00007ffce4701a48 EFLAGS: 00000246 ORIG_RAX: 0000000000000000"
            .lines(),
    );
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].kind, OopsKind::HungTask { seconds: 5 });
    assert_eq!(
        r[0].task,
        Some(OopsTask {
            comm: "vmt_rwsem_owner".into(),
            pid: 89
        })
    );
    assert_eq!(r[0].call_trace.len(), 9);
    assert_eq!(r[0].call_trace[0].context, None);
    assert_eq!(
        names(&r[0].frames())[3..5],
        ["__wait_for_common", "rwsem_writer [vmtriage_scen]"]
    );
    assert_eq!(r[1].kind, OopsKind::HungTask { seconds: 120 });
    assert_eq!(r[1].task.as_ref().map(|t| t.pid), Some(91));
    assert!(r[1].rip.is_none(), "a user RIP is no kernel location");
}

#[test]
fn sysrq_and_its_panic() {
    let r = parse_lines(
        "\
sysrq: Trigger a crash
Kernel panic - not syncing: sysrq triggered crash
CPU: 0 PID: 1 Comm: init Kdump: loaded Not tainted 5.10.0-32-cloud-amd64 #1 Debian 5.10.223-1
Call Trace:
 dump_stack+0x6b/0x83
 panic+0x114/0x2f1
 ? printk+0x58/0x73
 sysrq_handle_crash+0x16/0x20
 __handle_sysrq.cold+0x43/0x11a
 write_sysrq_trigger+0x24/0x40"
            .lines(),
    );
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].kind, OopsKind::SysrqCrash);
    assert_eq!(r[1].tainted.as_deref(), Some(""));
    assert_eq!(
        r[1].task,
        Some(OopsTask {
            comm: "init".into(),
            pid: 1
        })
    );
    assert_eq!(names(&r[1].frames()).len(), 5);
}

#[test]
fn allocation_failure_names_its_order_flags_and_caller() {
    // 5.10, from the fragmentation scenario.
    let r = one("vmt_ringd: page allocation failure: order:9, mode:0x40cc0(GFP_KERNEL|__GFP_COMP), nodemask=(null),cpuset=/,mems_allowed=0
CPU: 0 PID: 109 Comm: vmt_ringd Tainted: G           OE     5.10.0-32-cloud-amd64 #1 Debian 5.10.223-1
Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
Call Trace:
 dump_stack+0x6b/0x83
 warn_alloc+0x138/0x160
 ? __alloc_pages_direct_compact+0x167/0x170
 __alloc_pages_slowpath.constprop.0+0xc8a/0xcc0
 __alloc_pages_nodemask+0x2de/0x310
 kmalloc_order+0x28/0x100
 kmalloc_order_trace+0x19/0x90
 vmt_ring_resize+0x17/0x40 [vmtriage_mm]
 vmt_ringd+0x26/0x4e [vmtriage_mm]
 kthread+0x11b/0x140
 ret_from_fork+0x22/0x30
Mem-Info:
");
    assert_eq!(
        r.kind,
        OopsKind::AllocFailure {
            order: 9,
            gfp: Some("GFP_KERNEL|__GFP_COMP".into())
        }
    );
    assert_eq!(r.kind.key(), "alloc_failure");
    assert!(!r.kind.is_oops());
    assert_eq!(
        r.task,
        Some(OopsTask {
            comm: "vmt_ringd".into(),
            pid: 109
        })
    );
    assert_eq!(r.cpu, Some(0));
    assert_eq!(r.site().as_deref(), Some("vmt_ring_resize [vmtriage_mm]"));
    // A mask without names (old kernels) and a comm with a colon.
    let r = one("a:b: page allocation failure: order:0, mode:0x20\n");
    assert_eq!(
        r.kind,
        OopsKind::AllocFailure {
            order: 0,
            gfp: None
        }
    );
    assert_eq!(r.task.map(|t| t.comm), Some("a:b".into()));
}

#[test]
fn oom_kill_names_its_victim() {
    let mut log = String::from(
            "eater invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=1000
CPU: 1 PID: 99 Comm: eater Not tainted 6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
Call Trace:
 <TASK>
 dump_stack_lvl+0x44/0x5c
 dump_header+0x4c/0x22b
 oom_kill_process.cold+0xb/0x10
 out_of_memory+0x1fd/0x4c0
 </TASK>
Mem-Info:
",
        );
    // A long task list before the victim.
    for i in 0..1000 {
        log.push_str(&format!(
            "[ {i:6}]     0  {i}   565  1  28672  0  0 sleep\n"
        ));
    }
    log.push_str("Out of memory: Killed process 99 (eater) total-vm:447252kB, anon-rss:445036kB, file-rss:4kB, shmem-rss:704kB, UID:0 pgtables:904kB oom_score_adj:1000\n");
    let r = one(&log);
    assert_eq!(r.kind, OopsKind::OomKill);
    assert_eq!(r.task.as_ref().map(|t| t.pid), Some(99));
    assert_eq!(
        r.victim,
        Some(OopsTask {
            comm: "eater".into(),
            pid: 99
        })
    );
    assert_eq!(r.call_trace.len(), 4);
}

/// 6.1-rt: the RCU stall report is followed by NMI backtraces of the
/// stalled CPU (kept) and the grace-period kthread's stack (not this
/// report's trace).
#[test]
fn rcu_stall_keeps_the_first_trace() {
    let r = one("\
rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
rcu: \t1-...!: (3615 ticks this GP) idle=d6dc/1/0x4000000000000000 softirq=0/0 fqs=1 rcuc=5246 jiffies(starved)
\t(detected by 3, t=5252 jiffies, g=-683, q=100 ncpus=4)
Sending NMI from CPU 3 to CPUs 1:
NMI backtrace for cpu 1
CPU: 1 PID: 624 Comm: vmt_tasklist Tainted: G           OEL     6.1.0-56-rt-amd64 #1  Debian 6.1.192-2
RIP: 0010:delay_tsc+0x55/0xf0
Call Trace:
 <TASK>
 tasklist_holder.cold+0x44/0xcb9 [vmtriage_scen]
 kthread+0x104/0x120
 </TASK>
rcu: RCU grace-period kthread stack dump:
task:rcu_preempt     state:R  running task     stack:0     pid:17    ppid:2      flags:0x00004000
Call Trace:
 <TASK>
 __schedule+0x364/0xa70
 </TASK>");
    assert_eq!(r.kind, OopsKind::RcuStall);
    assert_eq!(r.cpu, Some(1));
    assert_eq!(
        r.task.as_ref().map(|t| t.comm.as_str()),
        Some("vmt_tasklist")
    );
    assert_eq!(r.tainted.as_deref(), Some("OEL"));
    assert_eq!(
        names(&r.frames()),
        [
            "delay_tsc",
            "tasklist_holder.cold [vmtriage_scen]",
            "kthread"
        ]
    );
}

/// 6.12: a stall with every quiescent state seen (the grace-period
/// kthread starved): the report's task and trace are those of the CPU
/// the kthread last ran on, what keeps it from running.
#[test]
fn rcu_stall_of_a_starved_kthread() {
    let r = one("\
rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
rcu: \t(detected by 3, t=5267 jiffies, g=-695, q=4 ncpus=4)
rcu: All QSes seen, last rcu_preempt kthread activity 5265 (4294899037-4294893772), jiffies_till_next_fqs=1, root ->qsmask 0x0
rcu: rcu_preempt kthread starved for 5265 jiffies! g-695 f0x2 RCU_GP_WAIT_FQS(5) ->state=0x0 ->cpu=0
rcu: RCU grace-period kthread stack dump:
task:rcu_preempt     state:R  running task     stack:0     pid:18    tgid:18    ppid:2      flags:0x00004000
Call Trace:
 <TASK>
 __schedule+0x4ea/0xbe0
 rcu_gp_fqs_loop+0x10b/0x540
 rcu_gp_kthread+0xe0/0x1b0
 </TASK>
rcu: Stack dump where RCU GP kthread last ran:
Sending NMI from CPU 3 to CPUs 0:
NMI backtrace for cpu 0
CPU: 0 UID: 0 PID: 584 Comm: storm Tainted: G           OEL     6.12.118+deb13-cloud-amd64 #1  Debian 6.12.118-1
Call Trace:
 <TASK>
 queued_read_lock_slowpath+0x115/0x120
 </TASK>");
    assert_eq!(
        r.task,
        Some(OopsTask {
            comm: "storm".into(),
            pid: 584
        })
    );
    assert_eq!(r.call_trace.len(), 1);
    assert_eq!(r.cpu, Some(0));
}

/// Formats the corpus does not show, from upstream kernels' output.
#[test]
fn other_oops_kinds() {
    let r = one("\
general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] SMP NOPTI
CPU: 3 PID: 2231 Comm: kworker/3:2 Tainted: P           O      5.10.0-20-amd64 #1 Debian 5.10.158-2
RIP: 0010:__list_del_entry_valid+0x25/0xc0");
    assert_eq!(
        r.kind,
        OopsKind::GeneralProtection {
            non_canonical: true
        }
    );
    assert_eq!(r.address, Some(0xdead000000000122));
    assert_eq!(
        r.task.as_ref().map(|t| t.comm.as_str()),
        Some("kworker/3:2")
    );
    assert_eq!(r.tainted.as_deref(), Some("PO"));

    let r = one("\
Oops: general protection fault, probably for non-canonical address 0xdffffc0000000001: 0000 [#1] PREEMPT SMP KASAN NOPTI");
    assert_eq!(r.address, Some(0xdffffc0000000001));

    let r = one("\
------------[ cut here ]------------
kernel BUG at mm/slub.c:4210!
invalid opcode: 0000 [#1] SMP PTI
CPU: 0 PID: 1 Comm: swapper/0 Not tainted 5.10.0 #1
RIP: 0010:kfree+0x2a5/0x2c0");
    assert_eq!(
        r.kind,
        OopsKind::Bug {
            file: "mm/slub.c".into(),
            line: 4210
        }
    );
    assert_eq!(r.rip.unwrap().function.as_deref(), Some("kfree"));

    let r = one("\
list_del corruption, ffff888100a3c8c8->next is LIST_POISON1 (dead000000000100)
------------[ cut here ]------------
kernel BUG at lib/list_debug.c:47!
invalid opcode: 0000 [#1] PREEMPT SMP NOPTI
CPU: 2 PID: 77 Comm: kworker/2:1 Not tainted 6.1.0 #1");
    assert_eq!(r.kind, OopsKind::ListCorruption);
    assert_eq!(r.cpu, Some(2));

    let r = one("\
list_add corruption. prev->next should be next (ffffffffc0a0b040), but was 0000000000000000. (prev=ffff9e0f4a6c1e00).
WARNING: CPU: 1 PID: 5 at lib/list_debug.c:30 __list_add_valid+0x7a/0xa0
CPU: 1 PID: 5 Comm: kworker/1:0 Not tainted 6.12.0 #1");
    assert_eq!(r.kind, OopsKind::ListCorruption);

    // WARN()'s text comes between `cut here` and the WARNING line
    // (6.1's, verbatim); a bare WARN_ON() has none, nor has a BUG().
    let r = one("\
------------[ cut here ]------------
Voluntary context switch within RCU read-side critical section!
WARNING: CPU: 1 PID: 103 at kernel/rcu/tree_plugin.h:320 rcu_note_context_switch+0x4ee/0x650
CPU: 1 PID: 103 Comm: cfg_watch Kdump: loaded Tainted: G           OE      6.1.0-57-cloud-amd64 #1  Debian 6.1.192-3");
    assert_eq!(
        r.message.as_deref(),
        Some("Voluntary context switch within RCU read-side critical section!")
    );
    let r = one("\
------------[ cut here ]------------
WARNING: CPU: 0 PID: 0 at drivers/foo.c:10 foo_timer+0x1/0x2 [foo]");
    assert_eq!(r.message, None);
    let r = parse_lines(
        "------------[ cut here ]------------
kernel BUG at mm/slub.c:4210!
invalid opcode: 0000 [#1] SMP PTI
---[ end trace 0000000000000000 ]---
some unrelated line
WARNING: CPU: 0 PID: 1 at drivers/foo.c:10 foo+0x1/0x2"
            .lines(),
    );
    assert_eq!((r.len(), r[0].message.as_deref()), (2, None));
    assert_eq!(r[1].message, None);

    let r = one("\
WARNING: CPU: 1 PID: 123 at net/core/dev.c:10654 unregister_netdevice_many+0x6d/0x8a0 [foo]
Modules linked in: foo
CPU: 1 PID: 123 Comm: ip Not tainted 6.1.0 #1");
    assert_eq!(
        r.kind,
        OopsKind::Warning {
            file: "net/core/dev.c".into(),
            line: 10654
        }
    );
    let rip = r.rip.unwrap();
    assert_eq!(rip.function.as_deref(), Some("unregister_netdevice_many"));
    assert_eq!(rip.module.as_deref(), Some("foo"));

    assert!(parse_lines(["WARNING: this driver is deprecated"]).is_empty());
    assert_eq!(
        one("WARNING: possible circular locking dependency detected").kind,
        OopsKind::Lockdep(LockdepBug::CircularDependency)
    );

    let r = one("BUG: unable to handle page fault for address: ffffffffc0a0b000");
    assert_eq!(r.kind, OopsKind::PageFault { null: false });
    assert_eq!(r.address, Some(0xffffffffc0a0b000));
    let r = one("BUG: unable to handle kernel NULL pointer dereference at 0000000000000008");
    assert_eq!(
        (r.kind, r.address),
        (OopsKind::PageFault { null: true }, Some(8))
    );
    let r = one("BUG: stack guard page was hit at 00000000c1a1b9c5 (stack is 0000000093f2e1de..00000000c7d58b8a)");
    assert_eq!(r.kind, OopsKind::StackOverflow);
    let r = one("kernel stack overflow (double-fault): 0000 [#1] SMP");
    assert_eq!(r.kind, OopsKind::StackOverflow);
    assert_eq!(
        one("Oops: divide error: 0000 [#1] PREEMPT SMP NOPTI").kind,
        OopsKind::DivideError
    );
    assert_eq!(
        one("invalid opcode: 0000 [#1] SMP NOPTI").kind,
        OopsKind::InvalidOpcode
    );
    assert_eq!(one("Oops: 0000 [#1] SMP").kind, OopsKind::Oops);
    assert_eq!(
        one("NMI watchdog: Watchdog detected hard LOCKUP on cpu 3").kind,
        OopsKind::HardLockup { cpu: Some(3) }
    );
    assert_eq!(
        one("rcu: INFO: rcu_preempt self-detected stall on CPU").kind,
        OopsKind::RcuStall
    );
    assert_eq!(one("SysRq : Trigger a crash").kind, OopsKind::SysrqCrash);
    let r = one("Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled");
    assert_eq!(
        r.message.as_deref(),
        Some("Out of memory: system-wide panic_on_oom is enabled")
    );
}

/// A comm with a colon and spaces.
#[test]
fn odd_comms() {
    let r = one("watchdog: BUG: soft lockup - CPU#2 stuck for 22s! [kworker/2:1:77]");
    assert_eq!(
        r.task,
        Some(OopsTask {
            comm: "kworker/2:1".into(),
            pid: 77
        })
    );
    let r = one("\
INFO: task my task:1234 blocked for more than 122 seconds.
CPU: 0 PID: 1234 Comm: my task Tainted: G        W         6.1.0 #1");
    assert_eq!(r.task.as_ref().map(|t| t.comm.as_str()), Some("my task"));
    assert_eq!(r.tainted.as_deref(), Some("W"));
}

/// Nothing panics on hostile lines, and counts stay bounded.
#[test]
fn hostile_input() {
    let bad = [
        "",
        "CPU: ",
        "CPU: PID: Comm:",
        "CPU: 99999999999999999999 PID: x Comm: ",
        "RIP: 0010:",
        "RIP: 0010:+0x/0x",
        "RIP: ::::",
        "BUG: kernel NULL pointer dereference, address: ",
        "BUG: unable to handle page fault for address: zz",
        "general protection fault, probably for non-canonical address 0x",
        "kernel BUG at !",
        "kernel BUG at :x!",
        "watchdog: BUG: soft lockup - CPU#",
        "INFO: task :x blocked for more than ",
        "INFO: task  blocked for more than 99999999999999999999999 seconds",
        " invoked oom-killer:",
        "Out of memory: Killed process ",
        "Out of memory: Killed process 1 (",
        "Call Trace:",
        " ? ",
        " [<",
        " [<ffff>] ",
        " f+0x1/",
        " é+0x1/0x2 [ü]",
        "WARNING: CPU: x PID: y at",
        "task:",
        "task: state: pid:",
        "task:x state:D pid:99999999999999999999",
        "\u{0}\u{1}\u{ffff}",
    ];
    let mut lines: Vec<&str> = Vec::new();
    for b in bad {
        lines.push(b);
        lines.push("Call Trace:");
        lines.push(b);
    }
    let _ = parse_lines(lines.iter().copied());
    for b in bad {
        for c in bad {
            let _ = parse_lines([b, c, "Call Trace:", b, c]);
        }
    }
    // Bounded: a flood of reports and an endless trace.
    let flood: Vec<String> = (0..MAX_REPORTS + 10)
        .map(|i| format!("INFO: task t:{i} blocked for more than 1 seconds."))
        .collect();
    assert_eq!(
        parse_lines(flood.iter().map(|s| s.as_str())).len(),
        MAX_REPORTS
    );
    let mut long = vec![
        "BUG: kernel NULL pointer dereference, address: 0",
        "Call Trace:",
    ];
    long.extend(std::iter::repeat_n(" f+0x1/0x2", 1000));
    let r = parse_lines(long);
    assert_eq!(r[0].call_trace.len(), MAX_FRAMES);
}

/// 5.10: a double list_del caught by CONFIG_DEBUG_LIST; the culprit is
/// the caller of the check, the crash is the BUG, not the panic.
#[test]
fn list_corruption_culprit_and_crash() {
    let log = "\
list_del corruption. prev->next should be ffffffffc04114a0, but was ffffffffc04114b8
------------[ cut here ]------------
kernel BUG at lib/list_debug.c:59!
invalid opcode: 0000 [#1] SMP NOPTI
CPU: 1 PID: 92 Comm: vmt_reaper Kdump: loaded Tainted: G           OE     5.10.0-32-cloud-amd64 #1 Debian 5.10.223-1
RIP: 0010:__list_del_entry_valid.cold+0x31/0x69
Call Trace:
 vmt_pool_release.constprop.0+0x11/0x50 [vmtriage_faults]
 vmt_reaper+0x44/0x60 [vmtriage_faults]
 kthread+0x11b/0x140
Kernel panic - not syncing: Fatal exception";
    let r = parse_lines(log.lines());
    assert_eq!(r[0].kind, OopsKind::ListCorruption);
    let c = r[0].culprit().unwrap();
    assert_eq!(c.function.as_deref(), Some("vmt_pool_release.constprop.0"));
    assert_eq!(c.module.as_deref(), Some("vmtriage_faults"));
    let crash = crash(&r).unwrap();
    assert_eq!(crash.cause, Some(0));
    assert_eq!(crash.reason, Some(PanicReason::FatalException));
}

#[test]
fn poison_values() {
    assert!(poison(0xdead_0000_0000_0110).unwrap().contains("list_del"));
    assert!(poison(0x6b6b_6b6b_6b6b_6b73).unwrap().contains("kfree"));
    assert_eq!(poison(0xffff_8880_0000_0000), None);
    assert_eq!(poison(0), None);
}

/// A panic in words of its own (the stack-overflow handler's) is caused
/// by the oops before it; an OOM panic by no report.
#[test]
fn crash_cause_by_panic_message() {
    let r = parse_lines(
            "BUG: stack guard page was hit at 0000000012345678 (stack is 0000000011111111..0000000022222222)
kernel stack overflow (double-fault): 0000 [#1] PREEMPT SMP NOPTI
Kernel panic - not syncing: Machine halted."
                .lines(),
        );
    let c = crash(&r).unwrap();
    assert_eq!(c.reason, Some(PanicReason::Other));
    assert!(r[c.cause.unwrap()].kind.is_oops());
    let r = parse_lines([
        "Kernel panic - not syncing: Out of memory: compulsory panic_on_oom is enabled",
    ]);
    assert_eq!(crash(&r).unwrap().cause, None);
    assert_eq!(crash(&parse_lines(["hello"])), None);
}

/// 6.12-rt: the grace-period kthread starved; the report is about the
/// CPU it last ran on, not the kthread's own stack.
#[test]
fn rcu_stall_of_a_starved_kthread_names_its_cpu() {
    let log = "\
rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
rcu: rcu_preempt kthread starved for 1252 jiffies! g-555 f0x2 RCU_GP_WAIT_FQS(5) ->state=0x0 ->cpu=0
rcu: RCU grace-period kthread stack dump:
task:rcu_preempt     state:R  running task     stack:0     pid:19    tgid:19    ppid:2      flags:0x00004000
Call Trace:
 <TASK>
 __schedule+0x4f1/0xc00
 rcu_gp_fqs_loop+0x10b/0x540
 rcu_gp_kthread+0xe0/0x1b0
 </TASK>
rcu: Stack dump where RCU GP kthread last ran:
CPU: 0 UID: 0 PID: 168 Comm: vmt_spinner Kdump: loaded Tainted: G           OE      6.12.118+deb13-rt-amd64 #1  Debian 6.12.118-1
RIP: 0010:spinner+0x1e/0x20 [vmtriage_scen]
RSP: 0018:ffffcfda004afef8 EFLAGS: 00000246";
    let r = one(log);
    assert_eq!(r.kind, OopsKind::RcuStall);
    assert_eq!(
        r.rip.as_ref().and_then(|f| f.function.as_deref()),
        Some("spinner")
    );
    assert_eq!(r.task.as_ref().map(|t| t.pid), Some(168));
    assert_eq!(r.cpu, Some(0));
}

/// 6.12-rt, self-detected: the starved kthread last ran on the stalled
/// CPU, whose own dump follows the kthread's stack with no heading.
#[test]
fn self_detected_stall_after_the_kthread_stack_names_the_cpu() {
    let log = "\
rcu: INFO: rcu_preempt self-detected stall on CPU
rcu: \t1-...!: (1249 ticks this GP) idle=4f0c/1/0x4000000000000000 softirq=0/0 fqs=0 rcuc=1252 jiffies(starved)
rcu: rcu_preempt kthread starved for 1251 jiffies! g-667 f0x0 RCU_GP_WAIT_FQS(5) ->state=0x402 ->cpu=1
rcu: RCU grace-period kthread stack dump:
task:rcu_preempt     state:I stack:0     pid:17    tgid:17    ppid:2      flags:0x00004000
Call Trace:
 <TASK>
 __schedule+0x4f1/0xc00
 schedule+0x27/0xc0
 schedule_timeout+0x8d/0x110
 rcu_gp_fqs_loop+0x10b/0x540
 rcu_gp_kthread+0xe0/0x1b0
 </TASK>
CPU: 1 UID: 0 PID: 169 Comm: vmt_spinner Kdump: loaded Tainted: G           OE      6.12.118+deb13-rt-amd64 #1  Debian 6.12.118-1
RIP: 0010:spinner+0x1e/0x20 [vmtriage_scen]
RSP: 0018:ffffd37f0049fef8 EFLAGS: 00000246
Call Trace:
 <TASK>
 kthread+0xd2/0x100
 ret_from_fork+0x34/0x50
 </TASK>";
    let r = one(log);
    assert_eq!(r.kind, OopsKind::RcuStall);
    assert_eq!(r.site().as_deref(), Some("spinner [vmtriage_scen]"));
    assert_eq!(r.task.as_ref().map(|t| t.pid), Some(169));
    assert_eq!(r.cpu, Some(1));
}

#[test]
fn kasan_names_its_bug_access_and_function() {
    let r = one("\
==================================================================
BUG: KASAN: slab-use-after-free in vmt_read+0x2f/0x60 [vmt]
Read of size 8 at addr ffff888012345678 by task cat/91

CPU: 1 PID: 91 Comm: cat Tainted: G    B      O 6.6.0 #1
Call Trace:
 <TASK>
 dump_stack_lvl+0x48/0x70
 print_report+0xd2/0x660
 kasan_report+0xd4/0x110
 vmt_read+0x2f/0x60 [vmt]
 vfs_read+0x10a/0x4a0
 </TASK>");
    assert_eq!(
        r.kind,
        OopsKind::Kasan {
            bug: "slab-use-after-free".into(),
            write: Some(false)
        }
    );
    assert_eq!(
        r.access,
        Some(Access {
            write: false,
            size: Some(8),
            address: Some(0xffff888012345678)
        })
    );
    assert_eq!(r.site().as_deref(), Some("vmt_read [vmt]"));
    assert_eq!(r.task.as_ref().map(|t| t.comm.as_str()), Some("cat"));
    assert_eq!(r.tainted.as_deref(), Some("BO"));
    assert!(!r.corrupted);
    let free = one(
        "BUG: KASAN: double-free in vmt_put+0x1/0x2\nFree of addr ffff888012345600 by task rm/7",
    );
    assert_eq!(free.address, Some(0xffff888012345600));
    assert_eq!(free.task.map(|t| t.pid), Some(7));
}

#[test]
fn kfence_and_kmsan_stacks_have_no_heading() {
    let r = one("\
BUG: KFENCE: out-of-bounds write in vmt_fill+0x1c/0x40

Out-of-bounds write at 0xffffffffb673e000 (32B right of kfence-#7):
 vmt_fill+0x1c/0x40
 vmt_ioctl+0x55/0x90

kfence-#7 [0xffffffffb673dfe0-0xffffffffb673dfff, size=32, cache=kmalloc-32] allocated by task 80:
 __kmalloc+0x1a/0x30
 vmt_open+0x20/0x50

CPU: 0 PID: 80 Comm: vmtctl Not tainted 6.1.0 #1");
    assert_eq!(
        r.kind,
        OopsKind::Kfence {
            bug: "out-of-bounds".into(),
            write: Some(true)
        }
    );
    assert_eq!(r.call_trace.len(), 2);
    assert_eq!(r.access.map(|a| a.write), Some(true));
    assert_eq!(r.cpu, Some(0));
    let m = one("\
BUG: KMSAN: uninit-value in vmt_sum+0x5e/0x90
 vmt_sum+0x5e/0x90
 vmt_ioctl+0x1a/0x40

Uninit was created at:
 __kmalloc+0x1/0x2");
    assert_eq!(
        m.kind,
        OopsKind::Kmsan {
            bug: "uninit-value".into()
        }
    );
    assert_eq!(m.call_trace.len(), 2);
}

#[test]
fn ubsan_kmemleak_and_checks() {
    let r = one("UBSAN: shift-out-of-bounds in drivers/vmt/core.c:27:17\nshift exponent 32 is too large for 32-bit type 'int'");
    assert_eq!(
        r.kind,
        OopsKind::Ubsan {
            check: "shift-out-of-bounds".into(),
            file: "drivers/vmt/core.c".into(),
            line: 27
        }
    );
    assert_eq!(
        r.message.as_deref(),
        Some("shift exponent 32 is too large for 32-bit type 'int'")
    );
    let r = one("\
unreferenced object 0xffff888003a1b2c0 (size 64):
  comm \"insmod\", pid 91, jiffies 4294892296
  hex dump (first 32 bytes):
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
  backtrace (crc 5e1f3c2a):
    [<ffffffff8135e8a2>] kmalloc_trace+0x22/0x90
    [<ffffffffc0a01040>] vmt_setup+0x40/0x90 [vmt]");
    assert_eq!(r.kind, OopsKind::MemoryLeak);
    assert_eq!(r.address, Some(0xffff888003a1b2c0));
    assert_eq!(r.task.as_ref().map(|t| t.pid), Some(91));
    assert_eq!(r.site().as_deref(), Some("vmt_setup [vmt]"));
    let s = one("BUG: scheduling while atomic: kworker/0:1/12/0x00000002");
    assert_eq!(
        (s.kind, s.task.map(|t| t.comm)),
        (OopsKind::SchedWhileAtomic, Some("kworker/0:1".into()))
    );
    let s = one("BUG: spinlock bad magic on CPU#1, insmod/91");
    assert_eq!(s.cpu, Some(1));
    assert_eq!(
        s.kind,
        OopsKind::Spinlock {
            lock: "spinlock".into(),
            bug: "bad magic".into()
        }
    );
    let s = one("BUG kmalloc-64 (Tainted: G    B      O     ): Padding overwritten. 0x00000000abcd-0x00000000abff @offset=4032");
    assert_eq!(
        s.kind,
        OopsKind::Slub {
            cache: "kmalloc-64".into(),
            what: "Padding overwritten".into()
        }
    );
    assert!(parse_lines(["BUG kmalloc-64: a driver's words"]).is_empty());
    assert_eq!(
        one("BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 43s!").kind,
        OopsKind::WorkqueueLockup { seconds: 43 }
    );
}

#[test]
fn lockdep_names_the_lock_site() {
    let r = one("\
======================================================
WARNING: possible circular locking dependency detected
6.1.0 #1 Tainted: G           O
------------------------------------------------------
vmtctl/91 is trying to acquire lock:
ffffffffc0a03100 (vmt_b_lock){+.+.}-{3:3}, at: vmt_take_b+0x15/0x40 [vmt]

but task is already holding lock:
ffffffffc0a03080 (vmt_a_lock){+.+.}-{3:3}, at: vmt_take_a+0x15/0x40 [vmt]");
    assert_eq!(r.kind, OopsKind::Lockdep(LockdepBug::CircularDependency));
    assert_eq!(r.site().as_deref(), Some("vmt_take_b [vmt]"));
    assert_eq!(r.task.as_ref().map(|t| t.pid), Some(91));
    // Cut before its stack backtrace.
    assert!(r.corrupted);
    let b = one("\
WARNING: bad unlock balance detected!
vmtctl/91 is trying to release lock (vmt_a_lock) at:
[<ffffffffc0a01234>] vmt_put_a+0x24/0x40 [vmt]");
    assert_eq!(b.kind, OopsKind::Lockdep(LockdepBug::BadUnlockBalance));
    assert_eq!(b.site().as_deref(), Some("vmt_put_a [vmt]"));
}

#[test]
fn warned_checks_take_their_words() {
    let r = one("\
------------[ cut here ]------------
refcount_t: underflow; use-after-free.
WARNING: CPU: 0 PID: 9 at lib/refcount.c:28 refcount_warn_saturate+0xba/0x110
Call Trace:
 vmt_put+0x30/0x50 [vmt]");
    assert_eq!(
        r.kind,
        OopsKind::Refcount {
            what: "underflow; use-after-free".into()
        }
    );
    assert_eq!(r.site().as_deref(), Some("vmt_put [vmt]"));
    let r = one("\
------------[ cut here ]------------
ODEBUG: free active (active state 0) object: ffff888003a1b2c0 object type: timer_list hint: vmt_tick+0x0/0x30 [vmt]
WARNING: CPU: 0 PID: 9 at lib/debugobjects.c:509 debug_print_object+0x85/0xb0");
    assert_eq!(
        r.kind,
        OopsKind::Odebug {
            what: "free active".into()
        }
    );
}

#[test]
fn arm64_oops_and_trace() {
    let r = one("\
Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008
Mem abort info:
  ESR = 0x0000000096000005
Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP
Modules linked in: vmt(O)
CPU: 2 PID: 91 Comm: insmod Tainted: G           O       6.1.0 #1
Hardware name: linux,dummy-virt (DT)
pstate: 60400005 (nZCv daif +PAN -UAO -TCO -DIT -SSBS BTYPE=--)
pc : vmt_init+0x1c/0x1000 [vmt]
lr : do_one_initcall+0x60/0x1d0
sp : ffff80000a2b3c40
x29: ffff80000a2b3c40 x28: 0000000000000000 x27: ffff0000c1a2b000
x2 : 0000000000000000 x1 : 0000000000000000 x0 : 0000000000000000
Call trace:
 vmt_init+0x1c/0x1000 [vmt] (P)
 do_one_initcall+0x60/0x1d0
 do_init_module+0x50/0x1f0
 el0t_64_sync+0x18c/0x190
Code: d2800001 d2800000 f9400421 (b9400800)
---[ end trace 0000000000000000 ]---");
    assert_eq!(r.kind, OopsKind::PageFault { null: true });
    assert_eq!(r.address, Some(8));
    assert_eq!(
        r.rip.as_ref().and_then(|f| f.function.as_deref()),
        Some("vmt_init")
    );
    assert_eq!(r.call_trace.len(), 4);
    assert_eq!(r.site().as_deref(), Some("vmt_init [vmt]"));
    assert_eq!(r.cpu, Some(2));
    let p = one("Unable to handle kernel paging request at virtual address dead000000000108\nInternal error: Oops: 0000000096000044 [#1] SMP");
    assert_eq!(
        (p.kind, p.address),
        (
            OopsKind::PageFault { null: false },
            Some(0xdead000000000108)
        )
    );
}

#[test]
fn cut_and_interleaved_reports_are_corrupted() {
    let r = parse_lines(
        "BUG: kernel NULL pointer dereference, address: 0000000000000008\n\
         #PF: supervisor read access in kernel mode\n\
         watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [spin:9]\n\
         CPU: 1 PID: 9 Comm: spin Not tainted 6.1.0 #1\n\
         Call Trace:\n\
         \x20spinner+0x1/0x2 [m]"
            .lines(),
    );
    assert_eq!(r.len(), 2);
    assert!(r[0].corrupted && !r[1].corrupted);
    // A panic after an oops prints no trace of its own and is whole.
    let p = parse_lines(["Kernel panic - not syncing: Fatal exception"]);
    assert!(!p[0].corrupted);
    let s = one("Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: vmt_parse+0x9a/0xa0 [vmt]");
    assert_eq!(s.kind, OopsKind::StackProtector);
    assert_eq!(s.site().as_deref(), Some("vmt_parse [vmt]"));
    assert_eq!(
        one("Kernel panic - not syncing: System is deadlocked on memory").kind,
        OopsKind::OomPanic
    );
}

#[test]
fn a_symbolised_trace_keeps_its_frames_past_inline_ones() {
    let r = one("\
BUG: KASAN: use-after-free in vmt_send+0x2f5/0x330 drivers/vmt/net.c:1748
Read of size 8 at addr ffff88804fab1858 by task vmtd/301
CPU: 0 PID: 301 Comm: vmtd Not tainted 6.6.0 #3
Call Trace:
 <TASK>
 __dump_stack lib/dump_stack.c:88 [inline]
 dump_stack_lvl+0x125/0x1b0 lib/dump_stack.c:106
 print_report+0xc4/0x620 mm/kasan/report.c:475
 kasan_report+0xda/0x110 mm/kasan/report.c:588
 vmt_send+0x2f5/0x330 drivers/vmt/net.c:1748
 vmt_push+0xb8/0xe0 drivers/vmt/net.c:1763
 </TASK>");
    assert_eq!(r.call_trace.len(), 5);
    assert_eq!(r.site().as_deref(), Some("vmt_send"));
}

#[test]
fn the_warning_line_of_late_2025() {
    let r = one("WARNING: net/core/dev.c:1234 at vmt_xmit+0x5d/0x90 [vmt], CPU#1: vmtd/301");
    assert_eq!(
        r.kind,
        OopsKind::Warning {
            file: "net/core/dev.c".into(),
            line: 1234
        }
    );
    assert_eq!(r.site().as_deref(), Some("vmt_xmit [vmt]"));
    assert_eq!((r.cpu, r.task.map(|t| t.pid)), (Some(1), Some(301)));
    assert!(parse_lines(["WARNING: see docs/foo.txt at boot"]).is_empty());
}
