/* SPDX-License-Identifier: MIT */
/*
 * core/lockdep.h - lock rules as checks.  Not installed.
 *
 * A comment that says a function runs "under" a lock is checked in debug
 * builds (UMN_DEBUG), as Linux checks it with lockdep_assert_held: each
 * thread records the locks it holds (taken through the helpers below), and
 * umn__lock_assert_held() aborts through umn__bug() naming the function
 * and the lock when the calling thread does not hold it.  Release builds
 * compile all of it away: the helpers are the bare pthread calls and the
 * assertions nothing.
 *
 * The record is per thread and holds up to UMN__HELD_LOCKS locks; taking
 * one more, or releasing a lock the thread does not hold, is a bug too.
 * A lock class is a name ("ptl"): umn__lock_assert_class_held() checks
 * that the thread holds some lock of that class, for a rule that does not
 * name the instance ("under a page-table lock").
 */
#ifndef UMN_CORE_LOCKDEP_H
#define UMN_CORE_LOCKDEP_H

#include <pthread.h>
#include <stdbool.h>

enum umn__lock_mode {
	UMN__LOCK_SHARED = 1, /* a read lock */
	UMN__LOCK_EXCL = 2,   /* a mutex, spinlock or write lock */
};

#ifdef UMN_DEBUG

#define UMN__HELD_LOCKS 24

/* This thread took / is about to release @lock, named @name. */
void umn__lock_acquired(const void *lock, const char *name,
			enum umn__lock_mode mode);
void umn__lock_released(const void *lock, const char *name);
/* Does this thread hold @lock in @mode (SHARED: in either mode)? */
bool umn__lock_held(const void *lock, enum umn__lock_mode mode);
/* ... some lock of class @name? */
bool umn__lock_class_held(const char *name);
_Noreturn void umn__lock_bug(const char *file, int line, const char *func,
			     const char *name, enum umn__lock_mode mode);

#define umn__lock_assert_held(lock, name, mode)                           \
	do {                                                              \
		if (!umn__lock_held((const void *)(lock), mode))          \
			umn__lock_bug(__FILE__, __LINE__, __func__, name, \
				      mode);                              \
	} while (0)

#define umn__lock_assert_class_held(name)                                 \
	do {                                                              \
		if (!umn__lock_class_held(name))                          \
			umn__lock_bug(__FILE__, __LINE__, __func__, name, \
				      UMN__LOCK_SHARED);                  \
	} while (0)

#else /* !UMN_DEBUG */

static inline void umn__lock_acquired(const void *lock, const char *name,
				      enum umn__lock_mode mode)
{
	(void)lock, (void)name, (void)mode;
}

static inline void umn__lock_released(const void *lock, const char *name)
{
	(void)lock, (void)name;
}

#define umn__lock_assert_held(lock, name, mode) ((void)0)
#define umn__lock_assert_class_held(name)	((void)0)

#endif /* UMN_DEBUG */

/* The pthread locks, recorded.  @name names the lock in reports. */
static inline void umn__mutex_lock(pthread_mutex_t *l, const char *name)
{
	pthread_mutex_lock(l);
	umn__lock_acquired((const void *)l, name, UMN__LOCK_EXCL);
}

static inline void umn__mutex_unlock(pthread_mutex_t *l, const char *name)
{
	umn__lock_released((const void *)l, name);
	pthread_mutex_unlock(l);
}

static inline void umn__spin_lock(pthread_spinlock_t *l, const char *name)
{
	pthread_spin_lock(l);
	umn__lock_acquired((const void *)l, name, UMN__LOCK_EXCL);
}

static inline void umn__spin_unlock(pthread_spinlock_t *l, const char *name)
{
	umn__lock_released((const void *)l, name);
	pthread_spin_unlock(l);
}

static inline void umn__read_lock(pthread_rwlock_t *l, const char *name)
{
	pthread_rwlock_rdlock(l);
	umn__lock_acquired(l, name, UMN__LOCK_SHARED);
}

static inline void umn__write_lock(pthread_rwlock_t *l, const char *name)
{
	pthread_rwlock_wrlock(l);
	umn__lock_acquired((const void *)l, name, UMN__LOCK_EXCL);
}

static inline void umn__rw_unlock(pthread_rwlock_t *l, const char *name)
{
	umn__lock_released((const void *)l, name);
	pthread_rwlock_unlock(l);
}

#endif /* UMN_CORE_LOCKDEP_H */
