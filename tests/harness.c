// SPDX-License-Identifier: MIT
/*
 * tests/harness.c - the recording notifier and the toy primary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "harness.h"

void rec_init(struct recorder *rec)
{
	memset(rec, 0, sizeof(*rec));
	pthread_spin_init(&rec->lock, PTHREAD_PROCESS_PRIVATE);
}

void rec_add(struct recorder *rec, char kind, int who, unsigned long start,
	     unsigned long end, int event)
{
	pthread_spin_lock(&rec->lock);
	if (rec->n < REC_MAX)
		rec->ev[rec->n++] =
			(struct rec_event){ kind, who, start, end, event };
	pthread_spin_unlock(&rec->lock);
}

const char *rec_string(struct recorder *rec)
{
	static char buf[REC_MAX * 2 + 1];
	int i;

	pthread_spin_lock(&rec->lock);
	for (i = 0; i < rec->n; i++) {
		buf[2 * i] = rec->ev[i].kind;
		buf[2 * i + 1] = (char)('0' + rec->ev[i].who);
	}
	buf[2 * i] = 0;
	pthread_spin_unlock(&rec->lock);
	return buf;
}

int rec_count(struct recorder *rec, char kind, int who)
{
	int i, count = 0;

	pthread_spin_lock(&rec->lock);
	for (i = 0; i < rec->n; i++)
		count += rec->ev[i].kind == kind && rec->ev[i].who == who;
	pthread_spin_unlock(&rec->lock);
	return count;
}

void rec_register(struct rec_notifier *r, int id,
		  const struct umn_notifier_ops *ops, struct recorder *rec,
		  struct umn_mm *mm)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->rec = rec;
	ck_assert_int_eq(umn_notifier_register(&r->n, ops, mm), 0);
	ck_assert(umn__chain_is_valid(mm));
}

static struct rec_notifier *rn(struct umn_notifier *n)
{
	return container_of(n, struct rec_notifier, n);
}

static void rec_release(struct umn_notifier *n, struct umn_mm *mm)
{
	(void)mm;
	rec_add(rn(n)->rec, 'R', rn(n)->id, 0, 0, 0);
}

static int rec_start(struct umn_notifier *n, const struct umn_range *r)
{
	rec_add(rn(n)->rec, 'S', rn(n)->id, r->start, r->end, r->event);
	return rn(n)->start_ret;
}

static void rec_end(struct umn_notifier *n, const struct umn_range *r)
{
	rec_add(rn(n)->rec, 'E', rn(n)->id, r->start, r->end, r->event);
}

static void rec_inv(struct umn_notifier *n, struct umn_mm *mm,
		    unsigned long start, unsigned long end)
{
	(void)mm;
	rec_add(rn(n)->rec, 'I', rn(n)->id, start, end, 0);
}

static int rec_young(struct umn_notifier *n, struct umn_mm *mm,
		     unsigned long start, unsigned long end)
{
	(void)mm;
	rec_add(rn(n)->rec, 'Y', rn(n)->id, start, end, 0);
	return rn(n)->young;
}

static void rec_change_pte(struct umn_notifier *n, struct umn_mm *mm,
			   unsigned long address, unsigned long pte)
{
	(void)mm;
	rec_add(rn(n)->rec, 'P', rn(n)->id, address, pte, 0);
}

static void rec_free(struct umn_notifier *n)
{
	__atomic_store_n(&rn(n)->freed, 1, __ATOMIC_RELEASE);
}

const struct umn_notifier_ops rec_ops = {
	.name = "rec",
	.release = rec_release,
	.invalidate_range_start = rec_start,
	.invalidate_range_end = rec_end,
	.invalidate_range = rec_inv,
	.clear_flush_young = rec_young,
	.clear_young = rec_young,
	.test_young = rec_young,
	.change_pte = rec_change_pte,
	.free_notifier = rec_free,
};

const struct umn_notifier_ops rec_may_fail_ops = {
	.name = "rec-may-fail",
	.flags = UMN_NOTIFIER_START_MAY_FAIL,
	.release = rec_release,
	.invalidate_range_start = rec_start,
	.invalidate_range = rec_inv,
	.free_notifier = rec_free,
};

static void toy_lock_all(struct umn_mm *mm, void *priv)
{
	struct toy *toy = priv;

	(void)mm;
	pthread_rwlock_wrlock(&toy->mmap_lock);
	toy->lock_all_calls++;
}

static void toy_unlock_all(struct umn_mm *mm, void *priv)
{
	struct toy *toy = priv;

	(void)mm;
	pthread_rwlock_unlock(&toy->mmap_lock);
}

static const struct umn_mm_ops toy_mm_ops = {
	.lock_all = toy_lock_all,
	.unlock_all = toy_unlock_all,
};

void toy_init(struct toy *toy, unsigned long npages, bool fast_path)
{
	memset(toy, 0, sizeof(*toy));
	pthread_rwlock_init(&toy->mmap_lock, NULL);
	pthread_mutex_init(&toy->ptl, NULL);
	toy->npages = npages;
	toy->pte = calloc(npages, sizeof(*toy->pte));
	ck_assert_ptr_nonnull(toy->pte);
	toy->next_frame = 1;
	ck_assert_int_eq(
		umn_mm_create(fast_path ? &toy_mm_ops : NULL, toy, &toy->mm),
		0);
}

void toy_destroy(struct toy *toy)
{
	ck_assert_int_eq(umn_mm_release(toy->mm), 0);
	umn_mm_put(toy->mm);
	free(toy->pte);
	pthread_mutex_destroy(&toy->ptl);
	pthread_rwlock_destroy(&toy->mmap_lock);
}

int toy_remap(struct toy *toy, unsigned long first, unsigned long count,
	      unsigned int flags)
{
	struct umn_range range;
	unsigned long i;
	int ret;

	pthread_rwlock_rdlock(&toy->mmap_lock);
	umn_range_init(&range, toy->mm, PG(first), PG(first + count),
		       UMN_EVENT_CLEAR, flags, NULL);
	ret = umn_invalidate_range_start(&range);
	if (ret)
		goto out;
	pthread_mutex_lock(&toy->ptl);
	for (i = first; i < first + count; i++)
		__atomic_store_n(&toy->pte[i], toy->next_frame++,
				 __ATOMIC_RELEASE);
	umn_invalidate_range(toy->mm, range.start, range.end);
	pthread_mutex_unlock(&toy->ptl);
	umn_invalidate_range_only_end(&range);
out:
	pthread_rwlock_unlock(&toy->mmap_lock);
	return ret;
}

unsigned long toy_lookup(struct toy *toy, unsigned long page)
{
	return __atomic_load_n(&toy->pte[page], __ATOMIC_ACQUIRE);
}

void toy_open_bracket(struct toy *toy, struct umn_range *range,
		      unsigned long first, unsigned long count,
		      enum umn_event event)
{
	umn_range_init(range, toy->mm, PG(first), PG(first + count), event,
		       UMN_RANGE_BLOCKABLE, NULL);
	ck_assert_int_eq(umn_invalidate_range_start(range), 0);
}
