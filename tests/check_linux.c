// SPDX-License-Identifier: MIT
/*
 * tests/check_linux.c - <umn/linux/mmu_notifier.h> and <umn/linux/hmm.h>,
 * Linux 6.x's spelling: each kernel call reaches the umn call it stands
 * for, and each callback written with the kernel's signature is called
 * with the kernel's arguments.  Both sides speak the kernel's words: the
 * primary here is a bare mm driven with mmu_notifier_range_init() and
 * friends, or a soft MMU.  (The interval notifier's side runs under
 * torture in linux_dmirror.c; 4.13's spelling is check_linux413.c.)
 */
#include <check.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <umn/linux/hmm.h>
#include <umn/soft.h>

#include "check_run.h"

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

/* The kernel's test_young: one address; young if it is page-aligned. */
static int kdev_test_young(struct mmu_notifier *mn, struct mm_struct *mm,
			   unsigned long address)
{
	(void)mm;
	to_kdev(mn)->young++;
	to_kdev(mn)->start = address;
	return address % PAGE_SIZE == 0;
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
	.test_young = kdev_test_young,
	.change_pte = kdev_change_pte,
	.free_notifier = kdev_free,
};

/* A kernel ops table that may refuse: no end, and no umn flag. */
static const struct mmu_notifier_ops kdev_refusing_ops = {
	.invalidate_range_start = kdev_start,
};

/* One that refuses although it has an end (Linux warns). */
static const struct mmu_notifier_ops kdev_refusing_end_ops = {
	.invalidate_range_start = kdev_start,
	.invalidate_range_end = kdev_end,
};

/* A struct mm_struct over a bare umn mm (no primary that can fault). */
static struct mm_struct *new_mm(void)
{
	struct mm_struct *mm;
	struct umn_mm *umn;

	ck_assert_int_eq(umn_mm_create(NULL, NULL, &umn), 0);
	ck_assert_int_eq(umn_linux_mm_create(umn, NULL, &mm), 0);
	umn_mm_put(umn); /* mm holds its own reference */
	ck_assert_ptr_eq(mm->soft, NULL);
	ck_assert_int_eq(mm->mm_users, 1);
	ck_assert_int_eq(mm->mm_count, 1);
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
	/* One address, as Linux: the notifier gets its page's address. */
	ck_assert_int_eq(mmu_notifier_test_young(mm, PAGE_SIZE + 5), 1);
	ck_assert_uint_eq(k.start, PAGE_SIZE);
	ck_assert_int_eq(k.young, 3);

	mmu_notifier_unregister(&k.mn, mm);
	ck_assert_int_eq(k.releases, 1);
	mmu_notifier_release(mm);
	mmput(mm);
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
	mmput(mm);
}
END_TEST

/* A table with an end that refuses anyway: reported and ignored, so that
 * the start stays paired with its end. */
START_TEST(nonblock_refused_with_end)
{
	struct mm_struct *mm = new_mm();
	struct mmu_notifier_range range;
	struct kdev k = { .mn.ops = &kdev_refusing_end_ops, .refuse = true };

	ck_assert_int_eq(mmu_notifier_register(&k.mn, mm), 0);
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, 0, PAGE_SIZE);
	ck_assert_int_eq(mmu_notifier_invalidate_range_start_nonblock(&range),
			 0);
	mmu_notifier_invalidate_range_end(&range);
	ck_assert_int_eq(k.ends, 1);
	mmu_notifier_unregister(&k.mn, mm);
	mmput(mm);
}
END_TEST

/* The kernel initialises every field it uses: so does this header. */
START_TEST(no_zeroing_needed)
{
	struct mm_struct *mm = new_mm();
	struct mmu_notifier_range range;
	struct kdev k;

	memset(&k, 0xa5, sizeof(k));
	k.starts = k.ends = k.releases = 0;
	k.refuse = k.misuse = false;
	k.mn.ops = &kdev_ops;
	ck_assert_int_eq(mmu_notifier_register(&k.mn, mm), 0);
	ck_assert_ptr_eq(k.mn.mm, mm);
	ck_assert_int_eq(mm->mm_count, 2); /* register grabs the mm */
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, 0, PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	mmu_notifier_invalidate_range_end(&range);
	ck_assert_int_eq(k.starts, 1);
	ck_assert_int_eq(k.ends, 1);
	mmu_notifier_unregister(&k.mn, mm);
	ck_assert_int_eq(mm->mm_count, 1);
	mmput(mm);
}
END_TEST

/* mmu_notifier_get(): one notifier per (ops, mm), counted; the last put
 * frees it through ->free_notifier. */
static int allocs;

static struct mmu_notifier *kdev_alloc(struct mm_struct *mm)
{
	struct kdev *k = calloc(1, sizeof(*k));

	(void)mm;
	if (!k)
		return (struct mmu_notifier *)(long)-ENOMEM;
	allocs++;
	return &k->mn;
}

static void kdev_free_it(struct mmu_notifier *mn)
{
	__atomic_fetch_sub(&allocs, 1, __ATOMIC_RELEASE);
	free(to_kdev(mn));
}

static const struct mmu_notifier_ops kdev_get_ops = {
	.invalidate_range_start = kdev_start,
	.invalidate_range_end = kdev_end,
	.alloc_notifier = kdev_alloc,
	.free_notifier = kdev_free_it,
};

START_TEST(get_put)
{
	struct mm_struct *mm = new_mm();
	struct mmu_notifier *a, *b;

	umn_linux_use_mm(mm);
	a = mmu_notifier_get(&kdev_get_ops, current->mm);
	b = mmu_notifier_get_locked(&kdev_get_ops, mm);
	ck_assert_ptr_eq(a, b);
	ck_assert_int_eq(allocs, 1);
	ck_assert_uint_eq(a->users, 2);
	ck_assert_ptr_eq(a->ops, &kdev_get_ops);
	ck_assert_ptr_eq(a->mm, mm);
	mmu_notifier_put(b);
	mmu_notifier_synchronize();
	ck_assert_int_eq(__atomic_load_n(&allocs, __ATOMIC_ACQUIRE), 1);
	mmu_notifier_put(a);
	mmu_notifier_synchronize();
	ck_assert_int_eq(__atomic_load_n(&allocs, __ATOMIC_ACQUIRE), 0);
	ck_assert_int_eq(__atomic_load_n(&mm->mm_count, __ATOMIC_ACQUIRE), 1);
	/* A new get after the last put allocates again. */
	a = mmu_notifier_get(&kdev_get_ops, mm);
	ck_assert_int_eq(allocs, 1);
	mmu_notifier_put(a);
	mmu_notifier_synchronize();
	umn_linux_use_mm(NULL);
	mmput(mm);
}
END_TEST

/* mm_users and mm_count, as Linux: the last mmput() drops the users'
 * mm_count; mmget_not_zero() fails once users are gone. */
START_TEST(mm_counts)
{
	struct mm_struct *mm = new_mm();

	mmgrab(mm);
	ck_assert(mmget_not_zero(mm));
	ck_assert_int_eq(mm->mm_users, 2);
	mmput(mm);
	mmput(mm);
	ck_assert_int_eq(mm->mm_users, 0);
	ck_assert_int_eq(mm->mm_count, 1);
	ck_assert(!mmget_not_zero(mm));
	mmap_write_lock(mm);
	mmap_write_unlock(mm);
	mmdrop(mm);
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
	mmput(mm);
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
	mmput(mm);
}
END_TEST

/* A soft MMU's mm, in a struct mm_struct. */
START_TEST(soft_mm)
{
	struct umn_soft_frames *frames;
	struct umn_soft_mm *sm;
	struct kdev k = { .mn.ops = &kdev_ops };
	struct mm_struct *mm;
	unsigned long addr;

	ck_assert_int_eq(umn_soft_frames_create(NULL, &frames), 0);
	ck_assert_int_eq(umn_soft_mm_create(frames, &sm), 0);
	ck_assert_int_eq(umn_linux_mm_create(umn_soft_mm_umn(sm), sm, &mm), 0);
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
	ck_assert_ptr_eq(k.mm, mm);
	mmu_notifier_unregister(&k.mn, mm);
	mmput(mm);
	ck_assert_int_eq(umn_soft_frames_destroy(frames), 0);
}
END_TEST

/* Interval notifiers and hmm_range_fault() over a soft MMU. */
struct kint {
	struct mmu_interval_notifier mni;
	int invalidates;
	struct mm_struct *mm;
};

static bool kint_invalidate(struct mmu_interval_notifier *mni,
			    const struct mmu_notifier_range *range,
			    unsigned long cur_seq)
{
	struct kint *ki = container_of(mni, struct kint, mni);

	ki->invalidates++;
	ki->mm = range->mm;
	mmu_interval_set_seq(mni, cur_seq);
	return true;
}

static const struct mmu_interval_notifier_ops kint_ops = {
	.invalidate = kint_invalidate,
};

START_TEST(interval_and_hmm)
{
	const int rw = UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE;
	struct umn_soft_frames *frames;
	struct umn_soft_translation t;
	unsigned long addr, pfns[2];
	struct umn_soft_mm *sm;
	struct mm_struct *mm;
	struct hmm_range range = { .hmm_pfns = pfns };
	struct kint ki;

	ck_assert_int_eq(umn_soft_frames_create(NULL, &frames), 0);
	ck_assert_int_eq(umn_soft_mm_create(frames, &sm), 0);
	ck_assert_int_eq(umn_linux_mm_create(umn_soft_mm_umn(sm), sm, &mm), 0);
	ck_assert_int_eq(umn_soft_mmap(sm, 0, 4 * PAGE_SIZE, rw, 0, &addr), 0);

	memset(&ki, 0xa5, sizeof(ki)); /* on the stack, not zeroed */
	ki.invalidates = 0;
	ck_assert_int_eq(mmu_interval_notifier_insert(&ki.mni, mm,
						      addr + PAGE_SIZE,
						      2 * PAGE_SIZE, &kint_ops),
			 0);
	ck_assert_uint_eq(ki.mni.interval_tree.start, addr + PAGE_SIZE);
	ck_assert_uint_eq(ki.mni.interval_tree.last, addr + 3 * PAGE_SIZE - 1);
	ck_assert_ptr_eq(ki.mni.mm, mm);
	ck_assert_int_eq(mm->mm_count, 2); /* insert grabs the mm */

	/* Not faulting: nothing is there yet. */
	range.notifier = &ki.mni;
	range.start = addr + PAGE_SIZE;
	range.end = addr + 3 * PAGE_SIZE;
	range.notifier_seq = mmu_interval_read_begin(&ki.mni);
	ck_assert_int_eq(hmm_range_fault(&range), 0);
	ck_assert_uint_eq(pfns[0], 0);
	ck_assert_uint_eq(pfns[1], 0);

	/* Faulting for writing: the CPU's frames, writable, 4 KiB. */
	range.default_flags = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
	range.notifier_seq = mmu_interval_read_begin(&ki.mni);
	ck_assert_int_eq(hmm_range_fault(&range), 0);
	ck_assert(!mmu_interval_read_retry(&ki.mni, range.notifier_seq));
	ck_assert_int_eq(
		umn_soft_lookup(sm, addr + 2 * PAGE_SIZE, true, NULL, NULL, &t),
		0);
	ck_assert(pfns[1] & HMM_PFN_VALID);
	ck_assert(pfns[1] & HMM_PFN_WRITE);
	ck_assert_uint_eq(hmm_pfn_to_map_order(pfns[1]), 0);
	ck_assert_uint_eq(umn_linux_pfn_frame(pfns[1]), t.frame);
	ck_assert_uint_eq(umn_linux_pfn_subpage(pfns[1]), t.subpage);

	/* An invalidation reaches the driver with the kernel's mm, and the
	 * sequence read before it must retry. */
	ck_assert_int_eq(umn_soft_munmap(sm, addr, 4 * PAGE_SIZE), 0);
	ck_assert_int_eq(ki.invalidates, 1);
	ck_assert_ptr_eq(ki.mm, mm);
	ck_assert(mmu_interval_read_retry(&ki.mni, range.notifier_seq));

	/* Unmapped now: a fault fails as Linux's (-EFAULT). */
	range.notifier_seq = mmu_interval_read_begin(&ki.mni);
	ck_assert_int_eq(hmm_range_fault(&range), -EFAULT);

	mmu_interval_notifier_remove(&ki.mni);
	ck_assert_int_eq(mm->mm_count, 1);
	umn_soft_mm_destroy(sm);
	mmput(mm);
	ck_assert_int_eq(umn_soft_frames_destroy(frames), 0);
}
END_TEST

/* A primary that cannot be walked: refused, nothing written. */
START_TEST(hmm_refused_without_soft_mmu)
{
	struct mm_struct *mm = new_mm();
	unsigned long pfns[1] = { 42 };
	struct hmm_range range = { .hmm_pfns = pfns,
				   .start = PAGE_SIZE,
				   .end = 2 * PAGE_SIZE,
				   .default_flags = HMM_PFN_REQ_FAULT };
	struct kint ki = { .invalidates = 0 };

	ck_assert_int_eq(mmu_interval_notifier_insert(&ki.mni, mm, PAGE_SIZE,
						      PAGE_SIZE, &kint_ops),
			 0);
	range.notifier = &ki.mni;
	range.notifier_seq = mmu_interval_read_begin(&ki.mni);
	ck_assert_int_eq(hmm_range_fault(&range), -EOPNOTSUPP);
	ck_assert_uint_eq(pfns[0], 42);
	mmu_interval_notifier_remove(&ki.mni);
	mmput(mm);
}
END_TEST

/* The errors of docs/errors.md's section for the kernel's spelling. */
static struct mmu_notifier *kdev_alloc_fails(struct mm_struct *mm)
{
	(void)mm;
	return (struct mmu_notifier *)(long)-ENOMEM;
}

static const struct mmu_notifier_ops kdev_alloc_fails_ops = {
	.alloc_notifier = kdev_alloc_fails,
	.free_notifier = kdev_free_it,
};

START_TEST(errors)
{
	const int rw = UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE;
	struct umn_soft_frames *frames;
	struct umn_soft_mm *sm;
	struct mm_struct *mm, *none = NULL;
	struct kdev k = { .mn.ops = NULL };
	struct kint ki = { .invalidates = 0 };
	unsigned long addr, pfns[1];
	struct hmm_range range = { .hmm_pfns = pfns };

	ck_assert_int_eq(umn_linux_mm_create(NULL, NULL, &none), -EINVAL);
	ck_assert_ptr_eq(none, NULL);
	ck_assert_int_eq(umn_soft_frames_create(NULL, &frames), 0);
	ck_assert_int_eq(umn_soft_mm_create(frames, &sm), 0);
	ck_assert_int_eq(umn_linux_mm_create(umn_soft_mm_umn(sm), sm, &mm), 0);
	ck_assert_int_eq(mmu_notifier_register(&k.mn, mm), -EINVAL);
	ck_assert_int_eq((long)mmu_notifier_get(&kdev_alloc_fails_ops, mm),
			 -ENOMEM);
	ck_assert_int_eq(
		mmu_interval_notifier_insert(&ki.mni, mm, 0, PAGE_SIZE, NULL),
		-EINVAL);

	ck_assert_int_eq(
		umn_soft_mmap(sm, 0, PAGE_SIZE, UMN_SOFT_PROT_READ, 0, &addr),
		0);
	ck_assert_int_eq(mmu_interval_notifier_insert(&ki.mni, mm, addr,
						      PAGE_SIZE, &kint_ops),
			 0);
	range.notifier = &ki.mni;
	range.start = range.end = addr;
	ck_assert_int_eq(hmm_range_fault(&range), -EINVAL);
	range.end = addr + PAGE_SIZE;
	range.default_flags = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
	range.notifier_seq = mmu_interval_read_begin(&ki.mni);
	ck_assert_int_eq(hmm_range_fault(&range), -EPERM); /* read-only */
	ck_assert_int_eq(umn_soft_mprotect(sm, addr, PAGE_SIZE, rw), 0);
	range.notifier_seq = mmu_interval_read_begin(&ki.mni);
	ck_assert_int_eq(hmm_range_fault(&range), 0);
	mmu_interval_notifier_remove(&ki.mni);
	umn_soft_mm_destroy(sm);
	mmput(mm);
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
	TCase *tc;
	Suite *s = one_case_suite("linux", 0, NULL, NULL, &tc);

	tcase_add_test(tc, classic_calls);
	tcase_add_test(tc, nonblock_refused);
	tcase_add_test(tc, nonblock_refused_with_end);
	tcase_add_test(tc, no_zeroing_needed);
	tcase_add_test(tc, get_put);
	tcase_add_test(tc, mm_counts);
	tcase_add_test(tc, release_then_unregister);
	tcase_add_test(tc, put_frees);
	tcase_add_test(tc, soft_mm);
	tcase_add_test(tc, interval_and_hmm);
	tcase_add_test(tc, hmm_refused_without_soft_mmu);
	tcase_add_test(tc, errors);
	tcase_add_test_raise_signal(tc, unregister_in_callback_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, unregister_wrong_mm_aborts, SIGABRT);
	return run_suite(s);
}
