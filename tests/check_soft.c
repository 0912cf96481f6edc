// SPDX-License-Identifier: MIT
/*
 * tests/check_soft.c - the soft MMU: every operation fires exactly the
 * sequence of docs/CONTRACT.md, rule 2 (events, ranges — THP ranges above
 * all —, invalidate_range under the PTL after the update, frames freed
 * only after end), and bad input changes nothing.
 *
 * The log: S start, I invalidate_range, E end (notifier 1 on the parent,
 * 2 on a child), R release, P change_pte, F a frame freed ("F0").
 */
#include <errno.h>
#include <string.h>
#include <umn-test/breaks.h>

#include "../primaries/soft/soft.h"
#include "harness.h"

#define MB  (1UL << 20)
#define THP UMN_SOFT_PMD_SIZE
#define RW  (UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE)

static struct umn_soft_frames *fs;
static struct umn_soft_mm *sm;
static struct recorder rec;

/* A recording notifier that also checks, in invalidate_range, that the
 * PTL of the changed entry is held and what the entry holds by then. */
struct watcher {
	struct rec_notifier r;
	struct umn_soft_mm *sm;
	int ptl_not_held;
	uint64_t entry; /* at the start of the last invalidate_range */
};

static struct watcher w1, w2;

static void watch_inv(struct umn_notifier *n, struct umn_mm *mm,
		      unsigned long start, unsigned long end)
{
	struct watcher *w = container_of(n, struct watcher, r.n);
	unsigned int level;
	struct pt *t;

	(void)mm;
	rec_add(&rec, 'I', w->r.id, start, end, 0);
	/* The changed entry's table is the deepest one whose lock is held
	 * (single-threaded tests: only the primary, this thread, holds). */
	for (level = 0; level < PT_LEVELS - 1; level++) {
		t = umn__soft_pt_walk(w->sm, start, level, false);
		if (!t)
			continue;
		if (pthread_mutex_trylock(&t->ptl) == EBUSY) {
			w->entry = e_load(t, LEVEL_INDEX(start, level));
			return;
		}
		pthread_mutex_unlock(&t->ptl);
	}
	w->ptl_not_held++;
}

static struct umn_notifier_ops watch_ops;

static void watch(struct watcher *w, int id, struct umn_soft_mm *s)
{
	memset(w, 0, sizeof(*w));
	w->r.id = id;
	w->r.rec = &rec;
	w->sm = s;
	ck_assert_int_eq(
		umn_notifier_register(&w->r.n, &watch_ops, umn_soft_mm_umn(s)),
		0);
}

static void free_hook(void *arg, unsigned long frame, unsigned long gen)
{
	(void)arg;
	rec_add(&rec, 'F', 0, frame, gen, 0);
}

static void setup(void)
{
	struct umn_soft_frames_config cfg = { .free_hook = free_hook,
					      .max_pages = 1UL << 20 };

	watch_ops = rec_ops;
	watch_ops.invalidate_range = watch_inv;
	watch_ops.release = NULL;
	rec_init(&rec);
	ck_assert_int_eq(umn_soft_frames_create(&cfg, &fs), 0);
	ck_assert_int_eq(umn_soft_mm_create(fs, &sm), 0);
	watch(&w1, 1, sm);
}

static void finish(void)
{
	ck_assert_int_eq(w1.ptl_not_held, 0);
	ck_assert_int_eq(umn_notifier_unregister(&w1.r.n), 0);
	umn_soft_mm_destroy(sm);
	ck_assert_int_eq(umn_soft_frames_destroy(fs), 0);
}

static void reset_log(void)
{
	rec.n = 0;
}

static unsigned long map(unsigned long len, int flags)
{
	unsigned long a;

	ck_assert_int_eq(umn_soft_mmap(sm, 0, len, RW, flags, &a), 0);
	return a;
}

static void touch(struct umn_soft_mm *s, unsigned long addr, char c)
{
	ck_assert_int_eq(umn_soft_write(s, addr, &c, 1), 0);
}

static char peek(struct umn_soft_mm *s, unsigned long addr)
{
	char c = '?';

	ck_assert_int_eq(umn_soft_read(s, addr, &c, 1), 0);
	return c;
}

static struct umn_soft_translation tr(struct umn_soft_mm *s, unsigned long addr)
{
	struct umn_soft_translation t;

	ck_assert_int_eq(umn_soft_lookup(s, addr, false, NULL, NULL, &t), 0);
	return t;
}

static void assert_range(int ev, unsigned long start, unsigned long end,
			 enum umn_event event)
{
	ck_assert_int_lt(ev, rec.n);
	ck_assert_uint_eq(rec.ev[ev].start, start);
	ck_assert_uint_eq(rec.ev[ev].end, end);
	if (rec.ev[ev].kind == 'S' || rec.ev[ev].kind == 'E')
		ck_assert_int_eq(rec.ev[ev].event, event);
}

/* Faults need no invalidation; munmap is UNMAP, freed after end. */
START_TEST(munmap_unmaps_then_frees)
{
	unsigned long a = map(4 * UMN_PAGE_SIZE, 0);

	touch(sm, a + PG(1), 'x');
	touch(sm, a + PG(2), 'y');
	ck_assert_str_eq(rec_string(&rec), "");
	ck_assert_int_eq(umn_soft_munmap(sm, a, PG(4)), 0);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1F0F0");
	assert_range(0, a, a + PG(4), UMN_EVENT_UNMAP);
	ck_assert_uint_eq(w1.entry, E_NONE); /* after the update */
	ck_assert_int_eq(
		umn_soft_lookup(sm, a + PG(1), false, NULL, NULL, NULL),
		-EFAULT);
	finish();
}
END_TEST

/* Part of a 2 MiB page: split it (CLEAR over the whole 2 MiB), then the
 * UNMAP of the part; the huge frame stays (the rest still maps it). */
START_TEST(partial_munmap_of_thp_splits_first)
{
	unsigned long a = map(2 * THP, UMN_SOFT_MAP_THP);

	touch(sm, a, 'h');
	ck_assert_uint_eq(tr(sm, a).size, THP);
	ck_assert_int_eq(umn_soft_munmap(sm, a + PG(3), PG(2)), 0);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1S1I1E1");
	assert_range(0, a, a + THP, UMN_EVENT_CLEAR);
	assert_range(1, a, a + THP, 0);
	assert_range(3, a + PG(3), a + PG(5), UMN_EVENT_UNMAP);
	ck_assert_uint_eq(tr(sm, a).size, UMN_PAGE_SIZE);
	ck_assert_int_eq(peek(sm, a), 'h');
	reset_log();
	ck_assert_int_eq(umn_soft_munmap(sm, a, 2 * THP), 0);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1F0"); /* freed once, last */
	finish();
}
END_TEST

START_TEST(mprotect_downgrade_and_upgrade)
{
	unsigned long a = map(PG(4), 0);

	touch(sm, a, 'p');
	ck_assert_int_eq(umn_soft_mprotect(sm, a, PG(4), UMN_SOFT_PROT_READ),
			 0);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1");
	assert_range(0, a, a + PG(4), UMN_EVENT_PROTECTION_VMA);
	ck_assert(!(w1.entry & E_WRITE));
	ck_assert_int_eq(umn_soft_write(sm, a, "q", 1), -EACCES);
	ck_assert_int_eq(umn_soft_mprotect(sm, a, PG(4), RW), 0);
	ck_assert(w1.entry & E_WRITE); /* exclusive: no COW needed */
	touch(sm, a, 'q');
	ck_assert_int_eq(umn_soft_mprotect(sm, a + PG(8), PG(1), RW), -ENOMEM);
	finish();
}
END_TEST

START_TEST(mremap_moves_shrinks_grows)
{
	unsigned long a = map(PG(4), 0), b, c;

	touch(sm, a + PG(1), 'm');
	ck_assert_int_eq(
		umn_soft_mmap(sm, a + PG(4), PG(1), RW, UMN_SOFT_MAP_FIXED, &c),
		0); /* block growing in place */
	reset_log();
	ck_assert_int_eq(umn_soft_mremap(sm, a, PG(4), PG(8),
					 UMN_SOFT_MREMAP_MAYMOVE, &b),
			 0);
	ck_assert_uint_ne(a, b);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1");
	assert_range(0, a, a + PG(4), UMN_EVENT_UNMAP);
	ck_assert_int_eq(peek(sm, b + PG(1)), 'm');
	ck_assert_int_eq(
		umn_soft_lookup(sm, a + PG(1), false, NULL, NULL, NULL),
		-EFAULT);
	reset_log();
	ck_assert_int_eq(umn_soft_mremap(sm, b, PG(8), PG(1), 0, &c), 0);
	ck_assert_uint_eq(c, b);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1F0");
	assert_range(0, b + PG(1), b + PG(8), UMN_EVENT_UNMAP);
	ck_assert_int_eq(umn_soft_mremap(sm, b, PG(1), PG(2), 0, &c), 0);
	ck_assert_int_eq(umn_soft_mremap(sm, b + PG(100), PG(1), PG(2), 0, &c),
			 -EFAULT);
	finish();
}
END_TEST

START_TEST(madvise_dontneed_clears)
{
	unsigned long a = map(PG(2), 0);

	touch(sm, a, 'd');
	ck_assert_int_eq(umn_soft_madvise_dontneed(sm, a, PG(2)), 0);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1F0");
	assert_range(0, a, a + PG(2), UMN_EVENT_CLEAR);
	ck_assert_int_eq(peek(sm, a), 0); /* a new zero page */
	finish();
}
END_TEST

/* Fork write-protects the parent (PROTECTION_PAGE); a write in the child
 * replaces its PTE: CLEAR, with invalidate_range under the PTL after the
 * new entry is in. */
START_TEST(fork_then_cow)
{
	unsigned long a = map(PG(2), 0), old;
	struct umn_soft_mm *child;

	touch(sm, a, 'f');
	old = tr(sm, a).frame;
	ck_assert_int_eq(umn_soft_fork(sm, &child), 0);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1");
	assert_range(0, a, a + PG(2), UMN_EVENT_PROTECTION_PAGE);
	ck_assert(!(w1.entry & E_WRITE));
	ck_assert_uint_eq(tr(child, a).frame, old);
	watch(&w2, 2, child);
	reset_log();
	touch(child, a, 'c');
	ck_assert_str_eq(rec_string(&rec), "S2I2E2");
	assert_range(0, a, a + PG(1), UMN_EVENT_CLEAR);
	ck_assert_uint_ne(e_frame(w2.entry), old); /* updated before */
	ck_assert_uint_eq(e_frame(w2.entry), tr(child, a).frame);
	ck_assert_int_eq(w2.ptl_not_held, 0);
	ck_assert_int_eq(peek(sm, a), 'f');
	ck_assert_int_eq(peek(child, a), 'c');
	/* The parent's page is its own again: no copy, no bracket. */
	reset_log();
	touch(sm, a, 'g');
	ck_assert_str_eq(rec_string(&rec), "");
	ck_assert_uint_eq(tr(sm, a).frame, old);
	ck_assert_int_eq(umn_notifier_unregister(&w2.r.n), 0);
	umn_soft_mm_destroy(child);
	finish();
}
END_TEST

/*
 * The huge page at @a moved off frame @old in one bracket of @event over
 * the whole of it, and the old frame was freed after its end; the byte at
 * @at is still @byte.
 */
static void assert_moved_whole(unsigned long a, unsigned long old,
			       enum umn_event event, unsigned long at, int byte)
{
	ck_assert_str_eq(rec_string(&rec), "S1I1E1F0");
	assert_range(0, a, a + THP, event);
	ck_assert_uint_eq(rec.ev[3].start, old); /* the old frame, last */
	ck_assert_uint_ne(tr(sm, a).frame, old);
	ck_assert_int_eq(peek(sm, at), byte);
}

START_TEST(thp_split_and_collapse)
{
	unsigned long a = map(THP, UMN_SOFT_MAP_THP), huge;

	touch(sm, a + PG(7), 's');
	huge = tr(sm, a).frame;
	ck_assert_int_eq(umn_soft_thp_split(sm, a + PG(9)), 0);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1");
	assert_range(0, a, a + THP, UMN_EVENT_CLEAR);
	ck_assert_uint_eq(e_type(w1.entry), E_TABLE); /* after the update */
	ck_assert_uint_eq(tr(sm, a + PG(7)).frame, huge);
	ck_assert_uint_eq(tr(sm, a + PG(7)).subpage, 7);
	ck_assert_int_eq(umn_soft_thp_split(sm, a), -EINVAL);
	reset_log();
	ck_assert_int_eq(umn_soft_thp_collapse(sm, a), 0);
	assert_moved_whole(a, huge, UMN_EVENT_CLEAR, a + PG(7), 's');
	ck_assert_uint_eq(tr(sm, a).size, THP);
	finish();
}
END_TEST

START_TEST(migrate_moves_the_frame)
{
	unsigned long a = map(THP, UMN_SOFT_MAP_THP), old;

	touch(sm, a + PG(5), 'g');
	old = tr(sm, a).frame;
	ck_assert_int_eq(umn_soft_migrate(sm, a + PG(5)), 0);
	assert_moved_whole(a, old, UMN_EVENT_MIGRATE, a + PG(5), 'g');
	/* At ->invalidate_range: cleared and flushed, then copied. */
	ck_assert_uint_eq(e_type(w1.entry), E_NONE);
	finish();
}
END_TEST

/* try_to_unmap_one's THP range: the whole 2 MiB, clamped to the VMA. */
START_TEST(reclaim_range_covers_the_huge_frame)
{
	unsigned long a = map(THP, UMN_SOFT_MAP_THP);

	touch(sm, a + PG(300), 'r');
	ck_assert_int_eq(umn_soft_thp_split(sm, a), 0);
	/* Cut the VMA: the range is clamped to it. */
	ck_assert_int_eq(
		umn_soft_mprotect(sm, a + THP / 2, THP / 2, UMN_SOFT_PROT_READ),
		0);
	reset_log();
	ck_assert_int_eq(umn_soft_reclaim(sm, a + PG(300)), 0);
	/* 512 PTE mappings in two VMAs: one bracket per VMA, each over the
	 * frame's part of it (page_vma_mapped_walk), then the frame freed. */
	ck_assert_str_eq(rec_string(&rec), "S1I1E1S1I1E1F0");
	ck_assert_uint_eq(rec.ev[0].end - rec.ev[0].start, THP / 2);
	ck_assert_uint_eq(rec.ev[3].end - rec.ev[3].start, THP / 2);
	ck_assert_uint_ne(rec.ev[0].start, rec.ev[3].start);
	ck_assert_int_eq(rec.ev[0].event, UMN_EVENT_CLEAR);
	ck_assert_uint_eq(e_type(w1.entry), E_SWAP);
	ck_assert_int_eq(peek(sm, a + PG(300)), 'r'); /* swapped back in */
	finish();
}
END_TEST

START_TEST(reclaim_of_a_huge_mapping)
{
	unsigned long a = map(2 * THP, UMN_SOFT_MAP_THP);

	touch(sm, a + THP + PG(1), 'R');
	ck_assert_int_eq(umn_soft_reclaim(sm, a + THP + PG(1)), 0);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1F0");
	assert_range(0, a + THP, a + 2 * THP, UMN_EVENT_CLEAR);
	ck_assert_uint_eq(e_type(w1.entry), E_SWAP);
	ck_assert_int_eq(peek(sm, a + THP + PG(1)), 'R');
	ck_assert_uint_eq(tr(sm, a + THP).size, THP);
	finish();
}
END_TEST

/* The deliberate break: only the first 4 KiB (the bug of 4.13). */
START_TEST(thp_range_break_narrows_the_range)
{
	struct umn_soft_frames_config cfg = {
		.free_hook = free_hook, .breaks = UMN_SOFT_BREAK_THP_RANGE
	};
	unsigned long a;

	finish();
	rec_init(&rec);
	ck_assert_int_eq(umn_soft_frames_create(&cfg, &fs), 0);
	ck_assert_int_eq(umn_soft_mm_create(fs, &sm), 0);
	watch(&w1, 1, sm);
	a = map(THP, UMN_SOFT_MAP_THP);
	touch(sm, a, 'b');
	ck_assert_int_eq(umn_soft_clean(sm, a), 0);
	assert_range(0, a, a + PG(1), UMN_EVENT_PROTECTION_PAGE);
	finish();
}
END_TEST

START_TEST(clean_write_protects_the_whole_frame)
{
	unsigned long a = map(THP, UMN_SOFT_MAP_THP);

	touch(sm, a + PG(2), 'w');
	ck_assert_int_eq(umn_soft_clean(sm, a + PG(2)), 0);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1");
	assert_range(0, a, a + THP, UMN_EVENT_PROTECTION_PAGE);
	ck_assert(!(w1.entry & (E_WRITE | E_DIRTY)));
	reset_log();
	touch(sm, a + PG(2), 'W'); /* exclusive: made writable again */
	ck_assert_str_eq(rec_string(&rec), "");
	finish();
}
END_TEST

/* KSM: write-protect both, then change_pte inside the replacing bracket. */
START_TEST(ksm_merges_identical_pages)
{
	unsigned long a = map(PG(2), 0), fa;

	touch(sm, a, 'k');
	touch(sm, a + PG(1), 'k');
	fa = tr(sm, a).frame;
	ck_assert_int_eq(umn_soft_ksm_merge(sm, a, sm, a + PG(1)), 0);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1S1I1E1S1P1I1E1F0");
	assert_range(6, a + PG(1), a + PG(2), UMN_EVENT_CLEAR);
	ck_assert_uint_eq(tr(sm, a + PG(1)).frame, fa);
	ck_assert(!tr(sm, a + PG(1)).writable);
	/* A write breaks the sharing again. */
	touch(sm, a + PG(1), 'l');
	ck_assert_uint_ne(tr(sm, a + PG(1)).frame, fa);
	ck_assert_int_eq(peek(sm, a), 'k');
	/* Different bytes: no merge. */
	ck_assert_int_eq(umn_soft_ksm_merge(sm, a, sm, a + PG(1)), -EAGAIN);
	finish();
}
END_TEST

START_TEST(aging_asks_primary_and_secondaries)
{
	unsigned long a = map(PG(4), 0);

	touch(sm, a, 'a');
	touch(sm, a + PG(1), 'a');
	ck_assert_int_eq(umn_soft_age(sm, a, PG(4), UMN_SOFT_AGE_TEST), 2);
	ck_assert_int_eq(umn_soft_age(sm, a, PG(4), UMN_SOFT_AGE_CLEAR_FLUSH),
			 2);
	ck_assert_int_eq(umn_soft_age(sm, a, PG(4), UMN_SOFT_AGE_TEST), 0);
	w1.r.young = 1; /* the secondary saw an access */
	ck_assert_int_eq(umn_soft_age(sm, a, PG(4), UMN_SOFT_AGE_CLEAR), 2);
	ck_assert_int_eq(rec_count(&rec, 'Y', 1), 8);
	ck_assert_uint_eq(rec.ev[0].end - rec.ev[0].start, PG(1));
	finish();
}
END_TEST

/* Destroy: release first, then a RELEASE bracket, then the frames. */
static void watch_release(struct umn_notifier *n, struct umn_mm *mm)
{
	(void)mm;
	rec_add(&rec, 'R', container_of(n, struct watcher, r.n)->r.id, 0, 0, 0);
}

START_TEST(destroy_releases_then_unmaps_then_frees)
{
	unsigned long a = map(PG(2), 0);

	watch_ops.release = watch_release;
	touch(sm, a, 'z');
	ck_assert_int_eq(umn_notifier_unregister_no_release(&w1.r.n), 0);
	watch(&w2, 2, sm);
	umn_soft_mm_destroy(sm);
	ck_assert_str_eq(rec_string(&rec), "R2F0"); /* classic: no more */
	ck_assert_int_eq(umn_notifier_unregister(&w2.r.n), 0);
	ck_assert_int_eq(umn_soft_frames_destroy(fs), 0);
}
END_TEST

/* Interval notifiers still hear the RELEASE bracket. */
static int released_ranges;

static bool count_release(struct umn_interval_notifier *sub,
			  const struct umn_range *range, unsigned long seq)
{
	umn_interval_set_seq(sub, seq);
	released_ranges += range->event == UMN_EVENT_RELEASE;
	return true;
}

START_TEST(destroy_reaches_interval_notifiers)
{
	static const struct umn_interval_notifier_ops ops = {
		.invalidate = count_release
	};
	struct umn_interval_notifier sub = { 0 };
	unsigned long a = map(PG(2), 0);
	struct umn_mm *mm = umn_mm_get(umn_soft_mm_umn(sm));

	ck_assert_int_eq(umn_notifier_unregister(&w1.r.n), 0);
	ck_assert_int_eq(umn_interval_notifier_insert(&sub, mm, a, PG(2), &ops),
			 0);
	umn_soft_mm_destroy(sm);
	ck_assert_int_eq(released_ranges, 1);
	ck_assert_int_eq(umn_interval_notifier_remove(&sub), 0);
	umn_mm_put(mm);
	ck_assert_int_eq(umn_soft_frames_destroy(fs), 0);
}
END_TEST

/* 1 GiB pages: shared and aligned only; one entry maps the whole. */
START_TEST(one_gib_pages)
{
	unsigned long a;

	ck_assert_int_eq(umn_soft_mmap(sm, 0, UMN_SOFT_PUD_SIZE, RW,
				       UMN_SOFT_MAP_HUGE_1G, &a),
			 -EINVAL);
	ck_assert_int_eq(
		umn_soft_mmap(sm, 0, UMN_SOFT_PUD_SIZE, RW,
			      UMN_SOFT_MAP_HUGE_1G | UMN_SOFT_MAP_SHARED, &a),
		0);
	touch(sm, a + 5 * MB, '1');
	ck_assert_uint_eq(tr(sm, a).size, UMN_SOFT_PUD_SIZE);
	ck_assert_int_eq(umn_soft_munmap(sm, a, THP), -EINVAL);
	ck_assert_int_eq(umn_soft_clean(sm, a), 0);
	assert_range(0, a, a + UMN_SOFT_PUD_SIZE, UMN_EVENT_PROTECTION_PAGE);
	ck_assert_int_eq(umn_soft_reclaim(sm, a), -EBUSY); /* shared */
	ck_assert_int_eq(peek(sm, a + 5 * MB), '1');
	reset_log();
	ck_assert_int_eq(umn_soft_munmap(sm, a, UMN_SOFT_PUD_SIZE), 0);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1F0");
	finish();
}
END_TEST

/* Regression (review): mremap of part of a 2 MiB page moved the whole
 * entry, outside its bracket, and lost the rest's data. */
START_TEST(mremap_of_part_of_a_thp_moves_only_that_part)
{
	unsigned long a = map(2 * THP, UMN_SOFT_MAP_THP), b;

	touch(sm, a, 'x');
	touch(sm, a + MB + PG(1), 'y');
	ck_assert_int_eq(
		umn_soft_mremap(sm, a, MB, 3 * MB, UMN_SOFT_MREMAP_MAYMOVE, &b),
		0);
	ck_assert_uint_ne(a, b);
	ck_assert_uint_eq(b & (THP - 1), a & (THP - 1));
	ck_assert_int_eq(peek(sm, b), 'x');
	ck_assert_int_eq(peek(sm, a + MB + PG(1)), 'y');
	ck_assert_int_eq(peek(sm, b + MB + PG(1)), 0);
	finish();
}
END_TEST

/* Regression (review): a pinned page is reused in place on a write (as
 * Linux), not copied away from its pinner... */
START_TEST(pinned_page_is_reused_not_copied)
{
	struct umn_soft_translation t;
	unsigned long a = map(PG(1), 0);

	touch(sm, a, 'p');
	ck_assert_int_eq(umn_soft_pin(sm, a, true, &t), 0);
	ck_assert_int_eq(umn_soft_mprotect(sm, a, PG(1), UMN_SOFT_PROT_READ),
			 0);
	ck_assert_int_eq(umn_soft_mprotect(sm, a, PG(1), RW), 0);
	touch(sm, a, 'q');
	ck_assert_uint_eq(tr(sm, a).frame, t.frame);
	umn_soft_unpin(fs, t.frame);
	finish();
}
END_TEST

/* ... and fork copies it for the child at once (page_needs_cow_for_dma),
 * so the pinner keeps writing to the parent's page. */
START_TEST(fork_copies_a_pinned_page_for_the_child)
{
	struct umn_soft_translation t;
	unsigned long a = map(PG(1), 0);
	struct umn_soft_mm *child;
	char z = 'z';

	touch(sm, a, 'p');
	ck_assert_int_eq(umn_soft_pin(sm, a, true, &t), 0);
	ck_assert_int_eq(umn_soft_fork(sm, &child), 0);
	ck_assert_uint_eq(tr(sm, a).frame, t.frame);
	ck_assert(tr(sm, a).writable);
	ck_assert_uint_ne(tr(child, a).frame, t.frame);
	umn_soft_frame_write(fs, t.frame, t.subpage, 0, &z, 1); /* the DMA */
	ck_assert_int_eq(peek(sm, a), 'z');
	ck_assert_int_eq(peek(child, a), 'p');
	umn_soft_unpin(fs, t.frame);
	umn_soft_mm_destroy(child);
	finish();
}
END_TEST

/* Bad input: an errno, and nothing changes. */
START_TEST(bad_input_changes_nothing)
{
	struct umn_soft_frames_config tiny = { .max_pages = 1 };
	struct umn_soft_frames *small;
	struct umn_soft_mm *s2;
	unsigned long a = map(PG(2), 0), b;

	touch(sm, a, 'e');
	ck_assert_int_eq(umn_soft_mmap(sm, 0, 0, RW, 0, &b), -EINVAL);
	ck_assert_int_eq(
		umn_soft_mmap(sm, 1, PG(1), RW, UMN_SOFT_MAP_FIXED, &b),
		-EINVAL);
	ck_assert_int_eq(umn_soft_mmap(sm, 0, PG(1), 8, 0, &b), -EINVAL);
	ck_assert_int_eq(umn_soft_munmap(sm, a + 1, PG(1)), -EINVAL);
	ck_assert_int_eq(umn_soft_munmap(sm, a, 0), -EINVAL);
	ck_assert_int_eq(umn_soft_fault(sm, a + PG(100), false), -EFAULT);
	ck_assert_int_eq(umn_soft_mprotect(sm, a, PG(1), 0), 0);
	ck_assert_int_eq(umn_soft_fault(sm, a, false), -EACCES);
	ck_assert_int_eq(umn_soft_mprotect(sm, a, PG(1), RW), 0);
	ck_assert_int_eq(umn_soft_thp_collapse(sm, a), -EINVAL);
	ck_assert_int_eq(umn_soft_migrate(sm, a + PG(1)), -EFAULT);
	ck_assert_int_eq(umn_soft_age(sm, a + 1, PG(1), 0), -EINVAL);
	ck_assert_int_eq(peek(sm, a), 'e');

	/* No frames left: -ENOMEM, and the mapping stays empty. */
	ck_assert_int_eq(umn_soft_frames_create(&tiny, &small), 0);
	ck_assert_int_eq(umn_soft_mm_create(small, &s2), 0);
	ck_assert_int_eq(umn_soft_mmap(s2, 0, PG(2), RW, 0, &b), 0);
	ck_assert_int_eq(umn_soft_fault(s2, b, true), 0);
	ck_assert_int_eq(umn_soft_fault(s2, b + PG(1), true), -ENOMEM);
	ck_assert_int_eq(
		umn_soft_lookup(s2, b + PG(1), false, NULL, NULL, NULL),
		-EFAULT);
	umn_soft_mm_destroy(s2);
	ck_assert_int_eq(umn_soft_frames_destroy(small), 0);
	finish();
}
END_TEST

Suite *soft_suite(void)
{
	TCase *tc;
	Suite *s = one_case_suite("soft", 30, setup, NULL, &tc);

	tcase_add_test(tc, munmap_unmaps_then_frees);
	tcase_add_test(tc, partial_munmap_of_thp_splits_first);
	tcase_add_test(tc, mprotect_downgrade_and_upgrade);
	tcase_add_test(tc, mremap_moves_shrinks_grows);
	tcase_add_test(tc, madvise_dontneed_clears);
	tcase_add_test(tc, fork_then_cow);
	tcase_add_test(tc, thp_split_and_collapse);
	tcase_add_test(tc, migrate_moves_the_frame);
	tcase_add_test(tc, reclaim_range_covers_the_huge_frame);
	tcase_add_test(tc, reclaim_of_a_huge_mapping);
	tcase_add_test(tc, thp_range_break_narrows_the_range);
	tcase_add_test(tc, clean_write_protects_the_whole_frame);
	tcase_add_test(tc, ksm_merges_identical_pages);
	tcase_add_test(tc, aging_asks_primary_and_secondaries);
	tcase_add_test(tc, destroy_releases_then_unmaps_then_frees);
	tcase_add_test(tc, destroy_reaches_interval_notifiers);
	tcase_add_test(tc, one_gib_pages);
	tcase_add_test(tc, mremap_of_part_of_a_thp_moves_only_that_part);
	tcase_add_test(tc, pinned_page_is_reused_not_copied);
	tcase_add_test(tc, fork_copies_a_pinned_page_for_the_child);
	tcase_add_test(tc, bad_input_changes_nothing);
	return s;
}
