// SPDX-License-Identifier: MIT
/*
 * core/mm.c - the address space: creation, references, teardown, and the
 * checks shared by the primary's calls.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "debug.h"
#include "internal.h"
#include "rcu.h"

char umn__rcu_token;

int umn_mm_create(const struct umn_mm_ops *ops, void *priv, struct umn_mm **mmp)
{
	struct umn_mm *mm;

	if (!mmp || (ops && (!ops->lock_all != !ops->unlock_all)))
		return -EINVAL;
	mm = calloc(1, sizeof(*mm));
	if (!mm)
		return -ENOMEM;
	if (pthread_mutex_init(&mm->lock, NULL))
		goto err_free;
	if (pthread_cond_init(&mm->wq, NULL))
		goto err_mutex;
	atomic_init(&mm->refs, 1);
	mm->invalidate_seq = 2; /* even; the first invalidation is 3 */
	mm->ops = ops && ops->lock_all ? ops : NULL;
	mm->priv = priv;
	/*
	 * Without lock_all the primary cannot exclude its changes when the
	 * first notifier arrives, so the fast path is off from the start.
	 * Debug builds turn it off too, so that every bracket is checked.
	 */
	mm->head.has_notifiers = !mm->ops;
#ifdef UMN_DEBUG
	mm->head.has_notifiers = 1;
#endif
	*mmp = mm;
	return 0;

err_mutex:
	pthread_mutex_destroy(&mm->lock);
err_free:
	free(mm);
	return -ENOMEM;
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
	pthread_mutex_destroy(&mm->lock);
	free(mm);
}

/*
 * Let the first notifier in, under the primary's exclusion: a change that
 * saw has_notifiers == 0 has finished, a change that begins later sees 1.
 */
void umn__mm_lock_all_once(struct umn_mm *mm)
{
	if (__atomic_load_n(&mm->head.has_notifiers, __ATOMIC_ACQUIRE))
		return;
	mm->ops->lock_all(mm, mm->priv);
	__atomic_store_n(&mm->head.has_notifiers, 1, __ATOMIC_RELEASE);
	mm->ops->unlock_all(mm, mm->priv);
}

bool umn__range_is_valid(unsigned long start, unsigned long end)
{
	return start < end && !(start & (UMN_PAGE_SIZE - 1)) &&
	       !(end & (UMN_PAGE_SIZE - 1));
}

int umn_mm_release(struct umn_mm *mm)
{
	struct umn_notifier *n;
	const struct umn_mm *prev;
	unsigned long gen;

	if (!mm)
		return -EINVAL;
	if (umn__rcu_read_ongoing() || umn__thread.callback_mm) {
		umn__report("umn_mm_release() called from a notifier callback "
			    "or between start and end: refused (-EDEADLK)");
		return -EDEADLK;
	}
	umn__might_sleep_here();

	/* Hide every notifier from the brackets that begin from now on. */
	pthread_mutex_lock(&mm->lock);
	if (mm->releasing) {
		pthread_mutex_unlock(&mm->lock);
		return -EALREADY;
	}
	mm->releasing = true;
	gen = mm->gen + 1;
	for (n = mm->chain; n; n = n->_next) {
		if (n->_state != UMN__NOTIFIER_LINKED)
			continue;
		n->_state = UMN__NOTIFIER_RELEASED;
		umn__store(&n->_gen_removed, gen);
	}
	__atomic_store_n(&mm->gen, gen, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&mm->lock);

	/* Wait for the brackets that could still call them. */
	umn__synchronize_rcu();

	/*
	 * Now call ->release.  The notifiers stay on the chain, hidden, until
	 * their owners unregister (or put) them; the read lock keeps a put
	 * from inside ->release from freeing a notifier under our walk.
	 */
	umn__rcu_read_lock();
	prev = umn__callback_enter(mm);
	for (n = __atomic_load_n(&mm->chain, __ATOMIC_ACQUIRE); n;
	     n = __atomic_load_n(&n->_next, __ATOMIC_ACQUIRE)) {
		if (umn__load(&n->_gen_removed) == gen && n->ops->release)
			n->ops->release(n, mm);
	}
	umn__callback_exit(prev);
	umn__rcu_read_unlock();

	pthread_mutex_lock(&mm->lock);
	mm->released = true;
	pthread_cond_broadcast(&mm->wq);
	pthread_mutex_unlock(&mm->lock);
	return 0;
}
