// SPDX-License-Identifier: GPL-2.0
/*
 * Memory-management failures for the knowledge-base scenarios, apart from
 * vmtriage_faults.c so that the dumps keyed by that module's bytes stay as
 * they are.
 *
 *   mode=ringgrow : a driver's kthread grows its receive ring and asks for
 *                   one physically contiguous buffer of 2^order pages with
 *                   GFP_KERNEL (kmalloc of more than a slab page goes to the
 *                   page allocator), as drivers of DMA-capable devices do.
 *                   On memory fragmented by unmovable pages the request
 *                   fails and the kernel prints "page allocation failure:
 *                   order:N". If it succeeds (memory was not fragmented
 *                   yet) the buffer is freed and asked for again a second
 *                   later, a bounded number of times.
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/delay.h>
#include <linux/slab.h>
#include <linux/mm.h>

static char *mode = "none";
module_param(mode, charp, 0444);
static unsigned int order = 9;
module_param(order, uint, 0444);
static unsigned int tries = 60;
module_param(tries, uint, 0444);

static void *vmt_ring_buf;

static noinline void *vmt_ring_alloc_buffers(size_t bytes)
{
	return kmalloc(bytes, GFP_KERNEL);
}

static noinline int vmt_ring_resize(unsigned int ord)
{
	void *buf = vmt_ring_alloc_buffers(PAGE_SIZE << ord);

	if (!buf)
		return -ENOMEM;
	vmt_ring_buf = buf;
	return 0;
}

static int vmt_ringd(void *unused)
{
	unsigned int i;

	for (i = 0; i < tries && !kthread_should_stop(); i++) {
		if (vmt_ring_resize(order)) {
			pr_warn("VMTRIAGE-READY ringgrow order %u failed\n", order);
			break;
		}
		pr_info("vmt_ring: got an order-%u buffer, memory is not fragmented yet\n", order);
		kfree(vmt_ring_buf);
		vmt_ring_buf = NULL;
		msleep(1000);
	}
	while (!kthread_should_stop())
		msleep(1000);
	return 0;
}

static int __init vmt_mm_init(void)
{
	if (!strcmp(mode, "ringgrow")) {
		if (order < 1 || (PAGE_SIZE << order) > KMALLOC_MAX_SIZE)
			return -EINVAL;
		kthread_run(vmt_ringd, NULL, "vmt_ringd");
	} else {
		pr_err("vmtriage_mm: unknown mode %s\n", mode);
		return -EINVAL;
	}
	return 0;
}
module_init(vmt_mm_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmtriage corpus: memory-management failures for the knowledge-base scenarios");
