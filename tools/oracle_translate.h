/* SPDX-License-Identifier: MIT */
/*
 * tools/oracle_translate.h - what the coherence oracles of umn-torture
 * (tools/workload.c) and of the fuzzer (tests/fuzz/fuzz_oracle.c) ask of
 * a secondary, in the soft MMU's terms.  Public headers only.
 */
#ifndef UMN_TOOLS_ORACLE_TRANSLATE_H
#define UMN_TOOLS_ORACLE_TRANSLATE_H

#include <umn/regcache.h>
#include <umn/soft.h>

/* The 4 KiB page of its frame that @addr reaches through @t. */
static inline unsigned long oracle_subpage(const struct umn_soft_translation *t,
					   unsigned long addr)
{
	return (t->size == UMN_PAGE_SIZE ? t->subpage : 0) +
	       (addr - t->base) / UMN_PAGE_SIZE;
}

/* What registration cache @rc holds at @addr, as a read-only 4 KiB
 * translation: 0, or umn_regcache_check()'s error. */
static inline int oracle_regcache_translate(struct umn_regcache *rc,
					    unsigned long addr,
					    struct umn_soft_translation *q)
{
	struct umn_regcache_page pg;
	int ret = umn_regcache_check(rc, addr, &pg);

	q->frame = pg.frame;
	q->subpage = pg.subpage;
	q->gen = pg.gen;
	q->writable = false;
	q->size = UMN_PAGE_SIZE;
	q->base = addr & ~(UMN_PAGE_SIZE - 1);
	return ret;
}

#endif
