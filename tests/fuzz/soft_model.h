/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/soft_model.h - the fuzz harness's reference model of one
 * address space of the soft MMU, kept without looking at the soft MMU
 * (but for which pages are populated at fork, see model_fork()): its
 * mappings (address -> protection, flags), sorted with alike neighbours
 * merged as the soft MMU merges them, the bytes written to each page, and
 * the extents that fork shared between address spaces.
 *
 * A model that finds itself inconsistent reports it with fail() (a page
 * where the model says none can be) or harness_fail() (its own limits),
 * which the harness provides (fuzz_soft.c).
 */
#ifndef UMN_FUZZ_SOFT_MODEL_H
#define UMN_FUZZ_SOFT_MODEL_H

#include <stdbool.h>
#include <umn/soft.h>

/* The model's searches and the validators' walks are not what the fuzzer
 * should learn from (and their traced comparisons cost half the time). */
#if defined(__clang__) && __clang_major__ >= 13
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define NO_COVERAGE
#endif

#define PAGE UMN_PAGE_SIZE
#define PMD  UMN_SOFT_PMD_SIZE
#define PUD  UMN_SOFT_PUD_SIZE
#define R    UMN_SOFT_PROT_READ
#define W    UMN_SOFT_PROT_WRITE

#define BASE	 (1UL << 40) /* the soft MMU's first-fit base */
#define MAX_VMAS 512

struct mpage {
	int refs;
	unsigned char data[PAGE];
};

struct mvma {
	unsigned long start, end;
	int prot, flags;
};

/* A page written, and what it holds (shared pages share the mpage). */
struct mentry {
	unsigned long addr;
	struct mpage *p;
};

/* Pages that fork shared: [start, end) is object @sobj from offset @off. */
struct mext {
	unsigned long start, end;
	unsigned long sobj, off;
};

struct model {
	struct mvma vma[MAX_VMAS];
	int nvma;
	struct mentry *pg;
	int npg, cappg;
	struct mext *ext;
	int next, capext;
};

_Noreturn void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void harness_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* A new run: no shared object numbered yet. */
void model_reset(void);

/* The mapping of @a, or NULL. */
struct mvma *vma_at(struct model *m, unsigned long a);
/* Take [s, e) out of the mappings (not out of the contents). */
void vmas_remove(struct model *m, unsigned long s, unsigned long e);
/* Map [s, e) with @prot and @flags, over what was there. */
void vmas_insert(struct model *m, unsigned long s, unsigned long e, int prot,
		 int flags);
/* Is all of [s, e) mapped? */
bool model_mapped(struct model *m, unsigned long s, unsigned long e);
/* Is none of [s, e) mapped? */
bool model_free(struct model *m, unsigned long s, unsigned long e);
/* As the soft MMU's huge_1g_aligned(): 1 GiB mappings cut at 1 GiB. */
bool model_1g_ok(struct model *m, unsigned long s, unsigned long e);
/* First fit at or after @hint (BASE if 0), aligned: as the soft MMU. */
unsigned long model_room(struct model *m, unsigned long hint, unsigned long len,
			 unsigned long align);

/* [s, e) is gone from @m: unmapped, or its pages discarded. */
void model_discard(struct model *m, unsigned long s, unsigned long e);
/* [s, e) unmapped: its contents and its mappings. */
void model_unmap(struct model *m, unsigned long s, unsigned long e);
/* What @m holds at the page of @a: NULL for zeros. */
struct mpage *model_page(struct model *m, unsigned long a);
/*
 * @len bytes of @buf written at @a (inside one page) in @m; a page of an
 * extent fork shared appears in each of the @n models of @all (the live
 * address spaces, @m among them) that shares it.
 */
void model_write(struct model *m, unsigned long a, const void *buf,
		 unsigned long len, struct model *const *all, int n);
/* Move the contents of [s, e) of @m by @delta (mremap). */
void model_move(struct model *m, unsigned long s, unsigned long e,
		unsigned long delta);
/* The child @cm of @pm (whose soft mm is @parent), as fork makes it. */
void model_fork(struct model *pm, struct umn_soft_mm *parent, struct model *cm);
/* Free what @m holds and empty it. */
void model_free_all(struct model *m);

#endif
