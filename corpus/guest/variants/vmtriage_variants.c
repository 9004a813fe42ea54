// SPDX-License-Identifier: GPL-2.0
/*
 * Variants of knowledge-base scenarios: the same kind of fault as another
 * scenario, reached through other code, another context, other lock types
 * and other task names, so that a rule written against the first scenario
 * is tested on a case it was not tuned to. A module of its own: the other
 * scenarios' dumps are keyed by their modules' bytes.
 *
 *   mode=inversion : two lock-order inversions that no lockdep saw.
 *                    Syscall context: a process writing "state" to
 *                    /proc/journal_ctl takes j_state_mutex, then j_commit_sem
 *                    for write; one writing "commit" takes them the other way
 *                    round. Workqueue context: two work items of the
 *                    "quota_sync" workqueue take ino_table_sem and quota_sem,
 *                    both for write, in opposite orders. A reader of
 *                    /proc/journal_ctl then queues for j_commit_sem (read).
 *   mode=nulltimer : a work item logs a WARNING (not fatal), then a timer
 *                    callback follows a session's owner pointer, NULL since
 *                    the session was torn down: a NULL dereference at a small
 *                    offset, in softirq context.
 *   mode=rcusleep  : a kthread (cfg_watch) sleeps inside an RCU read-side
 *                    section, waiting for a device; another (cfg_push)
 *                    publishes a new table and waits in synchronize_rcu().
 *                    On preemptible RCU the grace period waits for the
 *                    sleeping reader: a stall with no CPU at fault.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/delay.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <linux/timer.h>
#include <linux/string.h>
#include <linux/slab.h>
#include <linux/version.h>
#include <linux/kthread.h>
#include <linux/rcupdate.h>

static char *mode = "none";
module_param(mode, charp, 0444);

/* inversion: syscall context ---------------------------------------------- */

static DEFINE_MUTEX(j_state_mutex);
static DECLARE_RWSEM(j_commit_sem);

static noinline void journal_commit_state(void)
{
	mutex_lock(&j_state_mutex);
	/* Both writers hold their first lock before either asks for its second. */
	msleep(1000);
	down_write(&j_commit_sem);
	up_write(&j_commit_sem);
	mutex_unlock(&j_state_mutex);
}

static noinline void journal_checkpoint(void)
{
	down_write(&j_commit_sem);
	msleep(1000);
	mutex_lock(&j_state_mutex);
	mutex_unlock(&j_state_mutex);
	up_write(&j_commit_sem);
}

static ssize_t journal_ctl_write(struct file *f, const char __user *buf, size_t n, loff_t *off)
{
	char cmd[16] = {};

	if (copy_from_user(cmd, buf, min(n, sizeof(cmd) - 1)))
		return -EFAULT;
	if (!strncmp(cmd, "state", 5))
		journal_commit_state();
	else if (!strncmp(cmd, "commit", 6))
		journal_checkpoint();
	else
		return -EINVAL;
	return n;
}

static ssize_t journal_ctl_read(struct file *f, char __user *buf, size_t n, loff_t *off)
{
	down_read(&j_commit_sem);
	up_read(&j_commit_sem);
	return 0;
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 6, 0)
static const struct proc_ops journal_ctl_fops = {
	.proc_write = journal_ctl_write,
	.proc_read = journal_ctl_read,
};
#else
static const struct file_operations journal_ctl_fops = {
	.write = journal_ctl_write,
	.read = journal_ctl_read,
};
#endif

/* inversion: workqueue context -------------------------------------------- */

static DECLARE_RWSEM(ino_table_sem);
static DECLARE_RWSEM(quota_sem);
static struct workqueue_struct *quota_wq;

static void quota_transfer_fn(struct work_struct *w)
{
	down_write(&quota_sem);
	msleep(1000);
	down_write(&ino_table_sem);
	up_write(&ino_table_sem);
	up_write(&quota_sem);
}

static void inode_evict_quota_fn(struct work_struct *w)
{
	down_write(&ino_table_sem);
	msleep(1000);
	down_write(&quota_sem);
	up_write(&quota_sem);
	up_write(&ino_table_sem);
}

static DECLARE_WORK(quota_transfer_work, quota_transfer_fn);
static DECLARE_WORK(inode_evict_work, inode_evict_quota_fn);

/* nulltimer --------------------------------------------------------------- */

struct sess_owner {
	unsigned long flags;
	unsigned long id;
	unsigned long last_seen;
	atomic_t refs;
};

struct session {
	struct timer_list expiry;
	struct sess_owner *owner;
	int budget;
};

static struct session *live_session;

static noinline void sess_expire(struct timer_list *t)
{
	struct session *s = live_session;

	/* Torn down without stopping its timer: owner is NULL by now. */
	if (atomic_dec_and_test(&s->owner->refs))
		pr_info("vmtriage_variants: session expired\n");
}

static noinline int cfg_validate(int budget)
{
	return WARN(budget > 64, "session budget %d out of range, clamped\n", budget) ? 64 : budget;
}

static void sess_setup_fn(struct work_struct *w)
{
	live_session->budget = cfg_validate(100);
	live_session->owner = NULL;
	mod_timer(&live_session->expiry, jiffies + HZ);
}

static DECLARE_WORK(sess_setup_work, sess_setup_fn);

/* rcusleep ---------------------------------------------------------------- */

struct cfg_table {
	int generation;
	char name[16];
};

static struct cfg_table __rcu *cfg_current;

static noinline void cfg_refresh_entry(struct cfg_table *t)
{
	/* Asks the device for fresh values and waits for the answer: a sleep,
	 * inside the caller's read-side section. */
	msleep(600 * 1000);
}

static int cfg_watch(void *unused)
{
	struct cfg_table *t;

	rcu_read_lock();
	t = rcu_dereference(cfg_current);
	if (t)
		cfg_refresh_entry(t);
	rcu_read_unlock();
	return 0;
}

static int cfg_push(void *unused)
{
	struct cfg_table *old, *t = kzalloc(sizeof(*t), GFP_KERNEL);

	if (!t)
		return -ENOMEM;
	msleep(1000);
	t->generation = 2;
	old = rcu_replace_pointer(cfg_current, t, true);
	/* Waits for every reader of the old table: the sleeping one too. */
	synchronize_rcu();
	kfree(old);
	return 0;
}

static int __init vmt_variants_init(void)
{
	if (!strcmp(mode, "inversion")) {
		if (!proc_create("journal_ctl", 0666, NULL, &journal_ctl_fops))
			return -ENOMEM;
		quota_wq = alloc_workqueue("quota_sync", WQ_UNBOUND, 2);
		if (!quota_wq)
			return -ENOMEM;
		queue_work(quota_wq, &quota_transfer_work);
		queue_work(quota_wq, &inode_evict_work);
	} else if (!strcmp(mode, "nulltimer")) {
		live_session = kzalloc(sizeof(*live_session), GFP_KERNEL);
		if (!live_session)
			return -ENOMEM;
		timer_setup(&live_session->expiry, sess_expire, 0);
		schedule_work(&sess_setup_work);
	} else if (!strcmp(mode, "rcusleep")) {
		struct cfg_table *t = kzalloc(sizeof(*t), GFP_KERNEL);

		if (!t)
			return -ENOMEM;
		t->generation = 1;
		rcu_assign_pointer(cfg_current, t);
		kthread_run(cfg_watch, NULL, "cfg_watch");
		kthread_run(cfg_push, NULL, "cfg_push");
	} else {
		pr_err("vmtriage_variants: unknown mode %s\n", mode);
		return -EINVAL;
	}
	return 0;
}
module_init(vmt_variants_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmtriage corpus: variants of the knowledge-base scenarios");
