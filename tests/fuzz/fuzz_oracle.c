// SPDX-License-Identifier: MIT
/*
 * tests/fuzz/fuzz_oracle.c - the fuzz harness's checks that every
 * operation shares: a call's result against the model's, a secondary's
 * remembered translations against the primary's (also when the frame pool
 * frees a frame), and, every few operations, the soft MMU's page tables,
 * reverse map, frames and swap slots against their counts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../primaries/soft/soft.h"
#include "../../tools/oracle_translate.h"
#include "fuzz_soft.h"

const char *const kind_names[] = { "classic mirror", "interval mirror",
				   "devtlb", "regcache" };

struct rec recs[MAX_RECS];
int nrecs;
static int rec_next;

void recs_reset(void)
{
	nrecs = rec_next = 0;
}

/* The oracle: the frame pool's free hook. */

static int secondary(const struct rec *r, unsigned long addr,
		     struct umn_soft_translation *q)
{
	switch (r->kind) {
	case K_MIRROR0:
	case K_MIRROR1:
		return umn_mirror_translate(r->obj, addr, q);
	case K_DEVTLB:
		return umn_devtlb_check(r->obj, addr, q);
	default:
		return oracle_regcache_translate(r->obj, addr, q);
	}
}

/* The 4 KiB of the frame that @addr reaches through @t. */
unsigned long sub_at(const struct umn_soft_translation *t, unsigned long addr)
{
	return oracle_subpage(t, addr);
}

void free_hook(void *arg, unsigned long frame, unsigned long gen)
{
	struct umn_soft_translation q;
	int i;

	(void)arg;
	if (frame < MAX_FRAMES && pinned[frame])
		fail("frame %lu freed while the harness pins it", frame);
	for (i = 0; i < nrecs; i++) {
		struct rec *r = &recs[i];

		if (r->frame != frame || r->gen != gen)
			continue;
		if (!secondary(r, r->addr, &q) && q.frame == frame &&
		    q.gen == gen)
			fail("frame %lu freed while the %s maps it at %#lx",
			     frame, kind_names[r->kind], r->addr);
	}
}

void record(int kind, void *obj, struct slot *sl, unsigned long addr,
	    const struct umn_soft_translation *t)
{
	recs[rec_next] = (struct rec){ kind, obj, sl, addr, t->frame, t->gen };
	rec_next = (rec_next + 1) % MAX_RECS;
	if (nrecs < MAX_RECS)
		nrecs++;
}

void forget(void *obj)
{
	int i;

	for (i = 0; i < nrecs; i++)
		if (recs[i].obj == obj)
			recs[i].obj = NULL, recs[i].frame = ~0UL;
}

/* The oracle: a secondary's translation is the primary's. */
void check_rec(const struct rec *r)
{
	struct umn_soft_translation q, p;
	struct mvma *v;
	int ret;

	if (!r->obj || secondary(r, r->addr, &q))
		return;
	ret = umn_soft_lookup(r->slot->sm, r->addr, false, NULL, NULL, &p);
	if (ret)
		fail("the %s maps %#lx to frame %lu/%lu gen %lu, the primary "
		     "nothing (%d)",
		     kind_names[r->kind], r->addr, q.frame, sub_at(&q, r->addr),
		     q.gen, ret);
	if (q.frame != p.frame || sub_at(&q, r->addr) != sub_at(&p, r->addr) ||
	    q.gen != p.gen || (q.writable && !p.writable))
		fail("the %s maps %#lx to frame %lu/%lu gen %lu%s, the "
		     "primary to %lu/%lu gen %lu%s",
		     kind_names[r->kind], r->addr, q.frame, sub_at(&q, r->addr),
		     q.gen, q.writable ? " rw" : "", p.frame,
		     sub_at(&p, r->addr), p.gen, p.writable ? " rw" : "");
	v = vma_at(&r->slot->m, r->addr);
	if (p.writable && !(v && (v->prot & W)))
		fail("the primary maps %#lx writable, in a mapping the model "
		     "says is not",
		     r->addr);
}

void expect(const char *what, int got, int want)
{
	if (tracing)
		fprintf(stderr, "  %s: %d (model: %d)\n", what, got, want);
	if (got != want)
		fail("%s returned %d, the model expects %d", what, got, want);
}

void expect_in(const char *what, int got, const int *ok, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (got == ok[i])
			return;
	fail("%s returned %d, not one of its documented results", what, got);
}

int expect_access(struct model *m, unsigned long a, bool write)
{
	struct mvma *v = vma_at(m, a);

	if (!v)
		return -EFAULT;
	if (!(v->prot & R) || (write && !(v->prot & W)))
		return -EACCES;
	return 0;
}

/*
 * The soft MMU's structures: every leaf of every page table is in its
 * frame's reverse map; a frame's references are its mappings and its
 * pins; a swap slot's are its swap entries; the page budget adds up.
 */
static int *mapcount;
static unsigned char *mms; /* which address spaces map it, by slot */
static unsigned long *swapcount;

NO_COVERAGE static void count_run(struct umn_soft_mm *sm, struct pt *t,
				  unsigned int level, unsigned int first,
				  unsigned int last, unsigned long base,
				  void *ctx)
{
	unsigned long size = LEVEL_SIZE(level), a, f;
	struct umn_soft_frames *fs = sm->frames;
	struct rmap *r;
	unsigned int i;
	uint64_t e;

	for (i = first; i <= last; i++) {
		e = t->e[i];
		a = base + (i - first) * size;
		if (e_type(e) == E_SWAP) {
			if (e_frame(e) >= fs->nr_swap)
				fail("swap entry at %#lx: slot %lu", a,
				     e_frame(e));
			swapcount[e_frame(e)]++;
			continue;
		}
		if (e_type(e) != E_LEAF)
			continue;
		f = e_frame(e);
		if (!f || f >= fs->next_unused)
			fail("leaf at %#lx: frame %lu", a, f);
		mapcount[f]++;
		mms[f] |= (unsigned char)(1U << (long)ctx);
		for (r = fs->frame[f].rmap; r; r = r->next)
			if (r->sm == sm && r->addr == a)
				break;
		if (!r)
			fail("frame %lu mapped at %#lx, not in its reverse map",
			     f, a);
		if (level && fs->frame[f].order != 9 * level)
			fail("frame %lu of order %u mapped at level %u", f,
			     fs->frame[f].order, level);
		if (!umn__soft_vma_find(sm, a))
			fail("frame %lu mapped at %#lx, outside every VMA", f,
			     a);
	}
}

/* A writable entry: the mapping allows writes; a private one maps a frame
 * no other address space maps, and not a KSM page (copy-on-write). */
NO_COVERAGE static void write_run(struct umn_soft_mm *sm, struct pt *t,
				  unsigned int level, unsigned int first,
				  unsigned int last, unsigned long base,
				  void *ctx)
{
	unsigned long size = LEVEL_SIZE(level), a, f;
	struct vma *v;
	unsigned int i;
	uint64_t e;

	(void)ctx;
	for (i = first; i <= last; i++) {
		e = t->e[i];
		if (e_type(e) != E_LEAF || !(e & E_WRITE))
			continue;
		a = base + (i - first) * size;
		f = e_frame(e);
		v = umn__soft_vma_find(sm, a);
		if (!(v->prot & W))
			fail("a writable entry at %#lx in a mapping without "
			     "PROT_WRITE",
			     a);
		if (v->flags & UMN_SOFT_MAP_SHARED)
			continue;
		if ((mms[f] & (mms[f] - 1)) || sm->frames->frame[f].ksm)
			fail("a writable private entry at %#lx to frame %lu, "
			     "which %s",
			     a, f,
			     sm->frames->frame[f].ksm ? "KSM merged"
						      : "another mm maps");
	}
}

/* Count each frame's mappings, and each swap slot's entries, from the
 * page tables of every address space. */
NO_COVERAGE static void count_mappings(struct umn_soft_frames *fs)
{
	int i;

	if (!mapcount) {
		mapcount = calloc(MAX_FRAMES, sizeof(*mapcount));
		mms = calloc(MAX_FRAMES, sizeof(*mms));
		swapcount = calloc(1UL << 16, sizeof(*swapcount));
		if (!mapcount || !mms || !swapcount)
			abort();
	}
	if (fs->nr_swap > 1UL << 16)
		fail("%lu swap slots", fs->nr_swap);
	memset(mapcount, 0, fs->next_unused * sizeof(*mapcount));
	memset(mms, 0, fs->next_unused * sizeof(*mms));
	memset(swapcount, 0, fs->nr_swap * sizeof(*swapcount));
	for (i = 0; i < nslots; i++)
		umn__soft_walk_range(slots[i]->sm, 0, UMN_SOFT_TASK_SIZE,
				     count_run, (void *)(long)i);
}

/* Frame @f's references are its mappings and pins; its pages (0 if it is
 * free), for the budget. */
NO_COVERAGE static unsigned long check_frame(struct umn_soft_frames *fs,
					     unsigned long f)
{
	struct frame *fr = &fs->frame[f];
	int refs = atomic_load(&fr->refs), np = atomic_load(&fr->pins);
	unsigned long n;
	struct rmap *r;

	for (n = 0, r = fr->rmap; r; r = r->next)
		n++;
	if (!refs) {
		if (mapcount[f] || np || n)
			fail("free frame %lu: %d mappings, %d pins, "
			     "%lu in its reverse map",
			     f, mapcount[f], np, n);
		return 0;
	}
	if (refs != mapcount[f] + np || (int)n != mapcount[f])
		fail("frame %lu: %d references, %d mappings, %d pins, "
		     "%lu in its reverse map",
		     f, refs, mapcount[f], np, n);
	/* (The harness's count may be higher: handles share a
	 * cached registration's pins.) */
	if (f < MAX_FRAMES && pinned[f] && !np)
		fail("frame %lu: not pinned, the harness holds %d", f,
		     pinned[f]);
	return 1UL << fr->order;
}

NO_COVERAGE void validate_frames(void)
{
	struct umn_soft_frames *fs = frames;
	unsigned long f, pages = 0;
	int i;

	count_mappings(fs);
	for (i = 0; i < nslots; i++)
		umn__soft_walk_range(slots[i]->sm, 0, UMN_SOFT_TASK_SIZE,
				     write_run, NULL);
	for (f = 1; f < fs->next_unused; f++)
		pages += check_frame(fs, f);
	if (pages != fs->pages_used)
		fail("%lu pages in frames, the budget says %lu", pages,
		     fs->pages_used);
	for (f = 0; f < fs->nr_swap; f++)
		if ((unsigned long)fs->swap[f].refs != swapcount[f] ||
		    fs->swap[f].pending)
			fail("swap slot %lu: %d references, %lu entries%s", f,
			     fs->swap[f].refs, swapcount[f],
			     fs->swap[f].pending ? ", pending" : "");
}
