/* SPDX-License-Identifier: MIT */
/*
 * umn/linux/mmu_notifier.h - the kernel's spelling of umn's API, so that a
 * driver's MMU-notifier code written for Linux compiles unchanged and runs
 * in user space, over the soft MMU or over the process itself.
 *
 * Two generations of the API, one implementation:
 *
 *	#include <umn/linux/mmu_notifier.h>	Linux 6.x (the default)
 *
 *	#define UMN_LINUX_API 413		Linux 4.13: callbacks take
 *	#include <umn/linux/mmu_notifier.h>	(mn, mm, start, end), no range
 *						struct, no interval notifiers
 *
 * UMN_LINUX_API is the kernel's version, major * 100 + minor; below 500
 * means 4.13's spelling, anything else 6.x's.  Define it before the first
 * include, the same in every file of a program.
 *
 * How it maps: the kernel's structs are real structs here, shaped as the
 * kernel's, and each embeds the umn object that does the work (.umn).
 * umn calls one table of small functions of this header (umn__linux_*),
 * which find the kernel's struct again (container_of) and call the
 * driver's callback with the kernel's arguments.  So drivers read and
 * write the kernel's fields, and umn's own API (umn/notifier.h,
 * umn/interval.h) is unchanged underneath.
 *
 * Where the mm comes from: struct mm_struct is made for a umn address
 * space by umn_linux_mm_create(), from a soft MMU (then hmm_range_fault()
 * of <umn/linux/hmm.h> can fault it) or from any umn mm (the process's,
 * umn_proc_mm(); a bare one).  Its fields, what they mean here:
 *
 *	.umn		the umn address space (notifiers, intervals, seq)
 *	.soft		the soft MMU that is the primary, or NULL
 *	.pgd		the kernel's page-table root, for an IOMMU's PASID
 *			table; here the .soft pointer (or NULL): a cookie
 *			that no device walks
 *	.context	the architecture's context; .context.id is 0
 *	.mm_users	mmget_not_zero()/mmput(): users of the address space
 *	.mm_count	mmgrab()/mmdrop(): references to this struct
 *	.mmap_lock	mmap_read_lock() and friends: a mutex of this struct
 *			(readers exclude each other too) that orders the
 *			driver's own users; the soft MMU takes its own lock
 *			in each operation, not this one
 *
 * current->mm is the thread's mm: umn_linux_use_mm(mm) sets it (NULL at
 * first).  A registered notifier and an inserted interval notifier hold a
 * reference to the struct (mm_count), as in Linux.
 *
 * Differences from Linux, all of them:
 *
 *  - The kernel's list and tree types that the kernel's header brings
 *    (struct hlist_node, struct interval_tree_node, struct rcu_head) are
 *    defined here, with the kernel's member names; define
 *    UMN_LINUX_NO_LIST_TYPES to bring your own.  struct mmu_notifier's
 *    .hlist and .rcu, and struct mmu_interval_notifier's .deferred_item
 *    and .invalidate_seq are there for code that initialises them; umn
 *    keeps its own chain, tree and sequence in .umn.
 *  - mmu_interval_notifier's .interval_tree holds .start and .last
 *    (inclusive) from insert on, for code that reads them; changing them
 *    moves nothing.  A failed insert leaves .mm NULL, as Linux's.
 *  - 4.13's struct mmu_notifier had no .mm; here it has one (set by
 *    register), which 4.13 code does not see.  struct task_struct has
 *    only .mm and .pid (0).  enum mmu_notifier_event is umn's enum
 *    umn_event under the kernel's name and values.
 *  - The struct mmu_notifier_range a callback gets is built for that
 *    call from umn's range (its .mm is the notifier's mm_struct): the same
 *    fields as the primary's, but not the same object, so a start and its
 *    end see two addresses.
 *  - ->test_young(sub, mm, address) is asked page by page over the range
 *    umn ages, until one page is young.
 *  - current is a macro, as in the kernel, and so, in 4.13's spelling,
 *    are down_read(), up_read(), down_write(), up_write() (on the mm's
 *    lock only) and the member name mmap_sem: a file that includes this
 *    header cannot use these words for anything else.
 *  - No mmap_lock in the primary: __mmu_notifier_register() and
 *    mmu_interval_notifier_insert_locked() are the same calls as the
 *    unlocked ones.  mm->mmap_lock orders only the code that takes it.
 *  - A non-blockable invalidate_range_start() may return -EAGAIN, as in
 *    Linux.  Linux says such an ops table has no invalidate_range_end
 *    and warns if one fails with it; here a refusal from a table with an
 *    end is reported on stderr and ignored (the end follows), so that
 *    every start stays paired.
 *  - ->invalidate_range (Linux up to 6.5) and
 *    ->arch_invalidate_secondary_tlbs (6.6+) are both called: under the
 *    page-table lock after each change and again from the end of the
 *    bracket (as Linux up to 6.5; 6.6+ calls it from the TLB flush only).
 *  - ->change_pte (4.13 to 6.8) gets a pte_t that is the primary's own
 *    encoding, an unsigned long; there is no pte_pfn().
 *  - ->free_notifier runs on a helper thread once no callback of the
 *    notifier can run (Linux: from an SRCU callback).
 *  - mmu_notifier_get() and _get_locked() find a notifier with the same
 *    ops among those registered on the mm through this header, under a
 *    mutex of the mm_struct that is held across ->alloc_notifier and the
 *    registration (Linux: the mmap_lock); do not call them from a
 *    callback.
 *  - mmu_notifier_unregister(), mmu_notifier_put(),
 *    mmu_interval_notifier_remove() and mmu_notifier_release() return
 *    nothing in Linux.  umn refuses their misuse (from inside a callback
 *    of the same mm, which would deadlock in Linux; on a notifier that is
 *    not registered, which would crash it): here that prints the error and
 *    aborts, rather than let the caller free an object umn still uses.
 *  - mmu_notifier_register() and mmu_interval_notifier_insert() return
 *    umn's errors: -EBUSY (already registered), -ESRCH (the mm was
 *    released), -EDEADLK (called from a callback), -EINVAL.  Neither
 *    needs a zeroed struct: they initialise every field they use.  So a
 *    second insert of an inserted interval notifier cannot be told from a
 *    first one and is not refused (nor is it in Linux); a second register
 *    is (-EBUSY: it is found on the mm's list).
 *  - The primary's side of 4.13 (mmu_notifier_invalidate_range_start(mm,
 *    start, end) and its end) is not spelled: it is mm/'s code, not a
 *    driver's.  6.x's is (mmu_notifier_range_init() and friends).
 *  - No mmu_notifier_range_update_to_read_only() (it reads a VMA).
 *  - Sleeping in atomic context (a non-blockable range,
 *    ->invalidate_range, the aging callbacks) is reported by a debug
 *    build of umn for umn's own calls; annotate a driver's own with
 *    umn_might_sleep() (umn/debug.h), Linux's might_sleep().
 *
 * Contexts, ordering and the retry protocol are umn's, which are Linux's:
 * see umn/notifier.h for each callback and umn/interval.h for
 * mmu_interval_read_begin() and friends.
 */
#ifndef UMN_LINUX_MMU_NOTIFIER_H
#define UMN_LINUX_MMU_NOTIFIER_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <umn/interval.h>
#include <umn/mm.h>
#include <umn/notifier.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef UMN_LINUX_API
#define UMN_LINUX_API 612
#endif
#define UMN__LINUX_413 (UMN_LINUX_API < 500)

#ifndef UMN_LINUX_NO_LIST_TYPES
struct hlist_node {
	struct hlist_node *next, **pprev;
};
struct interval_tree_node {
	unsigned long start, last, __subtree_last;
};
struct rcu_head {
	struct rcu_head *next;
	void (*func)(struct rcu_head *head);
};
#endif

struct umn_soft_mm;
struct mmu_notifier;

/* The architecture's context of an mm (powerpc's .id): 0 here. */
typedef struct {
	unsigned long id;
} mm_context_t;

/* The kernel's address space, over a umn one (see above). */
struct mm_struct {
	struct umn_mm *umn;
	struct umn_soft_mm *soft;
	void *pgd;
	mm_context_t context;
	int mm_users;
	int mm_count;
	pthread_mutex_t mmap_lock;
	/* Every notifier registered through this header, for _get(). */
	pthread_mutex_t umn_notifiers_lock;
	struct mmu_notifier *umn_notifiers;
};

/* The thread's task: its mm, and a pid that is 0 here. */
struct task_struct {
	struct mm_struct *mm;
	int pid;
};
/* One per thread of the program (weak: every file's is the same). */
__attribute__((weak)) __thread struct task_struct umn__linux_task;
#define current (&umn__linux_task)

/* What ->change_pte gets: the primary's PTE, opaque (see above). */
typedef unsigned long pte_t;

/* enum mmu_notifier_event, with the kernel's values. */
#define mmu_notifier_event	   umn_event
#define MMU_NOTIFY_UNMAP	   UMN_EVENT_UNMAP
#define MMU_NOTIFY_CLEAR	   UMN_EVENT_CLEAR
#define MMU_NOTIFY_PROTECTION_VMA  UMN_EVENT_PROTECTION_VMA
#define MMU_NOTIFY_PROTECTION_PAGE UMN_EVENT_PROTECTION_PAGE
#define MMU_NOTIFY_SOFT_DIRTY	   UMN_EVENT_SOFT_DIRTY
#define MMU_NOTIFY_RELEASE	   UMN_EVENT_RELEASE
#define MMU_NOTIFY_MIGRATE	   UMN_EVENT_MIGRATE
#define MMU_NOTIFY_EXCLUSIVE	   UMN_EVENT_EXCLUSIVE

#define MMU_NOTIFIER_RANGE_BLOCKABLE UMN_RANGE_BLOCKABLE

/* The range a 6.x callback gets; .umn is what umn's primary passed. */
struct mmu_notifier_range {
	struct mm_struct *mm;
	unsigned long start;
	unsigned long end;
	unsigned int flags;
	enum mmu_notifier_event event;
	void *owner;
	struct umn_range umn;
};

/* The callbacks of each generation; see umn/notifier.h for contexts. */
struct mmu_notifier_ops {
	void (*release)(struct mmu_notifier *subscription,
			struct mm_struct *mm);
	int (*clear_flush_young)(struct mmu_notifier *subscription,
				 struct mm_struct *mm, unsigned long start,
				 unsigned long end);
	int (*clear_young)(struct mmu_notifier *subscription,
			   struct mm_struct *mm, unsigned long start,
			   unsigned long end);
	int (*test_young)(struct mmu_notifier *subscription,
			  struct mm_struct *mm, unsigned long address);
	void (*change_pte)(struct mmu_notifier *subscription,
			   struct mm_struct *mm, unsigned long address,
			   pte_t pte);
#if UMN__LINUX_413
	void (*invalidate_range_start)(struct mmu_notifier *mn,
				       struct mm_struct *mm,
				       unsigned long start, unsigned long end);
	void (*invalidate_range_end)(struct mmu_notifier *mn,
				     struct mm_struct *mm, unsigned long start,
				     unsigned long end);
#else
	int (*invalidate_range_start)(struct mmu_notifier *subscription,
				      const struct mmu_notifier_range *range);
	void (*invalidate_range_end)(struct mmu_notifier *subscription,
				     const struct mmu_notifier_range *range);
#endif
	void (*invalidate_range)(struct mmu_notifier *subscription,
				 struct mm_struct *mm, unsigned long start,
				 unsigned long end);
#if !UMN__LINUX_413
	void (*arch_invalidate_secondary_tlbs)(
		struct mmu_notifier *subscription, struct mm_struct *mm,
		unsigned long start, unsigned long end);
	struct mmu_notifier *(*alloc_notifier)(struct mm_struct *mm);
	void (*free_notifier)(struct mmu_notifier *subscription);
#endif
};

struct mmu_notifier {
	struct hlist_node hlist; /* the kernel's chain link: not used */
	const struct mmu_notifier_ops *ops;
	struct mm_struct *mm;	       /* set by register (4.13's has it too) */
	struct rcu_head rcu;	       /* not used */
	unsigned int users;	       /* mmu_notifier_get()s not yet put */
	struct mmu_notifier *umn_next; /* on mm->umn_notifiers */
	struct umn_notifier umn;
};

#if !UMN__LINUX_413
struct mmu_interval_notifier;

struct mmu_interval_notifier_ops {
	bool (*invalidate)(struct mmu_interval_notifier *interval_sub,
			   const struct mmu_notifier_range *range,
			   unsigned long cur_seq);
};

struct mmu_interval_notifier {
	struct interval_tree_node interval_tree; /* [start, last] */
	const struct mmu_interval_notifier_ops *ops;
	struct mm_struct *mm;
	struct hlist_node deferred_item; /* not used */
	unsigned long invalidate_seq;	 /* not used: umn's is in .umn */
	struct umn_interval_notifier umn;
};
#endif

#define umn__linux_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/*
 * Where Linux returns nothing, a refusal by umn (see above) stops the
 * program: the caller would otherwise go on to free what umn still uses.
 */
static inline void umn__linux_must(int ret, const char *call)
{
	if (__builtin_expect(ret != 0, 0)) {
		fprintf(stderr, "umn: %s() refused: %s\n", call,
			strerror(-ret));
		abort();
	}
}

/* ---- the address space ------------------------------------------------ */

/*
 * umn_linux_mm_create() - a struct mm_struct for @umn (a reference is
 * taken), over the soft MMU @soft (NULL if the primary is another).
 * mm_users and mm_count start at 1; mmput() of the last user drops it.
 * Return: 0; -EINVAL (@umn NULL); -ENOMEM.
 */
static inline int umn_linux_mm_create(struct umn_mm *umn,
				      struct umn_soft_mm *soft,
				      struct mm_struct **mmp)
{
	struct mm_struct *mm;

	if (!umn || !mmp)
		return -EINVAL;
	mm = (struct mm_struct *)calloc(1, sizeof(*mm));
	if (!mm)
		return -ENOMEM;
	mm->umn = umn_mm_get(umn);
	mm->soft = soft;
	mm->pgd = soft;
	mm->mm_users = 1;
	mm->mm_count = 1;
	pthread_mutex_init(&mm->mmap_lock, NULL);
	pthread_mutex_init(&mm->umn_notifiers_lock, NULL);
	*mmp = mm;
	return 0;
}

/* The thread's current->mm (NULL: none). */
static inline void umn_linux_use_mm(struct mm_struct *mm)
{
	current->mm = mm;
}

static inline void mmgrab(struct mm_struct *mm)
{
	__atomic_fetch_add(&mm->mm_count, 1, __ATOMIC_RELAXED);
}

/* The last mmdrop() frees the struct; no notifier may be registered. */
static inline void mmdrop(struct mm_struct *mm)
{
	if (__atomic_sub_fetch(&mm->mm_count, 1, __ATOMIC_ACQ_REL))
		return;
	umn__linux_must(mm->umn_notifiers ? -EBUSY : 0, "mmdrop");
	umn_mm_put(mm->umn);
	pthread_mutex_destroy(&mm->mmap_lock);
	pthread_mutex_destroy(&mm->umn_notifiers_lock);
	free(mm);
}

static inline void mmget(struct mm_struct *mm)
{
	__atomic_fetch_add(&mm->mm_users, 1, __ATOMIC_RELAXED);
}

/* A user of the address space, unless its last user is gone. */
static inline bool mmget_not_zero(struct mm_struct *mm)
{
	int users = __atomic_load_n(&mm->mm_users, __ATOMIC_RELAXED);

	do {
		if (!users)
			return false;
	} while (!__atomic_compare_exchange_n(&mm->mm_users, &users, users + 1,
					      true, __ATOMIC_ACQUIRE,
					      __ATOMIC_RELAXED));
	return true;
}

/* The last user's mmput() drops the users' reference to the struct (the
 * primary, not this, tears the address space down). */
static inline void mmput(struct mm_struct *mm)
{
	if (!__atomic_sub_fetch(&mm->mm_users, 1, __ATOMIC_ACQ_REL))
		mmdrop(mm);
}

/* Linux defers the teardown to a worker; there is none here. */
static inline void mmput_async(struct mm_struct *mm)
{
	mmput(mm);
}

static inline void mmap_read_lock(struct mm_struct *mm)
{
	pthread_mutex_lock(&mm->mmap_lock);
}

static inline void mmap_read_unlock(struct mm_struct *mm)
{
	pthread_mutex_unlock(&mm->mmap_lock);
}

static inline void mmap_write_lock(struct mm_struct *mm)
{
	pthread_mutex_lock(&mm->mmap_lock);
}

static inline void mmap_write_unlock(struct mm_struct *mm)
{
	pthread_mutex_unlock(&mm->mmap_lock);
}

#if UMN__LINUX_413
/* 4.13's spelling of the same lock (macros: see above). */
#define down_read(sem)	(pthread_mutex_lock(sem))
#define up_read(sem)	(pthread_mutex_unlock(sem))
#define down_write(sem) (pthread_mutex_lock(sem))
#define up_write(sem)	(pthread_mutex_unlock(sem))
#define mmap_sem	mmap_lock
#endif

/* ---- what umn calls: the driver's callbacks, with the kernel's args --- */

static inline struct mmu_notifier *umn__linux_mn(struct umn_notifier *n)
{
	return umn__linux_of(n, struct mmu_notifier, umn);
}

#if !UMN__LINUX_413
static inline void umn__linux_range(struct mmu_notifier_range *k,
				    struct mm_struct *mm,
				    const struct umn_range *r)
{
	k->mm = mm;
	k->start = r->start;
	k->end = r->end;
	k->flags = r->flags;
	k->event = r->event;
	k->owner = r->owner;
	k->umn = *r;
}
#endif

static inline void umn__linux_release(struct umn_notifier *n, struct umn_mm *mm)
{
	struct mmu_notifier *mn = umn__linux_mn(n);

	(void)mm;
	if (mn->ops->release)
		mn->ops->release(mn, mn->mm);
}

static inline int umn__linux_start(struct umn_notifier *n,
				   const struct umn_range *r)
{
	struct mmu_notifier *mn = umn__linux_mn(n);
	int ret = 0;

	if (!mn->ops->invalidate_range_start)
		return 0;
#if UMN__LINUX_413
	mn->ops->invalidate_range_start(mn, mn->mm, r->start, r->end);
#else
	{
		struct mmu_notifier_range k;

		umn__linux_range(&k, mn->mm, r);
		ret = mn->ops->invalidate_range_start(mn, &k);
	}
#endif
	if (ret && mn->ops->invalidate_range_end) {
		/* Linux warns here; umn pairs the start with its end. */
		fprintf(stderr,
			"umn: a notifier with invalidate_range_end refused a "
			"range (%d): ignored\n",
			ret);
		ret = 0;
	}
	return ret;
}

static inline void umn__linux_end(struct umn_notifier *n,
				  const struct umn_range *r)
{
	struct mmu_notifier *mn = umn__linux_mn(n);

#if UMN__LINUX_413
	mn->ops->invalidate_range_end(mn, mn->mm, r->start, r->end);
#else
	struct mmu_notifier_range k;

	umn__linux_range(&k, mn->mm, r);
	mn->ops->invalidate_range_end(mn, &k);
#endif
}

static inline void umn__linux_tlbs(struct umn_notifier *n, struct umn_mm *mm,
				   unsigned long start, unsigned long end)
{
	struct mmu_notifier *mn = umn__linux_mn(n);

	(void)mm;
	if (mn->ops->invalidate_range)
		mn->ops->invalidate_range(mn, mn->mm, start, end);
#if !UMN__LINUX_413
	if (mn->ops->arch_invalidate_secondary_tlbs)
		mn->ops->arch_invalidate_secondary_tlbs(mn, mn->mm, start, end);
#endif
}

static inline int umn__linux_clear_flush_young(struct umn_notifier *n,
					       struct umn_mm *mm,
					       unsigned long start,
					       unsigned long end)
{
	struct mmu_notifier *mn = umn__linux_mn(n);

	(void)mm;
	return mn->ops->clear_flush_young
		       ? mn->ops->clear_flush_young(mn, mn->mm, start, end)
		       : 0;
}

static inline int umn__linux_clear_young(struct umn_notifier *n,
					 struct umn_mm *mm, unsigned long start,
					 unsigned long end)
{
	struct mmu_notifier *mn = umn__linux_mn(n);

	(void)mm;
	return mn->ops->clear_young
		       ? mn->ops->clear_young(mn, mn->mm, start, end)
		       : 0;
}

/* The kernel's test_young takes one address: asked page by page. */
static inline int umn__linux_test_young(struct umn_notifier *n,
					struct umn_mm *mm, unsigned long start,
					unsigned long end)
{
	struct mmu_notifier *mn = umn__linux_mn(n);
	unsigned long a;
	int young = 0;

	(void)mm;
	if (!mn->ops->test_young)
		return 0;
	for (a = start; a < end && !young; a += UMN_PAGE_SIZE)
		young = mn->ops->test_young(mn, mn->mm, a);
	return young;
}

static inline void umn__linux_change_pte(struct umn_notifier *n,
					 struct umn_mm *mm,
					 unsigned long address,
					 unsigned long pte)
{
	struct mmu_notifier *mn = umn__linux_mn(n);

	(void)mm;
	if (mn->ops->change_pte)
		mn->ops->change_pte(mn, mn->mm, address, pte);
}

static inline void umn__linux_free(struct umn_notifier *n)
{
#if !UMN__LINUX_413
	struct mmu_notifier *mn = umn__linux_mn(n);
	struct mm_struct *mm = mn->mm;

	mn->ops->free_notifier(mn);
	mmdrop(mm); /* register's, held until no callback can run */
#else
	(void)n;
#endif
}

#define UMN__LINUX_OPS(flags_, end_)                               \
	{                                                          \
		.name = "linux", .flags = (flags_),                \
		.release = umn__linux_release,                     \
		.invalidate_range_start = umn__linux_start,        \
		.invalidate_range_end = (end_),                    \
		.invalidate_range = umn__linux_tlbs,               \
		.clear_flush_young = umn__linux_clear_flush_young, \
		.clear_young = umn__linux_clear_young,             \
		.test_young = umn__linux_test_young,               \
		.change_pte = umn__linux_change_pte,               \
		.free_notifier = umn__linux_free,                  \
	}

/* A driver's table with an end; one that has none may refuse a start. */
static const struct umn_notifier_ops umn__linux_ops_end =
	UMN__LINUX_OPS(0, umn__linux_end);
static const struct umn_notifier_ops umn__linux_ops_may_fail =
	UMN__LINUX_OPS(UMN_NOTIFIER_START_MAY_FAIL, NULL);

/* ---- notifiers: the secondary's side ---------------------------------- */

static inline void umn__linux_list_del(struct mmu_notifier *mn)
{
	struct mm_struct *mm = mn->mm;
	struct mmu_notifier **p;

	pthread_mutex_lock(&mm->umn_notifiers_lock);
	for (p = &mm->umn_notifiers; *p; p = &(*p)->umn_next)
		if (*p == mn) {
			*p = mn->umn_next;
			break;
		}
	pthread_mutex_unlock(&mm->umn_notifiers_lock);
}

static inline bool umn__linux_listed(struct mmu_notifier *mn,
				     struct mm_struct *mm)
{
	struct mmu_notifier *p;

	for (p = mm->umn_notifiers; p; p = p->umn_next)
		if (p == mn)
			return true;
	return false;
}

/*
 * Register @mn, not zeroed (its fields are set here), then put it on the
 * mm's list.  With @locked, the list's lock is held across it (_get);
 * otherwise only to add, so that a callback may _put meanwhile.
 */
static inline int umn__linux_register(struct mmu_notifier *mn,
				      struct mm_struct *mm, bool locked)
{
	const struct umn_notifier_ops *ops = &umn__linux_ops_end;
	bool listed;
	int ret;

	if (!mn || !mn->ops || !mm)
		return -EINVAL;
	if (!locked)
		pthread_mutex_lock(&mm->umn_notifiers_lock);
	listed = umn__linux_listed(mn, mm);
	if (!locked)
		pthread_mutex_unlock(&mm->umn_notifiers_lock);
	if (listed)
		return -EBUSY;
	if (!mn->ops->invalidate_range_end)
		ops = &umn__linux_ops_may_fail;
	memset(&mn->umn, 0, sizeof(mn->umn));
	mn->mm = mm;
	mn->users = 1;
	ret = umn_notifier_register(&mn->umn, ops, mm->umn);
	if (ret)
		return ret;
	mmgrab(mm); /* as Linux: until unregister, or put's free */
	if (!locked)
		pthread_mutex_lock(&mm->umn_notifiers_lock);
	mn->umn_next = mm->umn_notifiers;
	mm->umn_notifiers = mn;
	if (!locked)
		pthread_mutex_unlock(&mm->umn_notifiers_lock);
	return 0;
}

/*
 * mmu_notifier_register() - hear every invalidation of @mm through
 * @subscription->ops, set by the caller.  umn_notifier_register().
 *
 * Context: may sleep; not from a callback of @mm.
 * Return: 0 or a negative errno (see above).
 */
static inline int mmu_notifier_register(struct mmu_notifier *subscription,
					struct mm_struct *mm)
{
	return umn__linux_register(subscription, mm, false);
}

/* The same: there is no mmap_lock for the caller to hold. */
static inline int __mmu_notifier_register(struct mmu_notifier *subscription,
					  struct mm_struct *mm)
{
	return mmu_notifier_register(subscription, mm);
}

/*
 * mmu_notifier_unregister() - ->release (unless the mm was released),
 * then stop hearing and wait until no callback runs.
 * umn_notifier_unregister().
 *
 * Context: may sleep; not from a callback of @mm (aborts).
 */
static inline void mmu_notifier_unregister(struct mmu_notifier *subscription,
					   struct mm_struct *mm)
{
	umn__linux_must(subscription->mm == mm
				? umn_notifier_unregister(&subscription->umn)
				: -EINVAL,
			"mmu_notifier_unregister");
	umn__linux_list_del(subscription);
	mmdrop(mm);
}

#if UMN__LINUX_413
/* 4.13: unregister without ->release. */
static inline void mmu_notifier_unregister_no_release(struct mmu_notifier *mn,
						      struct mm_struct *mm)
{
	umn__linux_must(mn->mm == mm
				? umn_notifier_unregister_no_release(&mn->umn)
				: -EINVAL,
			"mmu_notifier_unregister_no_release");
	umn__linux_list_del(mn);
	mmdrop(mm);
}
#else
/*
 * mmu_notifier_get_locked() - the notifier of @ops on @mm: one already
 * registered through this header (its users counted), or a new one from
 * ops->alloc_notifier(), registered.
 *
 * Context: may sleep; not from a callback.
 * Return: the notifier, or an error pointer (umn's errno, or what
 * ->alloc_notifier returned).
 */
static inline struct mmu_notifier *
mmu_notifier_get_locked(const struct mmu_notifier_ops *ops,
			struct mm_struct *mm)
{
	struct mmu_notifier *mn;
	int ret;

	pthread_mutex_lock(&mm->umn_notifiers_lock);
	for (mn = mm->umn_notifiers; mn; mn = mn->umn_next)
		if (mn->ops == ops && mn->users) {
			mn->users++;
			goto out;
		}
	mn = ops->alloc_notifier(mm);
	if ((unsigned long)mn >= (unsigned long)-4095)
		goto out;
	mn->ops = ops;
	ret = umn__linux_register(mn, mm, true);
	if (ret) {
		ops->free_notifier(mn);
		mn = (struct mmu_notifier *)(long)ret;
	}
out:
	pthread_mutex_unlock(&mm->umn_notifiers_lock);
	return mn;
}

/* The same: there is no mmap_lock. */
static inline struct mmu_notifier *
mmu_notifier_get(const struct mmu_notifier_ops *ops, struct mm_struct *mm)
{
	return mmu_notifier_get_locked(ops, mm);
}

/*
 * mmu_notifier_put() - drop a user; the last stops hearing without
 * waiting, and ->free_notifier frees @subscription once no callback can
 * run.  umn_notifier_put().
 *
 * Context: any that may take a mutex for a moment; also from a callback.
 */
static inline void mmu_notifier_put(struct mmu_notifier *subscription)
{
	struct mm_struct *mm = subscription->mm;
	unsigned int users;

	pthread_mutex_lock(&mm->umn_notifiers_lock);
	users = --subscription->users;
	pthread_mutex_unlock(&mm->umn_notifiers_lock);
	if (users)
		return;
	umn__linux_list_del(subscription);
	umn__linux_must(umn_notifier_put(&subscription->umn),
			"mmu_notifier_put");
}

/* Wait for every ->free_notifier queued by mmu_notifier_put(). */
static inline void mmu_notifier_synchronize(void)
{
	umn_rcu_barrier();
}
#endif /* !UMN__LINUX_413 */

#if !UMN__LINUX_413
/* ---- interval notifiers ----------------------------------------------- */

static inline bool umn__linux_invalidate(struct umn_interval_notifier *sub,
					 const struct umn_range *r,
					 unsigned long cur_seq)
{
	struct mmu_interval_notifier *mni =
		umn__linux_of(sub, struct mmu_interval_notifier, umn);
	struct mmu_notifier_range k;

	umn__linux_range(&k, mni->mm, r);
	return mni->ops->invalidate(mni, &k, cur_seq);
}

static const struct umn_interval_notifier_ops umn__linux_interval_ops = {
	.name = "linux",
	.invalidate = umn__linux_invalidate,
};

/*
 * mmu_interval_notifier_insert() - hear the invalidations of
 * [@start, @start + @length) of @mm.  umn_interval_notifier_insert().
 * @interval_sub need not be zeroed (every field is set here).
 *
 * Context: may sleep.  Return: 0 or a negative errno.
 */
static inline int
mmu_interval_notifier_insert(struct mmu_interval_notifier *interval_sub,
			     struct mm_struct *mm, unsigned long start,
			     unsigned long length,
			     const struct mmu_interval_notifier_ops *ops)
{
	int ret;

	if (!interval_sub || !mm || !ops || !ops->invalidate)
		return -EINVAL;
	memset(&interval_sub->umn, 0, sizeof(interval_sub->umn));
	interval_sub->ops = ops;
	interval_sub->mm = mm;
	interval_sub->interval_tree.start = start;
	interval_sub->interval_tree.last = start + length - 1;
	ret = umn_interval_notifier_insert(&interval_sub->umn, mm->umn, start,
					   length, &umn__linux_interval_ops);
	if (ret) {
		interval_sub->mm = NULL; /* as Linux: set only if inserted */
		return ret;
	}
	mmgrab(mm);
	return 0;
}

/* The same: there is no mmap_lock for the caller to hold. */
static inline int
mmu_interval_notifier_insert_locked(struct mmu_interval_notifier *interval_sub,
				    struct mm_struct *mm, unsigned long start,
				    unsigned long length,
				    const struct mmu_interval_notifier_ops *ops)
{
	return mmu_interval_notifier_insert(interval_sub, mm, start, length,
					    ops);
}

/*
 * mmu_interval_notifier_remove() - stop hearing; wait until ->invalidate
 * no longer runs.  umn_interval_notifier_remove().
 *
 * Context: may sleep; not from a callback of the same mm (aborts).
 */
static inline void
mmu_interval_notifier_remove(struct mmu_interval_notifier *interval_sub)
{
	umn__linux_must(umn_interval_notifier_remove(&interval_sub->umn),
			"mmu_interval_notifier_remove");
	mmdrop(interval_sub->mm);
}

/* Begin a lookup in the primary; may sleep while the interval is being
 * invalidated.  umn_interval_read_begin(). */
static inline unsigned long
mmu_interval_read_begin(struct mmu_interval_notifier *interval_sub)
{
	return umn_interval_read_begin(&interval_sub->umn);
}

/* Under the driver's lock, the one ->invalidate takes: true if an
 * invalidation collided since read_begin.  umn_interval_read_retry(). */
static inline bool
mmu_interval_read_retry(struct mmu_interval_notifier *interval_sub,
			unsigned long seq)
{
	return umn_interval_read_retry(&interval_sub->umn, seq);
}

/* Without the lock, a hint: true means a retry is certain.
 * umn_interval_check_retry(). */
static inline bool
mmu_interval_check_retry(struct mmu_interval_notifier *interval_sub,
			 unsigned long seq)
{
	return umn_interval_check_retry(&interval_sub->umn, seq);
}

/* In ->invalidate, under the driver's lock: record @cur_seq.
 * umn_interval_set_seq(). */
static inline void
mmu_interval_set_seq(struct mmu_interval_notifier *interval_sub,
		     unsigned long cur_seq)
{
	umn_interval_set_seq(&interval_sub->umn, cur_seq);
}

/* ---- the primary's side: kernel-style code that changes translations - */

/* May the range's invalidation sleep? */
static inline bool
mmu_notifier_range_blockable(const struct mmu_notifier_range *range)
{
	return range->flags & MMU_NOTIFIER_RANGE_BLOCKABLE;
}

/* Linux 6.3+: no vma argument. */
static inline void
mmu_notifier_range_init_owner(struct mmu_notifier_range *range,
			      enum mmu_notifier_event event, unsigned int flags,
			      struct mm_struct *mm, unsigned long start,
			      unsigned long end, void *owner)
{
	range->mm = mm;
	range->start = start;
	range->end = end;
	range->flags = flags;
	range->event = event;
	range->owner = owner;
}

static inline void mmu_notifier_range_init(struct mmu_notifier_range *range,
					   enum mmu_notifier_event event,
					   unsigned int flags,
					   struct mm_struct *mm,
					   unsigned long start,
					   unsigned long end)
{
	mmu_notifier_range_init_owner(range, event, flags, mm, start, end,
				      NULL);
}

/* The kernel's fields, as the caller left them, into umn's range. */
static inline int umn__linux_start_range(struct mmu_notifier_range *range)
{
	umn_range_init(&range->umn, range->mm->umn, range->start, range->end,
		       range->event, range->flags, range->owner);
	return umn_invalidate_range_start(&range->umn);
}

/* As Linux: the range becomes blockable, and a start cannot fail (a bad
 * range, which umn refuses, aborts). */
static inline void
mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
	range->flags |= MMU_NOTIFIER_RANGE_BLOCKABLE;
	umn__linux_must(umn__linux_start_range(range),
			"mmu_notifier_invalidate_range_start");
}

/* Return: 0; -EAGAIN if a notifier refused (then do not call end). */
static inline int
mmu_notifier_invalidate_range_start_nonblock(struct mmu_notifier_range *range)
{
	range->flags &= ~MMU_NOTIFIER_RANGE_BLOCKABLE;
	return umn__linux_start_range(range);
}

static inline void
mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range)
{
	umn_invalidate_range_end(&range->umn);
}

/* Linux up to 6.5. */
static inline void
mmu_notifier_invalidate_range_only_end(struct mmu_notifier_range *range)
{
	umn_invalidate_range_only_end(&range->umn);
}

/* Linux 6.6+; under the page-table lock. */
static inline void mmu_notifier_arch_invalidate_secondary_tlbs(
	struct mm_struct *mm, unsigned long start, unsigned long end)
{
	umn_invalidate_range(mm->umn, start, end);
}
#endif /* !UMN__LINUX_413 */

static inline int mm_has_notifiers(struct mm_struct *mm)
{
	return umn_mm_has_notifiers(mm->umn);
}

/* Up to 6.5; under the page-table lock. */
static inline void mmu_notifier_invalidate_range(struct mm_struct *mm,
						 unsigned long start,
						 unsigned long end)
{
	umn_invalidate_range(mm->umn, start, end);
}

static inline int mmu_notifier_clear_flush_young(struct mm_struct *mm,
						 unsigned long start,
						 unsigned long end)
{
	return umn_clear_flush_young(mm->umn, start, end);
}

static inline int mmu_notifier_clear_young(struct mm_struct *mm,
					   unsigned long start,
					   unsigned long end)
{
	return umn_clear_young(mm->umn, start, end);
}

/* One address, as Linux; the notifiers get the page around it. */
static inline int mmu_notifier_test_young(struct mm_struct *mm,
					  unsigned long address)
{
	unsigned long start = address & ~(UMN_PAGE_SIZE - 1);

	return umn_test_young(mm->umn, start, start + UMN_PAGE_SIZE);
}

/* 4.13 to 6.8. */
static inline void mmu_notifier_change_pte(struct mm_struct *mm,
					   unsigned long address, pte_t pte)
{
	umn_change_pte(mm->umn, address, pte);
}

/* exit_mmap's call: every notifier's ->release, once.  umn_mm_release(). */
static inline void mmu_notifier_release(struct mm_struct *mm)
{
	umn__linux_must(umn_mm_release(mm->umn), "mmu_notifier_release");
}

/* The events keep the kernel's numbers (a driver may index by them). */
#ifndef __cplusplus
_Static_assert(MMU_NOTIFY_UNMAP == 0 && MMU_NOTIFY_CLEAR == 1 &&
		       MMU_NOTIFY_PROTECTION_VMA == 2 &&
		       MMU_NOTIFY_PROTECTION_PAGE == 3 &&
		       MMU_NOTIFY_SOFT_DIRTY == 4 && MMU_NOTIFY_RELEASE == 5 &&
		       MMU_NOTIFY_MIGRATE == 6 && MMU_NOTIFY_EXCLUSIVE == 7,
	       "enum mmu_notifier_event has the kernel's values");
_Static_assert(MMU_NOTIFIER_RANGE_BLOCKABLE == (1 << 0),
	       "MMU_NOTIFIER_RANGE_BLOCKABLE has the kernel's value");
#endif

#ifdef __cplusplus
}
#endif

#endif /* UMN_LINUX_MMU_NOTIFIER_H */
