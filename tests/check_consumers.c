// SPDX-License-Identifier: MIT
/*
 * tests/check_consumers.c - the suite "consumers": the reference secondary
 * MMUs of consumers/ over a soft mm (check_mirror.c, check_devtlb.c,
 * check_regcache.c).  Each gives the primary's translation, holds nothing
 * stale once the primary unmaps, protects or reclaims, and each deliberate
 * break is caught by the oracle in a deterministic interleaving, so that
 * the oracle is shown able to fail.  Here: the fixture and the oracle
 * (tests/consumers.h).
 */
#include <string.h>

#include "consumers.h"

Suite *consumers_suite(void);

struct umn_soft_frames *frames;
struct umn_soft_mm *sm;

void consumers_setup(void)
{
	struct umn_soft_frames_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(umn_soft_frames_create(&cfg, &frames), 0);
	ck_assert_int_eq(umn_soft_mm_create(frames, &sm), 0);
}

void consumers_teardown(void)
{
	if (sm)
		umn_soft_mm_destroy(sm);
	sm = NULL;
	/* Every frame came back: no consumer leaked a pin. */
	ck_assert_int_eq(umn_soft_frames_destroy(frames), 0);
}

void map(unsigned long addr, unsigned long len, int flags)
{
	unsigned long got;

	ck_assert_int_eq(umn_soft_mmap(sm, addr, len, RW,
				       flags | UMN_SOFT_MAP_FIXED, &got),
			 0);
	ck_assert_uint_eq(got, addr);
}

int primary(unsigned long addr, struct umn_soft_translation *t)
{
	return umn_soft_lookup(sm, addr, false, NULL, NULL, t);
}

/* The 4 KiB of the primary's frame that addr reaches. */
static unsigned long page_at(const struct umn_soft_translation *t,
			     unsigned long addr)
{
	return (t->size == UMN_PAGE_SIZE ? t->subpage : 0) +
	       ((addr - t->base) >> UMN_PAGE_SHIFT);
}

bool coherent(unsigned long frame, unsigned long subpage, unsigned long gen,
	      unsigned long addr)
{
	struct umn_soft_translation p;

	return !primary(addr, &p) && frame == p.frame &&
	       subpage == page_at(&p, addr) && gen == p.gen &&
	       gen == umn_soft_frame_gen(frames, frame);
}

void assert_coherent(const struct umn_soft_translation *c, unsigned long addr)
{
	struct umn_soft_translation p;

	ck_assert(coherent(c->frame, c->subpage, c->gen, addr));
	ck_assert_int_eq(primary(addr, &p), 0);
	ck_assert(!c->writable || p.writable);
}

void assert_stale(unsigned long frame, unsigned long subpage, unsigned long gen,
		  unsigned long addr)
{
	ck_assert(!coherent(frame, subpage, gen, addr));
}

void assert_freed(const struct umn_soft_translation *c, unsigned long addr)
{
	assert_stale(c->frame, c->subpage, c->gen, addr);
	ck_assert_uint_ne(umn_soft_frame_gen(frames, c->frame), c->gen);
}

Suite *consumers_suite(void)
{
	Suite *s = suite_create("consumers");

	suite_add_tcase(s, mirror_tcase());
	suite_add_tcase(s, devtlb_tcase());
	suite_add_tcase(s, regcache_tcase());
	suite_add_tcase(s, regcache_race_tcase());
	return s;
}
