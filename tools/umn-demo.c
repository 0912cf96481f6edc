// SPDX-License-Identifier: MIT
/*
 * umn-demo - the core at work, with a toy primary MMU.
 *
 * A primary MMU (a flat page table of 16 PTEs) changes a range; two
 * classic notifiers (a KVM-like shadow table and an IOMMU-like device TLB)
 * hear the bracket; an interval notifier (a device mirror of pages 4..7)
 * faults a page in while the primary changes it underneath, and the
 * collision-retry protocol makes it retry instead of installing a
 * translation to a frame the primary just took away.
 *
 * Everything happens on one thread, in a fixed order, so the output is the
 * same every run.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <umn/umn.h>

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))
#define PAGE(n) ((unsigned long)(n)*UMN_PAGE_SIZE)
#define NPAGES	16

static unsigned long pte[NPAGES]; /* the primary's page table: frames */
static unsigned long next_frame = 100;

static const char *const events[] = { "unmap",		"clear",
				      "protection-vma", "protection-page",
				      "soft-dirty",	"release",
				      "migrate",	"exclusive" };

/* The primary: give pages [first, first + count) new frames. */
static void primary_remap(struct umn_mm *mm, unsigned long first,
			  unsigned long count)
{
	struct umn_range range;
	unsigned long i;

	printf("primary: remap pages %lu..%lu\n", first, first + count - 1);
	umn_range_init(&range, mm, PAGE(first), PAGE(first + count),
		       UMN_EVENT_MIGRATE, UMN_RANGE_BLOCKABLE, NULL);
	if (umn_invalidate_range_start(&range))
		exit(1);
	for (i = first; i < first + count; i++) /* under the PTL */
		pte[i] = next_frame++;
	printf("primary:   page table updated\n");
	umn_invalidate_range(mm, range.start, range.end);
	umn_invalidate_range_only_end(&range);
	printf("primary:   done; old frames may be freed now\n");
}

/* Two classic notifiers that print what they hear. */
struct listener {
	struct umn_notifier n;
	const char *name;
};

static const char *who(struct umn_notifier *n)
{
	return container_of(n, struct listener, n)->name;
}

static int on_start(struct umn_notifier *n, const struct umn_range *r)
{
	printf("  %-7s invalidate_range_start [%#lx, %#lx) %s\n", who(n),
	       r->start, r->end, events[r->event]);
	return 0;
}

static void on_flush(struct umn_notifier *n, struct umn_mm *mm,
		     unsigned long start, unsigned long end)
{
	(void)mm;
	printf("  %-7s invalidate_range       [%#lx, %#lx) (atomic)\n", who(n),
	       start, end);
}

static void on_end(struct umn_notifier *n, const struct umn_range *r)
{
	printf("  %-7s invalidate_range_end   [%#lx, %#lx)\n", who(n), r->start,
	       r->end);
}

static void on_release(struct umn_notifier *n, struct umn_mm *mm)
{
	(void)mm;
	printf("  %-7s release\n", who(n));
}

static const struct umn_notifier_ops shadow_ops = {
	.name = "shadow",
	.release = on_release,
	.invalidate_range_start = on_start,
	.invalidate_range_end = on_end,
};

static const struct umn_notifier_ops tlb_ops = {
	.name = "devtlb",
	.release = on_release,
	.invalidate_range = on_flush,
};

/* An interval notifier: a device mirror of pages 4..7. */
struct mirror {
	struct umn_interval_notifier sub;
	unsigned long shadow[NPAGES]; /* guarded by "its lock" */
};

static bool mirror_invalidate(struct umn_interval_notifier *sub,
			      const struct umn_range *r, unsigned long seq)
{
	struct mirror *m = container_of(sub, struct mirror, sub);
	unsigned long p;

	/* lock(mirror) */
	umn_interval_set_seq(sub, seq);
	for (p = r->start / UMN_PAGE_SIZE; p < r->end / UMN_PAGE_SIZE; p++)
		m->shadow[p] = 0;
	/* unlock(mirror) */
	printf("  mirror  invalidate [%#lx, %#lx), seq %lu\n", r->start, r->end,
	       seq);
	return true;
}

static const struct umn_interval_notifier_ops mirror_ops = {
	.name = "mirror",
	.invalidate = mirror_invalidate,
};

/* The mirror's fault; with @race, the primary changes the page mid-way. */
static void mirror_fault(struct mirror *m, struct umn_mm *mm,
			 unsigned long page, bool race)
{
	unsigned long seq, frame;

	for (;;) {
		seq = umn_interval_read_begin(&m->sub);
		frame = pte[page];
		printf("mirror: fault page %lu: read_begin seq %lu, primary "
		       "maps frame %lu\n",
		       page, seq, frame);
		if (race) {
			primary_remap(mm, page, 2);
			race = false;
		}
		/* lock(mirror) */
		if (umn_interval_read_retry(&m->sub, seq)) {
			/* unlock(mirror) */
			printf("mirror: read_retry: collision, frame %lu is "
			       "stale, retry\n",
			       frame);
			continue;
		}
		m->shadow[page] = frame;
		/* unlock(mirror) */
		printf("mirror: installed page %lu -> frame %lu\n", page,
		       frame);
		return;
	}
}

int main(void)
{
	struct listener shadow = { .name = "shadow" },
			tlb = { .name = "devtlb" };
	struct mirror mirror = { 0 };
	struct umn_mm *mm;
	unsigned long p;

	for (p = 0; p < NPAGES; p++)
		pte[p] = next_frame++;
	if (umn_mm_create(NULL, NULL, &mm) ||
	    umn_notifier_register(&shadow.n, &shadow_ops, mm) ||
	    umn_notifier_register(&tlb.n, &tlb_ops, mm) ||
	    umn_interval_notifier_insert(&mirror.sub, mm, PAGE(4), PAGE(4),
					 &mirror_ops))
		return 1;

	puts("== 1. a range invalidation reaches both notifiers");
	primary_remap(mm, 0, 2);

	puts("\n== 2. the mirror faults a page in, undisturbed");
	mirror_fault(&mirror, mm, 4, false);

	puts("\n== 3. the primary changes the page during the fault");
	mirror_fault(&mirror, mm, 5, true);
	for (p = 0; p < NPAGES; p++) {
		if (mirror.shadow[p] && mirror.shadow[p] != pte[p]) {
			printf("BUG: the mirror maps page %lu to frame %lu, "
			       "the primary to %lu\n",
			       p, mirror.shadow[p], pte[p]);
			return 1;
		}
	}
	puts("mirror: every translation it holds is the primary's: coherent");

	puts("\n== 4. teardown");
	if (umn_interval_notifier_remove(&mirror.sub) || umn_mm_release(mm) ||
	    umn_notifier_unregister(&shadow.n) ||
	    umn_notifier_unregister(&tlb.n))
		return 1;
	umn_mm_put(mm);
	puts("done");
	return 0;
}
