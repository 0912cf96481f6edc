// SPDX-License-Identifier: MIT
/*
 * tests/check_linux.c - <umn/linux/mmu_notifier.h>: each kernel call
 * reaches the umn call it stands for, and each callback written with the
 * kernel's signature is called with the kernel's arguments.  Both sides
 * speak the kernel's words: the primary here is a bare mm driven with
 * mmu_notifier_range_init() and friends.  (The interval notifier's side
 * runs under torture in linux_dmirror.c.)
 */
#include <check.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <umn/linux/mmu_notifier.h>
#include <umn/soft.h>

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))
#define PAGE_SIZE UMN_PAGE_SIZE

/* A driver's object, as a kernel driver embeds its notifier. */
struct kdev {
	struct mmu_notifier mn;
	int starts, ends, tlbs, releases, young, ptes, frees;
	unsigned long start, end, pte;
	enum mmu_notifier_event event;
	bool blockable;
	struct mm_struct *mm;
	bool refuse; /* refuse non-blockable starts */
	bool misuse; /* unregister from inside start */
};

static struct kdev *to_kdev(struct mmu_notifier *mn)
{
	return container_of(mn, struct kdev, mn);
}

static void kdev_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	to_kdev(mn)->releases++;
	to_kdev(mn)->mm = mm;
}

static int kdev_start(struct mmu_notifier *mn,
		      const struct mmu_notifier_range *range)
{
	struct kdev *k = to_kdev(mn);

	if (k->misuse)
		mmu_notifier_unregister(mn, range->mm);
	if (k->refuse && !mmu_notifier_range_blockable(range))
		return -EAGAIN;
	k->starts++;
	k->start = range->start;
	k->end = range->end;
	k->event = range->event;
	k->blockable = mmu_notifier_range_blockable(range);
	k->mm = range->mm;
	return 0;
}

static void kdev_end(struct mmu_notifier *mn,
		     const struct mmu_notifier_range *range)
{
	(void)range;
	to_kdev(mn)->ends++;
}

static void kdev_tlbs(struct mmu_notifier *mn, struct mm_struct *mm,
		      unsigned long start, unsigned long end)
{
	(void)mm, (void)start, (void)end;
	to_kdev(mn)->tlbs++;
}

static int kdev_young(struct mmu_notifier *mn, struct mm_struct *mm,
		      unsigned long start, unsigned long end)
{
	(void)mm;
	to_kdev(mn)->young++;
	return end - start == PAGE_SIZE;
}

static void kdev_change_pte(struct mmu_notifier *mn, struct mm_struct *mm,
			    unsigned long address, pte_t pte)
{
	(void)mm, (void)address;
	to_kdev(mn)->ptes++;
	to_kdev(mn)->pte = pte;
}

static void kdev_free(struct mmu_notifier *mn)
{
	__atomic_fetch_add(&to_kdev(mn)->frees, 1, __ATOMIC_RELEASE);
}

static const struct mmu_notifier_ops kdev_ops = {
	.release = kdev_release,
	.invalidate_range_start = kdev_start,
	.invalidate_range_end = kdev_end,
	.arch_invalidate_secondary_tlbs = kdev_tlbs,
	.clear_flush_young = kdev_young,
	.clear_young = kdev_young,
	.test_young = kdev_young,
	.change_pte = kdev_change_pte,
	.free_notifier = kdev_free,
};

/* A notifier that may refuse has no end (Linux's rule, umn's check). */
static const struct mmu_notifier_ops kdev_refusing_ops = {
	.name = "refusing",
	.flags = UMN_NOTIFIER_START_MAY_FAIL,
	.invalidate_range_start = kdev_start,
};

static struct mm_struct *new_mm(void)
{
	struct mm_struct *mm;

	ck_assert_int_eq(umn_mm_create(NULL, NULL, &mm), 0);
	return mm;
}

START_TEST(classic_calls)
{
	struct mm_struct *mm = new_mm();
	struct mmu_notifier_range range;
	struct kdev k = { .mn.ops = &kdev_ops };
	int dummy;

	ck_assert_int_eq(mmu_notifier_register(&k.mn, mm), 0);
	ck_assert_ptr_eq(k.mn.mm, mm);
	ck_assert(mm_has_notifiers(mm));
	ck_assert_int_eq(__mmu_notifier_register(&k.mn, mm), -EBUSY);

	mmu_notifier_range_init_owner(&range, MMU_NOTIFY_MIGRATE, 0, mm,
				      PAGE_SIZE, 3 * PAGE_SIZE, &dummy);
	ck_assert_ptr_eq(range.owner, &dummy);
	mmu_notifier_invalidate_range_start(&range);
	ck_assert_int_eq(k.starts, 1);
	ck_assert(k.blockable); /* as Linux: start makes it blockable */
	ck_assert_int_eq(k.event, MMU_NOTIFY_MIGRATE);
	ck_assert_uint_eq(k.start, PAGE_SIZE);
	ck_assert_uint_eq(k.end, 3 * PAGE_SIZE);
	ck_assert_ptr_eq(k.mm, mm);
	mmu_notifier_change_pte(mm, PAGE_SIZE, 0x1234);
	mmu_notifier_arch_invalidate_secondary_tlbs(mm, PAGE_SIZE,
						    3 * PAGE_SIZE);
	ck_assert_int_eq(k.ptes, 1);
	ck_assert_uint_eq(k.pte, 0x1234);
	ck_assert_int_eq(k.tlbs, 1);
	mmu_notifier_invalidate_range_end(&range); /* also flushes TLBs */
	ck_assert_int_eq(k.ends, 1);
	ck_assert_int_eq(k.tlbs, 2);

	mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, mm, 0, PAGE_SIZE);
	ck_assert_int_eq(mmu_notifier_invalidate_range_start_nonblock(&range),
			 0);
	ck_assert(!k.blockable);
	mmu_notifier_invalidate_range(mm, 0, PAGE_SIZE);
	mmu_notifier_invalidate_range_only_end(&range);
	ck_assert_int_eq(k.ends, 2);
	ck_assert_int_eq(k.tlbs, 3); /* only_end: no second flush */

	ck_assert_int_eq(mmu_notifier_clear_flush_young(mm, 0, PAGE_SIZE), 1);
	ck_assert_int_eq(mmu_notifier_clear_young(mm, 0, 2 * PAGE_SIZE), 0);
	/* One address, as Linux; the notifier gets its page. */
	ck_assert_int_eq(mmu_notifier_test_young(mm, PAGE_SIZE + 5), 1);
	ck_assert_int_eq(k.young, 3);

	mmu_notifier_unregister(&k.mn, mm);
	ck_assert_int_eq(k.releases, 1);
	ck_assert_int_eq(umn_mm_release(mm), 0);
	umn_mm_put(mm);
}
END_TEST

START_TEST(nonblock_refused)
{
	struct mm_struct *mm = new_mm();
	struct mmu_notifier_range range;
	struct kdev k = { .mn.ops = &kdev_refusing_ops, .refuse = true };

	ck_assert_int_eq(mmu_notifier_register(&k.mn, mm), 0);
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, 0, PAGE_SIZE);
	ck_assert_int_eq(mmu_notifier_invalidate_range_start_nonblock(&range),
			 -EAGAIN);
	ck_assert_int_eq(k.starts, 0);
	mmu_notifier_invalidate_range_start(&range); /* blockable: accepted */
	ck_assert_int_eq(k.starts, 1);
	mmu_notifier_invalidate_range_end(&range);
	mmu_notifier_unregister(&k.mn, mm);
	umn_mm_put(mm);
}
END_TEST

START_TEST(release_then_unregister)
{
	struct mm_struct *mm = new_mm();
	struct kdev k = { .mn.ops = &kdev_ops };

	ck_assert_int_eq(mmu_notifier_register(&k.mn, mm), 0);
	mmu_notifier_release(mm);
	ck_assert_int_eq(k.releases, 1);
	ck_assert_ptr_eq(k.mm, mm);
	mmu_notifier_unregister(&k.mn, mm); /* no second ->release */
	ck_assert_int_eq(k.releases, 1);
	umn_mm_put(mm);
}
END_TEST

/* mmu_notifier_put(): ->free_notifier runs, once, by the time
 * mmu_notifier_synchronize() returns. */
START_TEST(put_frees)
{
	struct mm_struct *mm = new_mm();
	struct kdev *k = calloc(1, sizeof(*k));

	k->mn.ops = &kdev_ops;
	ck_assert_int_eq(mmu_notifier_register(&k->mn, mm), 0);
	mmu_notifier_put(&k->mn);
	mmu_notifier_synchronize();
	ck_assert_int_eq(__atomic_load_n(&k->frees, __ATOMIC_ACQUIRE), 1);
	ck_assert_int_eq(k->releases, 0); /* put does not release */
	free(k);
	umn_mm_put(mm);
}
END_TEST

/* A soft MMU's mm is a struct mm_struct as it is. */
START_TEST(soft_mm)
{
	struct umn_soft_frames *frames;
	struct umn_soft_mm *sm;
	struct kdev k = { .mn.ops = &kdev_ops };
	struct mm_struct *mm;
	unsigned long addr;

	ck_assert_int_eq(umn_soft_frames_create(NULL, &frames), 0);
	ck_assert_int_eq(umn_soft_mm_create(frames, &sm), 0);
	mm = umn_soft_mm_umn(sm);
	ck_assert_int_eq(mmu_notifier_register(&k.mn, mm), 0);
	ck_assert_int_eq(umn_soft_mmap(sm, 0, 4 * PAGE_SIZE,
				       UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE,
				       0, &addr),
			 0);
	ck_assert_int_eq(umn_soft_fault(sm, addr, true), 0);
	ck_assert_int_eq(umn_soft_munmap(sm, addr, 4 * PAGE_SIZE), 0);
	ck_assert_int_eq(k.event, MMU_NOTIFY_UNMAP);
	ck_assert_uint_eq(k.start, addr);
	ck_assert_uint_eq(k.end, addr + 4 * PAGE_SIZE);
	ck_assert_int_eq(k.starts, k.ends);
	umn_soft_mm_destroy(sm); /* exit_mmap: ->release */
	ck_assert_int_eq(k.releases, 1);
	mmu_notifier_unregister(&k.mn, mm);
	ck_assert_int_eq(umn_soft_frames_destroy(frames), 0);
}
END_TEST

/* Where Linux would deadlock, the void call aborts. */
START_TEST(unregister_in_callback_aborts)
{
	struct mm_struct *mm = new_mm();
	struct mmu_notifier_range range;
	struct kdev k = { .mn.ops = &kdev_ops, .misuse = true };

	ck_assert_int_eq(mmu_notifier_register(&k.mn, mm), 0);
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, 0, PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
}
END_TEST

START_TEST(unregister_wrong_mm_aborts)
{
	struct mm_struct *mm = new_mm(), *other = new_mm();
	struct kdev k = { .mn.ops = &kdev_ops };

	ck_assert_int_eq(mmu_notifier_register(&k.mn, mm), 0);
	mmu_notifier_unregister(&k.mn, other);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("linux");
	TCase *tc = tcase_create("linux");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, classic_calls);
	tcase_add_test(tc, nonblock_refused);
	tcase_add_test(tc, release_then_unregister);
	tcase_add_test(tc, put_frees);
	tcase_add_test(tc, soft_mm);
	tcase_add_test_raise_signal(tc, unregister_in_callback_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, unregister_wrong_mm_aborts, SIGABRT);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
