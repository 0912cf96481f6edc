// SPDX-License-Identifier: MIT
/*
 * primaries/proc/proc.c - the process mm: one per process image, the
 * switches of its sources, and what a fork leaves the child.
 *
 * The hooks run inside any libc call of any thread, signal handlers
 * included, so their path reads two words (the mm and the switches) with
 * atomic loads and takes no lock of this file.  umn_proc_start() and
 * umn_proc_stop() serialise on start_lock; a hook that raced with a stop
 * may still fire one whole bracket, which is harmless.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../core/primary.h"
#include "../../core/rcu.h"
#include "proc.h"

static struct umn_mm *proc_mm;	  /* atomic; set once per image */
static unsigned int sources_on;	  /* atomic mask of UMN_PROC_* */
static unsigned long brackets[2]; /* atomic, per source */
static bool patched;		  /* under start_lock */
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;

/* Ask userfaultfd to report changes in [start, last]: the pages it
 * touches, or every mapping for a classic notifier's [0, ULONG_MAX]. */
static void watch_range(unsigned long start, unsigned long last)
{
	const unsigned long mask = UMN_PAGE_SIZE - 1;

	if (!start && last == ~0UL)
		umn__proc_uffd_watch_all();
	else
		umn__proc_uffd_watch(start & ~mask,
				     (last | mask) == ~0UL ? ~mask
							   : (last | mask) + 1);
}

/* Once the source starts: what the notifiers already there hear. */
static void watch_heard(struct umn_mm *mm)
{
	unsigned long first, last;

	if (umn__mm_heard(mm, &first, &last))
		umn__proc_uffd_watch_all();
	if (first <= last)
		umn__proc_uffd_watch_heard(
			first & ~(UMN_PAGE_SIZE - 1),
			(last | (UMN_PAGE_SIZE - 1)) == ~0UL
				? ~(UMN_PAGE_SIZE - 1)
				: (last | (UMN_PAGE_SIZE - 1)) + 1);
}

static void interval_added(struct umn_mm *mm, void *priv, unsigned long start,
			   unsigned long last)
{
	(void)mm;
	(void)priv;
	if (__atomic_load_n(&sources_on, __ATOMIC_ACQUIRE) & UMN_PROC_UFFD)
		watch_range(start, last);
}

/*
 * The fast path.  The process cannot exclude its own system calls, but it
 * can wait for them: each hook holds the RCU read lock from its test of
 * umn_mm_has_notifiers() to the end of its system call (hooks.c), so the
 * grace period after the first notifier arrives waits for every call that
 * may have seen "none".  Nothing to exclude first, then: lock_all is
 * empty and unlock_all waits.
 *
 * Except on top of this thread's own window (the first notifier inserted
 * by a signal handler that interrupted a hooked call): a grace period
 * would wait for itself.  It does not wait, and the mm is not settled
 * (core/mm.c, umn__mm_lock_all_once): the interrupted call, and any other
 * in flight, sees the change after its system call and brackets its range
 * then, late, as userfaultfd does (hooks.c, call_end).  The next first
 * notifier from outside a handler waits for them all.
 */
static void proc_lock_all(struct umn_mm *mm, void *priv)
{
	(void)mm;
	(void)priv;
}

static void proc_unlock_all(struct umn_mm *mm, void *priv)
{
	(void)mm;
	(void)priv;
	if (!umn__window_depth) {
		umn__signals_mask_now(); /* lock_all_once's hold */
		umn__synchronize_rcu();
	}
}

static const struct umn_mm_ops proc_ops = {
	.lock_all = proc_lock_all,
	.unlock_all = proc_unlock_all,
	.interval_added = interval_added,
};

/*
 * In a forked child: a new address space that inherited copies of the
 * parent's notifiers, which belong to the parent.  As Linux does, the child
 * starts with none: forget the copied mm (leaked: its notifiers' owners are
 * not here to unregister them) and the monitor threads, which fork did not
 * copy.  The patched code stays, switched off.
 */
static struct umn_mm *parents_mm; /* kept reachable: it is not a leak */

static void forget_in_child(void)
{
	__atomic_store_n(&sources_on, 0, __ATOMIC_RELAXED);
	parents_mm = __atomic_exchange_n(&proc_mm, NULL, __ATOMIC_RELAXED);
	memset(brackets, 0, sizeof(brackets));
	/* A static initializer: nothing to fail, nowhere to report it. */
	start_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	umn__proc_hooks_forget();
	umn__proc_uffd_forget();
	umn__proc_signals_forget_in_child();
}

/* At load, so that no fork after it, whoever registered handlers first,
 * leaves a child with the parent's notifiers.  (glibc's _Fork and a raw
 * clone run no handler: their children must not call umn.) */
__attribute__((constructor)) static void install_atfork(void)
{
	pthread_atfork(NULL, NULL, forget_in_child);
}

struct umn_mm *umn__proc_mm_if(unsigned int source)
{
	if (!(__atomic_load_n(&sources_on, __ATOMIC_ACQUIRE) & source))
		return NULL;
	return __atomic_load_n(&proc_mm, __ATOMIC_ACQUIRE);
}

void umn__proc_count(unsigned int source)
{
	__atomic_fetch_add(&brackets[source == UMN_PROC_UFFD], 1,
			   __ATOMIC_RELAXED);
}

void umn__proc_bracket(struct umn_mm *mm, unsigned long start,
		       unsigned long end, enum umn_event event,
		       struct proc_cause *cause)
{
	struct umn_range range;

	umn_range_init(&range, mm, start, end, event, UMN_RANGE_BLOCKABLE,
		       cause);
	if (umn_invalidate_range_start(&range))
		return;
	umn__proc_count(cause->cause.source);
	umn_invalidate_range_end(&range);
}

/* UMN_PROC_SOURCES: "hooks", "uffd", "hooks,uffd", "all" or "none".
 * Return: 0 if unset; 2 for "all" (those that work here), 1 for a list
 * (each source named is required); -EINVAL. */
static int sources_from_env(unsigned int *mask)
{
	const char *env = getenv("UMN_PROC_SOURCES"), *p;
	unsigned int m = 0;
	size_t n;

	if (!env)
		return 0;
	if (!*env) /* set but empty: a mistake, not "none" */
		return -EINVAL;
	for (p = env; *p; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		if (n == 5 && !strncmp(p, "hooks", n))
			m |= UMN_PROC_HOOKS;
		else if (n == 4 && !strncmp(p, "uffd", n))
			m |= UMN_PROC_UFFD;
		else if (n == 3 && !strncmp(p, "all", n))
			m |= UMN_PROC_ALL;
		else if (!(n == 4 && !strncmp(p, "none", n)))
			return -EINVAL;
	}
	*mask = m;
	return strcmp(env, "all") ? 1 : 2;
}

/*
 * At exit, before liburcu-bp's destructor, the exiting thread enters a
 * read-side section, which registers it.  liburcu-bp unmaps its registry
 * at exit when no thread is registered, holding its init lock: its munmap
 * then reaches the hook, whose read lock registers the thread, which
 * waits for that same lock, for ever.  With this thread registered the
 * registry stays, for the hooks that run later in the exit.  An exit
 * handler, not a destructor: handlers registered after start-up run
 * before every destructor, whether liburcu-bp is a shared library (whose
 * destructor runs after libumn's) or linked into the program (where the
 * link order decides).
 */
static void keep_rcu_registry(void)
{
	if (!__atomic_load_n(&sources_on, __ATOMIC_ACQUIRE))
		return;
	umn__rcu_read_lock();
	umn__rcu_read_unlock();
}

static int start_locked(unsigned int want, bool each_required)
{
	unsigned int on = __atomic_load_n(&sources_on, __ATOMIC_RELAXED);
	struct umn_mm *mm = proc_mm;
	int hooks_ret = 0, uffd_ret = 0;

	if (!mm) {
		int ret = umn_mm_create(&proc_ops, NULL, &mm);

		if (ret)
			return ret;
		umn__mm_set_signal_safe(mm);
		umn__mm_reenable_fast_path(mm);
		__atomic_store_n(&proc_mm, mm, __ATOMIC_RELEASE);
	}
	if ((want & UMN_PROC_HOOKS) && !patched) {
		umn__proc_hooks_init();
		hooks_ret = umn__proc_patch_libc();
		patched = !hooks_ret;
		if (patched) /* (atexit fails only for want of memory) */
			(void)atexit(keep_rcu_registry);
		if (patched && umn__proc_patched(umn__proc_hook_sigaction))
			umn__proc_signals_start();
	}
	if (want & UMN_PROC_UFFD) {
		uffd_ret = umn__proc_uffd_start(mm);
		/* What notifiers registered before hear, userfaultfd must
		 * report too. */
		if (!uffd_ret && !(on & UMN_PROC_UFFD))
			watch_heard(mm);
	}
	if (each_required && (hooks_ret || uffd_ret))
		return hooks_ret ? hooks_ret : uffd_ret;
	if ((want & UMN_PROC_HOOKS) && !hooks_ret)
		on |= UMN_PROC_HOOKS;
	if ((want & UMN_PROC_UFFD) && !uffd_ret)
		on |= UMN_PROC_UFFD;
	if (want && !on)
		return hooks_ret ? hooks_ret : uffd_ret;
	__atomic_store_n(&sources_on, on, __ATOMIC_RELEASE);
	return (int)on;
}

#ifdef UMN_DEBUG
bool umn__proc_start_held(void)
{
	return umn__lock_held(&start_lock, UMN__LOCK_EXCL);
}
#endif

int umn_proc_start(unsigned int sources)
{
	bool each_required = sources != UMN_PROC_ALL;
	int ret = sources_from_env(&sources);

	if (ret < 0 || (sources & ~UMN_PROC_ALL))
		return -EINVAL;
	if (ret > 0)
		each_required = ret == 1;
	umn__mutex_lock(&start_lock, "start_lock");
	ret = start_locked(sources, each_required);
	umn__mutex_unlock(&start_lock, "start_lock");
	return ret;
}

int umn_proc_stop(unsigned int sources)
{
	unsigned int on;

	if (sources & ~UMN_PROC_ALL)
		return -EINVAL;
	umn__mutex_lock(&start_lock, "start_lock");
	on = __atomic_and_fetch(&sources_on, ~sources, __ATOMIC_ACQ_REL);
	umn__mutex_unlock(&start_lock, "start_lock");
	return (int)on;
}

struct umn_mm *umn_proc_mm(void)
{
	return __atomic_load_n(&proc_mm, __ATOMIC_ACQUIRE);
}

unsigned int umn_proc_sources(void)
{
	return __atomic_load_n(&sources_on, __ATOMIC_ACQUIRE);
}

int umn_proc_cause(const struct umn_range *range, struct umn_proc_cause *cause)
{
	const struct proc_cause *c;

	if (!range || !cause || !range->owner || range->mm != umn_proc_mm())
		return -EINVAL;
	c = range->owner;
	if (c->magic != PROC_CAUSE_MAGIC)
		return -EINVAL;
	*cause = c->cause;
	return 0;
}

void umn_proc_stats(struct umn_proc_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	stats->brackets[0] = __atomic_load_n(&brackets[0], __ATOMIC_RELAXED);
	stats->brackets[1] = __atomic_load_n(&brackets[1], __ATOMIC_RELAXED);
	umn__proc_uffd_stats(stats);
}

int umn_proc_uffd_sync(void)
{
	return umn__proc_uffd_sync();
}
