/* SPDX-License-Identifier: MIT */
/*
 * tests/consumers.h - what the tests of consumers/ share (the suite
 * "consumers": check_mirror.c, check_devtlb.c, check_regcache.c): a soft
 * mm over a frame pool, set up afresh for each test, and the oracle
 * (tests/check_consumers.c).
 *
 * The oracle: a consumer's translation of addr is coherent if the primary
 * maps addr to the same 4 KiB of the same frame, of the same generation
 * (the frame was not freed since), and allows a write if it does.
 */
#ifndef UMN_TESTS_CONSUMERS_H
#define UMN_TESTS_CONSUMERS_H

#include <umn/soft.h>

#include "harness.h"

#define BASE 0x40000000UL /* 1 GiB: aligned for every page size */
#define PMD  UMN_SOFT_PMD_SIZE
#define WIN  (4 * PMD) /* the mirrors' window: [BASE, BASE + WIN) */
#define RW   (UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE)

/* The test's pool and mm; a test that destroys sm sets it to NULL. */
extern struct umn_soft_frames *frames;
extern struct umn_soft_mm *sm;

/* The fixture: a default pool and an mm; teardown asserts that every
 * frame came back (no consumer leaked a pin). */
void consumers_setup(void);
void consumers_teardown(void);

/* Map [addr, addr + len) read-write at addr (asserted). */
void map(unsigned long addr, unsigned long len, int flags);
/* The primary's translation of addr: umn_soft_lookup()'s result. */
int primary(unsigned long addr, struct umn_soft_translation *t);

/* A translation a consumer reports, with subpage already at addr. */
bool coherent(unsigned long frame, unsigned long subpage, unsigned long gen,
	      unsigned long addr);
void assert_coherent(const struct umn_soft_translation *c, unsigned long addr);
void assert_stale(unsigned long frame, unsigned long subpage, unsigned long gen,
		  unsigned long addr);
/* Stale, and its frame freed since: a device use-after-free. */
void assert_freed(const struct umn_soft_translation *c, unsigned long addr);

/* The test cases of the suite, one file each. */
TCase *mirror_tcase(void);
TCase *devtlb_tcase(void);
TCase *regcache_tcase(void);
TCase *regcache_race_tcase(void);

#endif /* UMN_TESTS_CONSUMERS_H */
