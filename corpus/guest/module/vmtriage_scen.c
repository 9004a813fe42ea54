// SPDX-License-Identifier: GPL-2.0
/*
 * Puts a guest kernel into the state a corpus scenario needs. One module, one
 * mode per load, so every kernel series builds the same source.
 *
 *   mode=tasklist  tasklist_addr=0x.. parent=PID : read-hold tasklist_lock from a
 *                  kthread, SIGKILL every child of PID (and their threads) and spin:
 *                  the exits queue on the lock, as in a mass exit in production.
 *   mode=mutex     : a kthread takes a mutex and sleeps; writers to
 *                  /proc/vmtriage_mutex block on it in D state.
 *   mode=fault     : /proc/vmtriage_fault can be mmap'ed; its fault handler waits
 *                  forever, holding the faulting mm's mmap_lock for read.
 *   mode=null      : dereference NULL from module init (an oops).
 *   mode=softlockup: a kthread spins with preemption off.
 *   mode=deadlock  : kthreads take mutexes in opposite orders: an ABBA pair
 *                  (vmt_dl_ab, vmt_dl_ba on vmt_lock_a/b) and a cycle of three
 *                  (vmt_dl_cd, vmt_dl_de, vmt_dl_ec on vmt_lock_c/d/e); one more
 *                  task (vmt_dl_behind) queues on vmt_lock_a behind the cycle.
 *   mode=rwsem     : a kthread takes vmt_rwsem for write and waits for a device
 *                  that never answers; readers of /proc/vmtriage_rwsem queue
 *                  for read, writers to it for write.
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/delay.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/mm.h>
#include <linux/completion.h>
#include <linux/spinlock.h>
#include <linux/rwsem.h>
#include <linux/version.h>

static char *mode = "none";
module_param(mode, charp, 0444);
static unsigned long tasklist_addr;
module_param(tasklist_addr, ulong, 0444);
static int parent;
module_param(parent, int, 0444);
static int ready_ms = 1500;
module_param(ready_ms, int, 0444);

static DEFINE_MUTEX(vmt_mutex);
static DECLARE_COMPLETION(vmt_never);

/* tasklist ---------------------------------------------------------------- */

static int tasklist_holder(void *unused)
{
	rwlock_t *lock = (rwlock_t *)tasklist_addr;
	struct task_struct *p, *child, *t;
	int killed = 0, threads = 0;

	rcu_read_lock();
	p = pid_task(find_vpid(parent), PIDTYPE_PID);
	if (p)
		get_task_struct(p);
	rcu_read_unlock();
	if (!p) {
		pr_err("vmtriage_scen: no task with pid %d\n", parent);
		return 0;
	}
	read_lock(lock);
	list_for_each_entry(child, &p->children, sibling) {
		for_each_thread(child, t)
			threads++;
		/* send_sig takes the child's siglock, not tasklist_lock. */
		send_sig(SIGKILL, child, 1);
		killed++;
	}
	pr_warn("vmtriage_scen: holding tasklist_lock for read; SIGKILL sent to %d children (%d tasks) of %d\n",
		killed, threads, parent);
	/*
	 * Spin with preemption off, as a buggy holder would: the non-RT
	 * read_lock() already disables it; on PREEMPT_RT the lock is sleeping
	 * and preemptible, and without this the watchdog would never see the
	 * CPU stuck.
	 */
	preempt_disable();
	mdelay(ready_ms);
	/* warn: the console shows it at the default loglevel, info it would not */
	pr_warn("VMTRIAGE-READY tasklist\n");
	for (;;) {
		mdelay(10);
		cpu_relax();
	}
	return 0;
}

/* mutex ------------------------------------------------------------------- */

static int mutex_owner(void *unused)
{
	mutex_lock(&vmt_mutex);
	pr_info("vmtriage_scen: mutex owner sleeps holding vmt_mutex\n");
	while (!kthread_should_stop())
		schedule_timeout_interruptible(3600 * HZ);
	mutex_unlock(&vmt_mutex);
	return 0;
}

static ssize_t mutex_write(struct file *f, const char __user *buf, size_t n, loff_t *off)
{
	mutex_lock(&vmt_mutex);
	mutex_unlock(&vmt_mutex);
	return n;
}

/* fault ------------------------------------------------------------------- */

static vm_fault_t stall_fault(struct vm_fault *vmf)
{
	/* A driver waiting for hardware that never answers. */
	wait_for_completion(&vmt_never);
	return VM_FAULT_SIGBUS;
}

static const struct vm_operations_struct stall_vm_ops = {
	.fault = stall_fault,
};

static int stall_mmap(struct file *f, struct vm_area_struct *vma)
{
	vma->vm_ops = &stall_vm_ops;
	return 0;
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 6, 0)
static const struct proc_ops mutex_fops = { .proc_write = mutex_write };
static const struct proc_ops fault_fops = { .proc_mmap = stall_mmap };
#else
static const struct file_operations mutex_fops = { .write = mutex_write };
static const struct file_operations fault_fops = { .mmap = stall_mmap };
#endif

/* deadlock ---------------------------------------------------------------- */

static DEFINE_MUTEX(vmt_lock_a);
static DEFINE_MUTEX(vmt_lock_b);
static DEFINE_MUTEX(vmt_lock_c);
static DEFINE_MUTEX(vmt_lock_d);
static DEFINE_MUTEX(vmt_lock_e);

struct dl_order {
	const char *name;
	struct mutex *first, *second;
};

static struct dl_order dl_orders[] = {
	{ "vmt_dl_ab", &vmt_lock_a, &vmt_lock_b },
	{ "vmt_dl_ba", &vmt_lock_b, &vmt_lock_a },
	{ "vmt_dl_cd", &vmt_lock_c, &vmt_lock_d },
	{ "vmt_dl_de", &vmt_lock_d, &vmt_lock_e },
	{ "vmt_dl_ec", &vmt_lock_e, &vmt_lock_c },
};

static int dl_worker(void *arg)
{
	struct dl_order *o = arg;

	mutex_lock(o->first);
	/* Every worker holds its first lock before any asks for its second. */
	msleep(1000);
	mutex_lock(o->second);
	mutex_unlock(o->second);
	mutex_unlock(o->first);
	return 0;
}

static int dl_behind(void *unused)
{
	msleep(2000);
	mutex_lock(&vmt_lock_a);
	mutex_unlock(&vmt_lock_a);
	return 0;
}

static int dl_ready(void *unused)
{
	msleep(3000);
	pr_warn("VMTRIAGE-DEADLOCK-SET\n");
	return 0;
}

/* rwsem ------------------------------------------------------------------- */

static DECLARE_RWSEM(vmt_rwsem);

static int rwsem_writer(void *unused)
{
	down_write(&vmt_rwsem);
	pr_info("vmtriage_scen: writer holds vmt_rwsem and waits for the device\n");
	/* Uninterruptible, as a driver waiting for hardware is. */
	wait_for_completion(&vmt_never);
	up_write(&vmt_rwsem);
	return 0;
}

static ssize_t rwsem_read(struct file *f, char __user *buf, size_t n, loff_t *off)
{
	down_read(&vmt_rwsem);
	up_read(&vmt_rwsem);
	return 0;
}

static ssize_t rwsem_write(struct file *f, const char __user *buf, size_t n, loff_t *off)
{
	down_write(&vmt_rwsem);
	up_write(&vmt_rwsem);
	return n;
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 6, 0)
static const struct proc_ops rwsem_fops = { .proc_read = rwsem_read, .proc_write = rwsem_write };
#else
static const struct file_operations rwsem_fops = { .read = rwsem_read, .write = rwsem_write };
#endif

/* softlockup -------------------------------------------------------------- */

static int spinner(void *unused)
{
	preempt_disable();
	pr_warn("VMTRIAGE-READY softlockup spinning\n");
	for (;;)
		cpu_relax();
	return 0;
}

static int __init vmt_init(void)
{
	if (!strcmp(mode, "tasklist")) {
		if (!tasklist_addr || !parent)
			return -EINVAL;
		kthread_run(tasklist_holder, NULL, "vmt_tasklist");
	} else if (!strcmp(mode, "mutex")) {
		proc_create("vmtriage_mutex", 0222, NULL, &mutex_fops);
		kthread_run(mutex_owner, NULL, "vmt_mutex_owner");
	} else if (!strcmp(mode, "fault")) {
		proc_create("vmtriage_fault", 0444, NULL, &fault_fops);
	} else if (!strcmp(mode, "null")) {
		pr_info("vmtriage_scen: dereferencing NULL\n");
		*(volatile int *)NULL = 1;
	} else if (!strcmp(mode, "softlockup")) {
		kthread_run(spinner, NULL, "vmt_spinner");
	} else if (!strcmp(mode, "deadlock")) {
		int i;

		for (i = 0; i < ARRAY_SIZE(dl_orders); i++)
			kthread_run(dl_worker, &dl_orders[i], "%s", dl_orders[i].name);
		kthread_run(dl_behind, NULL, "vmt_dl_behind");
		kthread_run(dl_ready, NULL, "vmt_dl_ready");
	} else if (!strcmp(mode, "rwsem")) {
		proc_create("vmtriage_rwsem", 0666, NULL, &rwsem_fops);
		kthread_run(rwsem_writer, NULL, "vmt_rwsem_owner");
	} else {
		return -EINVAL;
	}
	return 0;
}

module_init(vmt_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmtriage corpus scenarios");
