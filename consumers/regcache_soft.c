// SPDX-License-Identifier: MIT
/*
 * consumers/regcache_soft.c - the registration cache's pin and unpin over
 * a soft-MMU mm (umn_regcache_soft_ops in umn/regcache.h).
 */
#include <umn/regcache.h>
#include <umn/soft.h>

static void soft_unpin(void *arg, unsigned long npages,
		       const struct umn_regcache_page *pages)
{
	struct umn_regcache_soft *soft = arg;
	unsigned long i;

	for (i = 0; i < npages; i++)
		umn_soft_unpin(soft->frames, pages[i].frame);
}

static int soft_pin(void *arg, unsigned long addr, unsigned long npages,
		    bool write, struct umn_regcache_page *pages)
{
	struct umn_regcache_soft *soft = arg;
	struct umn_soft_translation t;
	unsigned long i, a;
	int ret;

	for (i = 0; i < npages; i++) {
		a = addr + (i << UMN_PAGE_SHIFT);
		ret = umn_soft_pin(soft->sm, a, write, &t);
		if (ret) {
			soft_unpin(arg, i, pages);
			return ret;
		}
		/* A huge entry maps a frame of its own size from its start. */
		pages[i].frame = t.frame;
		pages[i].subpage = (t.size == UMN_PAGE_SIZE ? t.subpage : 0) +
				   ((a - t.base) >> UMN_PAGE_SHIFT);
		pages[i].gen = t.gen;
	}
	return 0;
}

const struct umn_regcache_ops umn_regcache_soft_ops = {
	.pin = soft_pin,
	.unpin = soft_unpin,
};
