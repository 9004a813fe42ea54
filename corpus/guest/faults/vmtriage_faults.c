// SPDX-License-Identifier: GPL-2.0
/*
 * Crashes and leaks for the knowledge-base scenarios: each mode makes the
 * kernel report a fault the way a buggy driver would, from the context such
 * bugs usually run in (a work item, a kthread, a timer), through code with
 * names of its own so a rule cannot lean on the scenario's module.
 * Kept apart from vmtriage_scen.c: the lock scenarios' dumps are keyed by that
 * module's bytes, and these modes must not recapture them.
 *
 *   mode=gpf        : a work item follows a freed list entry's poisoned
 *                     pointer (a non-canonical address): general protection fault.
 *   mode=bug        : a kthread finds its request in an impossible state: BUG_ON.
 *   mode=listcorrupt: a kthread deletes an entry twice from a list
 *                     (CONFIG_DEBUG_LIST reports it, BUG_ON_DATA_CORRUPTION makes it a BUG).
 *   mode=warn       : a timer callback hits a WARN_ON (panic_on_warn turns it into a panic).
 *   mode=overflow   : a kthread recurses until it runs off its stack (VMAP_STACK guard page).
 *   mode=slableak   : objects of a cache of our own are allocated and never
 *                     freed until unreclaimable slab holds leak_pct % of RAM.
 *   mode=fwwait     : a loader kthread asks a device for its firmware and waits
 *                     (uninterruptibly) for an answer that never comes;
 *                     `waiters` more kthreads wait for the loader to finish.
 *                     No lock is involved: the tasks wait on completions.
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/delay.h>
#include <linux/slab.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/workqueue.h>
#include <linux/timer.h>
#include <linux/poison.h>
#include <linux/version.h>

static char *mode = "none";
module_param(mode, charp, 0444);
static int leak_pct = 50;
module_param(leak_pct, int, 0444);
static int waiters = 3;
module_param(waiters, int, 0444);

/* gpf --------------------------------------------------------------------- */

struct vmt_session {
	struct list_head node;
	unsigned long cookie;
};

static LIST_HEAD(vmt_sessions);
static struct vmt_session *vmt_stale;

static noinline unsigned long vmt_session_expire(struct vmt_session *s)
{
	/* The entry was deleted (its pointers poisoned) but is still used. */
	struct vmt_session *next = list_entry(READ_ONCE(s->node.next), struct vmt_session, node);

	return READ_ONCE(next->cookie);
}

static void vmt_expire_work(struct work_struct *w)
{
	pr_info("vmtriage_faults: expiring session cookie %lu\n", vmt_session_expire(vmt_stale));
}
static DECLARE_WORK(vmt_expire, vmt_expire_work);

/* bug --------------------------------------------------------------------- */

struct vmt_request {
	int state;
	int refs;
};

static noinline void vmt_request_complete(struct vmt_request *rq)
{
	/* A completed request must hold a reference. */
	BUG_ON(rq->refs <= 0);
	rq->state = 2;
}

static int vmt_dispatch(void *arg)
{
	struct vmt_request *rq = arg;

	msleep(500);
	vmt_request_complete(rq);
	return 0;
}

/* listcorrupt ------------------------------------------------------------- */

static struct vmt_session vmt_pool[2];

static noinline void vmt_pool_release(struct vmt_session *s)
{
	list_del(&s->node);
}

static int vmt_reaper(void *unused)
{
	msleep(500);
	list_add(&vmt_pool[0].node, &vmt_sessions);
	list_add(&vmt_pool[1].node, &vmt_sessions);
	vmt_pool_release(&vmt_pool[0]);
	/* Re-linked by hand, as a buggy caller would, then released again. */
	vmt_pool[0].node.next = &vmt_pool[1].node;
	vmt_pool[0].node.prev = &vmt_sessions;
	vmt_pool_release(&vmt_pool[0]);
	return 0;
}

/* warn -------------------------------------------------------------------- */

static struct timer_list vmt_watchdog;
static int vmt_pending = 3;

static noinline void vmt_check_budget(int pending)
{
	WARN_ON(pending > 2);
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(4, 15, 0)
static void vmt_timer_fn(struct timer_list *t)
#else
static void vmt_timer_fn(unsigned long t)
#endif
{
	vmt_check_budget(READ_ONCE(vmt_pending));
}

/* overflow ---------------------------------------------------------------- */

static noinline int vmt_walk_tree(int depth, volatile char *parent)
{
	volatile char frame[512];

	frame[0] = parent ? parent[0] + 1 : 0;
	frame[sizeof(frame) - 1] = (char)depth;
	/* No tail call: the result is used after the recursion returns. */
	return vmt_walk_tree(depth + 1, frame) + frame[sizeof(frame) - 1];
}

static int vmt_parser(void *unused)
{
	msleep(500);
	return vmt_walk_tree(0, NULL);
}

/* slableak ---------------------------------------------------------------- */

static struct kmem_cache *vmt_cache;

/* A constructor keeps SLUB from merging the cache into kmalloc-*. */
static void vmt_obj_ctor(void *p)
{
	memset(p, 0, 64);
}

static int vmt_leaker(void *unused)
{
	unsigned long want = totalram_pages() * leak_pct / 100, n = 0, per_page;

	per_page = PAGE_SIZE / 1024;
	while (n / per_page < want) {
		if (!kmem_cache_alloc(vmt_cache, GFP_KERNEL | __GFP_NOWARN)) {
			msleep(10);
			continue;
		}
		n++;
		if (n % 4096 == 0)
			cond_resched();
	}
	pr_warn("VMTRIAGE-READY slableak %lu objects\n", n);
	while (!kthread_should_stop())
		msleep(1000);
	return 0;
}

/* fwwait ------------------------------------------------------------------ */

static DECLARE_COMPLETION(vmt_fw_reply);
static DECLARE_COMPLETION(vmt_fw_loaded);

static noinline void vmt_fw_request(void)
{
	/* The device was asked; its interrupt would complete vmt_fw_reply. */
	wait_for_completion(&vmt_fw_reply);
}

static int vmt_fw_loader(void *unused)
{
	vmt_fw_request();
	complete_all(&vmt_fw_loaded);
	return 0;
}

static noinline void vmt_fw_wait_ready(void)
{
	wait_for_completion(&vmt_fw_loaded);
}

static int vmt_fw_user(void *unused)
{
	msleep(200);
	vmt_fw_wait_ready();
	return 0;
}

static int __init vmt_faults_init(void)
{
	static struct vmt_request rq = { .state = 1, .refs = 0 };

	if (!strcmp(mode, "gpf")) {
		vmt_stale = kmalloc(sizeof(*vmt_stale), GFP_KERNEL);
		if (!vmt_stale)
			return -ENOMEM;
		list_add(&vmt_stale->node, &vmt_sessions);
		list_del(&vmt_stale->node);
		schedule_work(&vmt_expire);
	} else if (!strcmp(mode, "bug")) {
		kthread_run(vmt_dispatch, &rq, "vmt_dispatch");
	} else if (!strcmp(mode, "listcorrupt")) {
		kthread_run(vmt_reaper, NULL, "vmt_reaper");
	} else if (!strcmp(mode, "warn")) {
		timer_setup(&vmt_watchdog, vmt_timer_fn, 0);
		mod_timer(&vmt_watchdog, jiffies + HZ / 2);
	} else if (!strcmp(mode, "overflow")) {
		kthread_run(vmt_parser, NULL, "vmt_parser");
	} else if (!strcmp(mode, "fwwait")) {
		int i;

		kthread_run(vmt_fw_loader, NULL, "vmt_fw_loader");
		for (i = 0; i < waiters && i < 16; i++)
			kthread_run(vmt_fw_user, NULL, "vmt_fw_user/%d", i);
	} else if (!strcmp(mode, "slableak")) {
		vmt_cache = kmem_cache_create("vmt_conn_cache", 1024, 0, 0, vmt_obj_ctor);
		if (!vmt_cache)
			return -ENOMEM;
		kthread_run(vmt_leaker, NULL, "vmt_leaker");
	} else {
		pr_err("vmtriage_faults: unknown mode %s\n", mode);
		return -EINVAL;
	}
	return 0;
}
module_init(vmt_faults_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmtriage corpus: crashes and leaks for the knowledge-base scenarios");
