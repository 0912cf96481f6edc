// SPDX-License-Identifier: MIT
/*
 * core/mm.c - the address space: creation, references, teardown, and the
 * checks shared by the primary's calls.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "debug.h"
#include "fail.h"
#include "internal.h"
#include "rcu.h"

char umn__rcu_token;

/*
 * fork: every bracket holds an RCU read lock, so a thread inside one when
 * another forks would leave the child a reader that never ends, and the
 * child's first grace period (a register) would wait forever.  liburcu-bp
 * cleans that up if its fork hooks run; call_rcu's worker must pause
 * first (prepare handlers run last-registered first).
 */
__attribute__((constructor)) static void umn__install_fork_hooks(void)
{
	pthread_atfork(urcu_bp_before_fork, urcu_bp_after_fork_parent,
		       urcu_bp_after_fork_child);
	pthread_atfork(urcu_bp_call_rcu_before_fork,
		       urcu_bp_call_rcu_after_fork_parent,
		       urcu_bp_call_rcu_after_fork_child);
}

int umn_mm_create(const struct umn_mm_ops *ops, void *priv, struct umn_mm **mmp)
{
	struct umn_mm *mm;

	if (!mmp || (ops && (!ops->lock_all != !ops->unlock_all)))
		return -EINVAL;
	mm = umn__calloc(1, sizeof(*mm));
	if (!mm)
		return -ENOMEM;
	if (pthread_mutex_init(&mm->lock, NULL))
		goto err_free;
	if (pthread_cond_init(&mm->wq, NULL))
		goto err_mutex;
	if (pthread_mutex_init(&mm->once_lock, NULL))
		goto err_cond;
	atomic_init(&mm->refs, 1);
	mm->invalidate_seq = 2; /* even; the first invalidation is 3 */
	mm->ops = ops;
	mm->priv = priv;
	/*
	 * Without lock_all the primary cannot exclude its changes when the
	 * first notifier arrives, so the fast path is off from the start.
	 * Debug builds turn it off too, so that every bracket is checked.
	 */
	mm->head.has_notifiers = !ops || !ops->lock_all;
#ifdef UMN_DEBUG
	mm->head.has_notifiers = 1;
#endif
	mm->settled = mm->head.has_notifiers;
	*mmp = mm;
	return 0;

err_cond:
	pthread_cond_destroy(&mm->wq);
err_mutex:
	pthread_mutex_destroy(&mm->lock);
err_free:
	free(mm);
	return -ENOMEM;
}

void umn__mm_reenable_fast_path(struct umn_mm *mm)
{
	if (mm->ops && mm->ops->lock_all && !mm->chain &&
	    umn__itree_empty(&mm->itree))
		mm->head.has_notifiers = mm->settled = 0;
}

struct umn_mm *umn_mm_get(struct umn_mm *mm)
{
	atomic_fetch_add_explicit(&mm->refs, 1, memory_order_relaxed);
	return mm;
}

void umn_mm_put(struct umn_mm *mm)
{
	if (!mm ||
	    atomic_fetch_sub_explicit(&mm->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* Every notifier holds a reference: none can be left. */
	UMN_WARN_ON(mm->chain || !umn__itree_empty(&mm->itree) ||
			    mm->deferred || mm->active,
		    "last reference on an mm dropped with notifiers on it");
	pthread_cond_destroy(&mm->wq);
	pthread_mutex_destroy(&mm->once_lock);
	pthread_mutex_destroy(&mm->lock);
	free(mm);
}

_Thread_local unsigned int umn__window_depth;

/*
 * Let the first notifier in, under the primary's exclusion: a change that
 * saw has_notifiers == 0 has finished, a change that begins later sees 1.
 * Every caller waits until that is done (a second inserter that returned
 * as soon as it saw 1 could add an interval while a change that saw 0 is
 * still in flight).
 *
 * From inside an RCU read section a primary that waits for its readers
 * (the process, the one signal-safe mm) would wait for itself: refused, unless the section is this
 * thread's own primary window (a signal handler on top of a hooked call).
 * That one cannot wait, and need not block: it publishes 1, and the
 * interrupted call, and every other one in flight, sees it after its
 * system call and brackets its range late (primaries/proc/hooks.c).  The
 * mm is settled only by a caller that could wait.
 */
int umn__mm_lock_all_once(struct umn_mm *mm)
{
	bool in_window = umn__window_depth;

	if (__atomic_load_n(&mm->settled, __ATOMIC_ACQUIRE))
		return 0;
	if (mm->signal_safe && umn__rcu_read_ongoing() && !in_window)
		return -EDEADLK;
	if (mm->signal_safe)
		umn__signals_hold();
	if (in_window ? pthread_mutex_trylock(&mm->once_lock)
		      : pthread_mutex_lock(&mm->once_lock)) {
		/* Another thread is letting the first notifier in, and may
		 * be waiting for this very window. */
		__atomic_store_n(&mm->head.has_notifiers, 1, __ATOMIC_SEQ_CST);
		if (mm->signal_safe)
			umn__signals_release();
		return 0;
	}
	if (!mm->settled) {
		mm->ops->lock_all(mm, mm->priv);
		__atomic_store_n(&mm->head.has_notifiers, 1, __ATOMIC_RELEASE);
		mm->ops->unlock_all(mm, mm->priv);
		if (!in_window)
			__atomic_store_n(&mm->settled, true, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&mm->once_lock);
	if (mm->signal_safe)
		umn__signals_release();
	return 0;
}

bool umn_mm_in_callback(const struct umn_mm *mm)
{
	return mm && umn__in_context_of(mm);
}

bool umn__range_is_valid(unsigned long start, unsigned long end)
{
	return start < end && !(start & (UMN_PAGE_SIZE - 1)) &&
	       !(end & (UMN_PAGE_SIZE - 1));
}
