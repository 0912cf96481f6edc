// SPDX-License-Identifier: MIT
/*
 * core/notifier.c - the chain of classic notifiers and its dispatch.
 *
 * The chain is an RCU list.  Every change of it bumps mm->gen, the chain
 * generation; a notifier records the generation it joined at and the one
 * it left at.  A bracket reads mm->gen once, in start, and calls exactly
 * the notifiers that were on the chain at that generation, in start and
 * again in end.  So start and end always reach the same set:
 *
 *	registrar			primary thread
 *					start: gen = 7, calls A.start
 *	register(B): B joins at 8
 *					end: gen 7: calls A.end, not B.end
 *	synchronize_rcu() returns only
 *	after that end: B's secondary
 *	cannot see the page table as it
 *	was before this change.
 *
 *	unregister(A): ->release(A) while
 *	A still hears every bracket (as in
 *	Linux); then A leaves at 9
 *					start: gen = 9: A is not called
 *	synchronize_rcu(): every bracket
 *	that saw A (gen < 9) has ended;
 *	unlink A; synchronize_rcu(): no
 *	reader is on A; unregister returns
 *
 * A primary's thread holds the RCU read lock from start to end (core/rcu.h),
 * so a grace period is exactly "every bracket in flight has ended".  No
 * allocation anywhere: register and unregister cannot fail for memory.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>

#include "debug.h"
#include "internal.h"
#include "rcu.h"

/* Was @n on the chain at generation @gen? */
static bool visible(const struct umn_notifier *n, unsigned long gen)
{
	return umn__load(&n->_gen_added) <= gen &&
	       gen < umn__load(&n->_gen_removed);
}

/* Pairs with the release stores in link() and chain_unlink(). */
#define chain_first(mm) __atomic_load_n(&(mm)->chain, __ATOMIC_ACQUIRE)
#define chain_next(n)	__atomic_load_n(&(n)->_next, __ATOMIC_ACQUIRE)

/* Walk the notifiers of @mm that were on the chain at @gen; under RCU. */
#define umn__chain_for_each(n, mm, gen)                 \
	for (n = chain_first(mm); n; n = chain_next(n)) \
		if (!visible(n, gen)) {                 \
		} else

/* Bump the generation; readers that see the new one see what came before. */
static unsigned long next_gen(struct umn_mm *mm)
{
	return mm->gen + 1;
}

static void publish_gen(struct umn_mm *mm, unsigned long gen)
{
	__atomic_store_n(&mm->gen, gen, __ATOMIC_RELEASE);
}

static unsigned long read_gen(struct umn_mm *mm)
{
	/* Pairs with publish_gen(). */
	return __atomic_load_n(&mm->gen, __ATOMIC_ACQUIRE);
}

static unsigned int get_state(const struct umn_notifier *n)
{
	return __atomic_load_n(&n->_state, __ATOMIC_RELAXED);
}

/* Under mm->lock (read without it only by umn_mm_release's walk), but
 * for UNUSED, set when nothing can reach @n any more. */
static void set_state(struct umn_notifier *n, unsigned int state)
{
	if (state != UMN__NOTIFIER_UNUSED)
		umn__mm_assert_held(n->mm);
	__atomic_store_n(&n->_state, state, __ATOMIC_RELAXED);
}

/* Under mm->lock. */
static void chain_unlink(struct umn_mm *mm, struct umn_notifier *n)
{
	struct umn_notifier **pp = &mm->chain;

	umn__mm_assert_held(mm);
	while (*pp != n)
		pp = &(*pp)->_next;
	__atomic_store_n(pp, n->_next, __ATOMIC_RELEASE);
}

/*
 * Under mm->lock: no bracket that begins from now on calls @n.  A notifier
 * is hidden once: brackets rely on its _gen_removed never changing.
 */
static void hide(struct umn_mm *mm, struct umn_notifier *n)
{
	unsigned long gen;

	umn__mm_assert_held(mm);
	if (n->_gen_removed != ULONG_MAX)
		return;
	gen = next_gen(mm);
	umn__store(&n->_gen_removed, gen);
	publish_gen(mm, gen);
}

/*
 * ->release, while @n still hears every bracket (as Linux does), so that
 * its secondary is never blind while it still holds translations.  Under
 * the read lock, so that a put from ->release cannot free n under a walk.
 */
static void call_release(struct umn_notifier *n, struct umn_mm *mm)
{
	const struct umn_mm *prev;

	if (!n->ops->release)
		return;
	prev = umn__callback_enter(mm);
	n->ops->release(n, mm);
	umn__callback_exit(prev);
}

static bool refuse_in_callback(const char *call)
{
	if (!umn__rcu_read_ongoing() && !umn__thread.callback_mm)
		return false;
	umn__report("%s() called from a notifier callback or between start "
		    "and end would wait for itself: refused (-EDEADLK)",
		    call);
	return true;
}

int umn_notifier_register(struct umn_notifier *n,
			  const struct umn_notifier_ops *ops, struct umn_mm *mm)
{
	unsigned long gen;
	int ret;

	if (!n || !ops || !mm || (ops->flags & ~UMN_NOTIFIER_START_MAY_FAIL))
		return -EINVAL;
	/* A refused start has no end; a notifier with an end could not
	 * tell whether the end it gets is paired. */
	if ((ops->flags & UMN_NOTIFIER_START_MAY_FAIL) &&
	    ops->invalidate_range_end)
		return -EINVAL;
	if (refuse_in_callback(__func__))
		return -EDEADLK;
	umn__might_sleep_here();
	if (get_state(n) != UMN__NOTIFIER_UNUSED)
		return -EBUSY;

	ret = umn__mm_lock_all_once(mm);
	if (ret)
		return ret;
	if (mm->ops && mm->ops->interval_added) /* it hears everything */
		mm->ops->interval_added(mm, mm->priv, 0, ~0UL);
	umn__mm_lock(mm);
	if (mm->releasing) {
		umn__mm_unlock(mm);
		return -ESRCH;
	}
	gen = next_gen(mm);
	n->ops = ops;
	n->mm = umn_mm_get(mm);
	set_state(n, UMN__NOTIFIER_LINKED);
	umn__store(&n->_gen_added, gen);
	umn__store(&n->_gen_removed, ULONG_MAX);
	n->_next = mm->chain;
	__atomic_store_n(&mm->chain, n, __ATOMIC_RELEASE);
	publish_gen(mm, gen);
	umn__mm_unlock(mm);

	/* Let every bracket that began without n end (see the top). */
	umn__synchronize_rcu();
	return 0;
}

static int unregister(struct umn_notifier *n, bool release, const char *call)
{
	struct umn_mm *mm;

	if (!n || !n->mm)
		return -EINVAL;
	if (refuse_in_callback(call))
		return -EDEADLK;
	umn__might_sleep_here();
	mm = n->mm;

	umn__mm_lock(mm);
	switch (get_state(n)) {
	case UMN__NOTIFIER_LINKED:
		set_state(n, UMN__NOTIFIER_UNREGISTERING);
		mm->unregistering++;
		umn__mm_unlock(mm);
		if (release) {
			umn__rcu_read_lock();
			call_release(n, mm);
			umn__rcu_read_unlock();
		}
		umn__mm_lock(mm);
		hide(mm, n);
		set_state(n, UMN__NOTIFIER_REMOVING);
		if (!--mm->unregistering)
			pthread_cond_broadcast(&mm->wq);
		umn__mm_unlock(mm);
		umn__synchronize_rcu(); /* brackets that saw n have ended */
		break;
	case UMN__NOTIFIER_RELEASING:
	case UMN__NOTIFIER_HIDDEN:
		/* umn_mm_release() calls (or called) its ->release. */
		while (!mm->released)
			umn__held_cond_wait(&mm->wq, &mm->lock, "mm->lock");
		set_state(n, UMN__NOTIFIER_REMOVING);
		umn__mm_unlock(mm);
		break;
	default:
		umn__mm_unlock(mm);
		return -EINVAL;
	}

	umn__mm_lock(mm);
	chain_unlink(mm, n);
	umn__mm_unlock(mm);
	umn__synchronize_rcu(); /* no reader is on n any more */

	set_state(n, UMN__NOTIFIER_UNUSED);
	n->mm = NULL;
	umn_mm_put(mm);
	return 0;
}

int umn_notifier_unregister(struct umn_notifier *n)
{
	return unregister(n, true, __func__);
}

int umn_notifier_unregister_no_release(struct umn_notifier *n)
{
	return unregister(n, false, __func__);
}

int umn_mm_release(struct umn_mm *mm)
{
	const struct umn_mm *prev;
	struct umn_notifier *n;

	if (!mm)
		return -EINVAL;
	if (refuse_in_callback(__func__))
		return -EDEADLK;
	umn__might_sleep_here();

	umn__mm_lock(mm);
	if (mm->releasing) {
		umn__mm_unlock(mm);
		return -EALREADY;
	}
	mm->releasing = true; /* no new notifier from now on */
	for (n = mm->chain; n; n = n->_next)
		if (get_state(n) == UMN__NOTIFIER_LINKED)
			set_state(n, UMN__NOTIFIER_RELEASING);
	umn__mm_unlock(mm);

	/* ->release while they still hear every bracket.  A put (from
	 * ->release or elsewhere) takes a notifier out of RELEASING. */
	umn__rcu_read_lock();
	prev = umn__callback_enter(mm);
	for (n = chain_first(mm); n; n = chain_next(n))
		if (get_state(n) == UMN__NOTIFIER_RELEASING && n->ops->release)
			n->ops->release(n, mm);
	umn__callback_exit(prev);
	umn__rcu_read_unlock();

	/* Then hide them all; their owners unlink them later. */
	umn__mm_lock(mm);
	for (n = mm->chain; n; n = n->_next) {
		if (get_state(n) == UMN__NOTIFIER_RELEASING)
			set_state(n, UMN__NOTIFIER_HIDDEN);
		hide(mm, n);
	}
	umn__mm_unlock(mm);
	umn__synchronize_rcu(); /* no bracket calls any of them any more */

	umn__mm_lock(mm);
	while (mm->unregistering) /* their ->release is still running */
		umn__held_cond_wait(&mm->wq, &mm->lock, "mm->lock");
	mm->released = true;
	pthread_cond_broadcast(&mm->wq);
	umn__mm_unlock(mm);
	return 0;
}

static struct umn_notifier *of_rcu_head(struct rcu_head *head)
{
	return (struct umn_notifier *)((char *)head -
				       offsetof(struct umn_notifier, _rcu));
}

_Static_assert(sizeof(((struct umn_notifier *)0)->_rcu) >=
		       sizeof(struct rcu_head),
	       "struct umn_notifier._rcu cannot hold a struct rcu_head");

/* Second grace period over: nobody can reach n. */
static void put_free(struct rcu_head *head)
{
	struct umn_notifier *n = of_rcu_head(head);
	struct umn_mm *mm;

	umn__tsan_acquire(n); /* pairs with the release before call_rcu */
	umn__tsan_acquire(&umn__rcu_token);
	mm = n->mm;
	set_state(n, UMN__NOTIFIER_UNUSED);
	n->mm = NULL;
	n->ops->free_notifier(n);
	umn_mm_put(mm);
	umn__tsan_release(&umn__rcu_token); /* for umn_rcu_barrier() */
}

/* First grace period over: no bracket calls n; take it off the list. */
static void put_unlink(struct rcu_head *head)
{
	struct umn_notifier *n = of_rcu_head(head);
	struct umn_mm *mm;

	umn__tsan_acquire(n);
	umn__tsan_acquire(&umn__rcu_token);
	mm = n->mm;
	umn__mm_lock(mm);
	chain_unlink(mm, n);
	umn__mm_unlock(mm);
	umn__tsan_release(n);
	urcu_bp_call_rcu(head, put_free);
}

int umn_notifier_put(struct umn_notifier *n)
{
	struct umn_mm *mm;

	if (!n || !n->mm || !n->ops->free_notifier)
		return -EINVAL;
	mm = n->mm;
	umn__mm_lock(mm);
	switch (get_state(n)) {
	case UMN__NOTIFIER_LINKED:
	case UMN__NOTIFIER_RELEASING:
	case UMN__NOTIFIER_HIDDEN:
		hide(mm, n);
		set_state(n, UMN__NOTIFIER_REMOVING);
		break;
	case UMN__NOTIFIER_UNREGISTERING:
		umn__mm_unlock(mm);
		return -EBUSY;
	default:
		umn__mm_unlock(mm);
		return -EINVAL;
	}
	umn__mm_unlock(mm);
	umn__tsan_release(n);
	urcu_bp_call_rcu((struct rcu_head *)n->_rcu, put_unlink);
	return 0;
}

void umn_rcu_barrier(void)
{
	umn__might_sleep_here();
	/* A put queues its second stage from its first. */
	urcu_bp_barrier();
	urcu_bp_barrier();
	umn__tsan_acquire(&umn__rcu_token);
}

bool umn__chain_is_valid(struct umn_mm *mm)
{
	struct umn_notifier *n;
	unsigned long count = 0;
	bool ok = true;

	umn__mm_lock(mm);
	for (n = mm->chain; n && ok; n = n->_next) {
		ok = n->mm == mm && n->ops && ++count <= mm->gen &&
		     n->_gen_added <= mm->gen && n->_gen_added > 0 &&
		     n->_gen_added < n->_gen_removed;
		switch (n->_state) {
		case UMN__NOTIFIER_LINKED:
			ok = ok && n->_gen_removed == ULONG_MAX &&
			     !mm->releasing;
			break;
		case UMN__NOTIFIER_RELEASING:
		case UMN__NOTIFIER_UNREGISTERING:
			break;
		case UMN__NOTIFIER_HIDDEN:
		case UMN__NOTIFIER_REMOVING:
			ok = ok && n->_gen_removed <= mm->gen;
			break;
		default:
			ok = false;
		}
		if (!ok)
			umn__report("chain: bad notifier '%s' (state %u)",
				    umn__name(n->ops ? n->ops->name : NULL),
				    n->_state);
	}
	umn__mm_unlock(mm);
	return ok;
}

/* The slow paths of the primary's calls (umn/mm.h). */

/*
 * One classic notifier's invalidate_range_start: 0, or -EAGAIN if it
 * refused a non-blockable range.  A refusal of a blockable range (which the
 * primary cannot expect) is reported and ignored.
 */
static int chain_start_one(struct umn_notifier *n,
			   const struct umn_range *range)
{
	bool blockable = umn_range_blockable(range);
	struct umn__atomic_save save = { 0 };
	int ret;

	if (!n->ops->invalidate_range_start)
		return 0;
	if (!blockable)
		save = umn__atomic_enter(n->ops->name,
					 "invalidate_range_start");
	ret = n->ops->invalidate_range_start(n, range);
	if (!blockable)
		umn__atomic_exit(save);
	if (!ret)
		return 0;
	UMN_WARN_ON(blockable || ret != -EAGAIN ||
			    !(n->ops->flags & UMN_NOTIFIER_START_MAY_FAIL),
		    "notifier '%s' failed start (%d) of a %s range "
		    "without declaring UMN_NOTIFIER_START_MAY_FAIL",
		    umn__name(n->ops->name), ret,
		    blockable ? "blockable" : "non-blockable");
	if (blockable) {
		umn__report("notifier '%s' refused a blockable range: ignored",
			    umn__name(n->ops->name));
		return 0;
	}
	return -EAGAIN;
}

/*
 * The classic notifiers' part of start (Linux's
 * mn_hlist_invalidate_range_start): each one's start, in chain order.  If
 * one refuses, every start that ran before it gets its end (Linux commit
 * c2655835fd8c), and the result is -EAGAIN.
 */
static int chain_invalidate_start(struct umn_range *range)
{
	struct umn_mm *mm = range->mm;
	struct umn_notifier *n, *failed = NULL;

	umn__chain_for_each(n, mm, range->_gen) {
		if (chain_start_one(n, range)) {
			failed = n;
			break;
		}
	}
	if (!failed)
		return 0;
	umn__chain_for_each(n, mm, range->_gen) {
		if (n == failed)
			break;
		if (n->ops->invalidate_range_end)
			n->ops->invalidate_range_end(n, range);
	}
	return -EAGAIN;
}

static bool range_start_is_valid(const struct umn_range *range)
{
	return umn__range_is_valid(range->start, range->end) &&
	       (unsigned int)range->event < UMN_EVENT_COUNT &&
	       !(range->flags & ~UMN_RANGE_BLOCKABLE);
}

/*
 * Start: the interval notifiers' part, then the classic ones'; if a
 * classic one refuses, the interval part ends again.  The RCU read lock is
 * held from here to end (core/rcu.h).
 */
int umn__invalidate_range_start(struct umn_range *range)
{
	struct umn_mm *mm = range->mm;
	const struct umn_mm *prev;
	bool itree_locked = false;
	int ret;

	if (!range_start_is_valid(range))
		return -EINVAL;
	if (umn_range_blockable(range))
		umn__might_sleep_here();

	umn__rcu_read_lock(); /* held until end (core/rcu.h) */
	range->_gen = read_gen(mm);
	prev = umn__callback_enter(mm);
	ret = umn__itree_invalidate_start(range, &itree_locked);
	if (!ret) {
		ret = chain_invalidate_start(range);
		if (ret)
			umn__itree_invalidate_end(mm, itree_locked);
	}
	umn__callback_exit(prev);
	if (ret) {
		umn__rcu_read_unlock();
		return ret;
	}
	range->_started =
		itree_locked ? UMN__STARTED_LOCKED : UMN__STARTED_LOCKLESS;
	umn__bracket_push(range);
	return 0;
}

void umn__invalidate_range_end(struct umn_range *range, bool only_end)
{
	struct umn_mm *mm = range->mm;
	struct umn__atomic_save save;
	struct umn_notifier *n;
	const struct umn_mm *prev;
	bool itree_locked;

	umn__might_sleep_here();
	umn__bracket_pop(range);
	if (!range->_started) {
		umn__report("umn_invalidate_range_end() on a range that did "
			    "not start: ignored");
		return;
	}
	itree_locked = range->_started == UMN__STARTED_LOCKED;
	range->_started = 0;

	prev = umn__callback_enter(mm);
	umn__chain_for_each(n, mm, range->_gen) {
		if (!only_end && n->ops->invalidate_range) {
			save = umn__atomic_enter(n->ops->name,
						 "invalidate_range");
			n->ops->invalidate_range(n, mm, range->start,
						 range->end);
			umn__atomic_exit(save);
		}
		if (n->ops->invalidate_range_end)
			n->ops->invalidate_range_end(n, range);
	}
	umn__itree_invalidate_end(mm, itree_locked);
	umn__callback_exit(prev);
	umn__rcu_read_unlock();
}

/*
 * The notifiers that must hear an invalidate_range or change_pte: those on
 * the chain now, and those the thread's open bracket started (one may have
 * been hidden since; its TLB must be flushed all the same).
 */
static bool in_bracket(const struct umn_notifier *n, unsigned long now,
		       const struct umn_range *bracket)
{
	return visible(n, now) || (bracket && visible(n, bracket->_gen));
}

void umn__invalidate_range(struct umn_mm *mm, unsigned long start,
			   unsigned long end)
{
	const struct umn_range *bracket = umn__bracket_of(mm);
	struct umn__atomic_save save;
	struct umn_notifier *n;
	const struct umn_mm *prev;
	unsigned long now;

	if (!umn__range_is_valid(start, end)) {
		umn__report("umn_invalidate_range(%#lx, %#lx): bad range, "
			    "ignored",
			    start, end);
		return;
	}
	umn__bracket_check_inside(mm, start, end, "umn_invalidate_range");
	umn__rcu_read_lock();
	now = read_gen(mm);
	prev = umn__callback_enter(mm);
	for (n = chain_first(mm); n; n = chain_next(n)) {
		if (!n->ops->invalidate_range || !in_bracket(n, now, bracket))
			continue;
		save = umn__atomic_enter(n->ops->name, "invalidate_range");
		n->ops->invalidate_range(n, mm, start, end);
		umn__atomic_exit(save);
	}
	umn__callback_exit(prev);
	umn__rcu_read_unlock();
}

typedef int young_fn(struct umn_notifier *n, struct umn_mm *mm,
		     unsigned long start, unsigned long end);

static young_fn *young_op(const struct umn_notifier_ops *ops, int which)
{
	switch (which) {
	case UMN__CLEAR_FLUSH_YOUNG:
		return ops->clear_flush_young;
	case UMN__CLEAR_YOUNG:
		return ops->clear_young;
	default:
		return ops->test_young;
	}
}

int umn__young(struct umn_mm *mm, unsigned long start, unsigned long end,
	       int which)
{
	static const char *const names[] = { "clear_flush_young", "clear_young",
					     "test_young" };
	struct umn__atomic_save save;
	struct umn_notifier *n;
	const struct umn_mm *prev;
	young_fn *young;
	int ret = 0;

	if (!umn__range_is_valid(start, end) || which < 0 || which > 2)
		return -EINVAL;
	umn__rcu_read_lock();
	prev = umn__callback_enter(mm);
	umn__chain_for_each(n, mm, read_gen(mm)) {
		young = young_op(n->ops, which);
		if (!young)
			continue;
		save = umn__atomic_enter(n->ops->name, names[which]);
		ret |= !!young(n, mm, start, end);
		umn__atomic_exit(save);
	}
	umn__callback_exit(prev);
	umn__rcu_read_unlock();
	return ret;
}

void umn__change_pte(struct umn_mm *mm, unsigned long address,
		     unsigned long pte)
{
	const struct umn_range *bracket = umn__bracket_of(mm);
	struct umn__atomic_save save;
	struct umn_notifier *n;
	const struct umn_mm *prev;
	unsigned long now;

	address &= ~(UMN_PAGE_SIZE - 1);
	if (address + UMN_PAGE_SIZE) /* the last page has no range */
		umn__bracket_check_inside(mm, address, address + UMN_PAGE_SIZE,
					  "umn_change_pte");
	umn__rcu_read_lock();
	now = read_gen(mm);
	prev = umn__callback_enter(mm);
	for (n = chain_first(mm); n; n = chain_next(n)) {
		if (!n->ops->change_pte || !in_bracket(n, now, bracket))
			continue;
		save = umn__atomic_enter(n->ops->name, "change_pte");
		n->ops->change_pte(n, mm, address, pte);
		umn__atomic_exit(save);
	}
	umn__callback_exit(prev);
	umn__rcu_read_unlock();
}
