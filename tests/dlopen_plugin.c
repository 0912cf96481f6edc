// SPDX-License-Identifier: MIT
/*
 * tests/dlopen_plugin.c - a plugin that uses umn, for tests/dlopen.c:
 * loaded with dlopen() by a program that does not link umn, so that
 * libumn.so and liburcu-bp.so come in with it, after start-up.  A cached
 * lookup runs the RCU read side and its thread-local reader pointer.
 */
#include <stddef.h>
#include <umn/regcache.h>
#include <umn/soft.h>

int umn_test_plugin_run(void);

int umn_test_plugin_run(void)
{
	struct umn_regcache_handle *h, *h2;
	struct umn_regcache_soft soft;
	struct umn_soft_frames *frames;
	struct umn_regcache *rc;
	struct umn_soft_mm *sm;
	unsigned long addr;
	int ret = 1;

	if (umn_soft_frames_create(NULL, &frames))
		return 2;
	if (umn_soft_mm_create(frames, &sm))
		return 3;
	soft.sm = sm;
	soft.frames = frames;
	if (umn_soft_mmap(sm, 0, 4 * UMN_PAGE_SIZE,
			  UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE, 0, &addr) ||
	    umn_regcache_create(umn_soft_mm_umn(sm), &umn_regcache_soft_ops,
				&soft, 0, &rc))
		return 4;
	if (!umn_regcache_register(rc, addr, 4 * UMN_PAGE_SIZE, true, &h)) {
		/* The lookup finds it: the read side ran. */
		if (!umn_regcache_lookup(rc, addr, UMN_PAGE_SIZE, true, &h2) &&
		    h2 == h && !umn_regcache_release(h2))
			ret = 0;
		umn_regcache_release(h);
	}
	if (umn_regcache_destroy(rc))
		ret = 5;
	umn_soft_mm_destroy(sm);
	if (umn_soft_frames_destroy(frames))
		ret = 6;
	return ret;
}
