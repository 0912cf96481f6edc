/* SPDX-License-Identifier: MIT */
/*
 * core/rcu.h - umn's use of user-space RCU (liburcu).
 *
 * Flavour: urcu-bp ("bulletproof").  The readers are the primary's threads:
 * any thread of any program (in the process primary, whatever thread calls
 * munmap), created by code that knows nothing of umn and cannot be asked to
 * call rcu_register_thread() or to unregister before it exits.  urcu-bp
 * registers a thread on its first read-side lock and reclaims it when the
 * thread exits; with sys_membarrier (Linux >= 4.3) its read side is a
 * thread-local store and a compiler barrier, as cheap as urcu-memb's.  Read
 * sections may block, like SRCU's, which the kernel uses here.
 *
 * A primary's thread holds the read lock from umn_invalidate_range_start()
 * to umn_invalidate_range_end(): a grace period therefore waits for every
 * bracket in flight, which is what register and unregister need.
 *
 * ThreadSanitizer cannot see the ordering that membarrier and liburcu's own
 * atomics give.  In TSan builds every read-side unlock is a release and
 * every grace period an acquire on one token, which is exactly the
 * happens-before RCU guarantees.
 */
#ifndef UMN_CORE_RCU_H
#define UMN_CORE_RCU_H

#if defined(__SANITIZE_THREAD__)
#define UMN__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UMN__TSAN 1
#endif
#endif

/*
 * The read side inline (liburcu's static API, for LGPL-compatible code:
 * umn's MIT licence is), so that a lookup's read section is a few
 * instructions and not two calls into liburcu-bp, each with its own
 * __tls_get_addr.  Not under the sanitizers: TSan must not see
 * liburcu's own unannotated accesses in instrumented code, and UBSan
 * reports liburcu-bp's readers as misaligned for their declared type.
 */
#if defined(__SANITIZE_ADDRESS__)
#define UMN__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UMN__ASAN 1
#endif
#endif
#if !defined(UMN__TSAN) && !defined(UMN__ASAN) && !defined(_LGPL_SOURCE)
#define _LGPL_SOURCE
#endif
#include <urcu/urcu-bp.h>

/* The one synchronisation object every grace period acquires. */
extern char umn__rcu_token;

#ifdef UMN__TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define umn__tsan_acquire(p) __tsan_acquire(p)
#define umn__tsan_release(p) __tsan_release(p)
#else
#define umn__tsan_acquire(p) ((void)(p))
#define umn__tsan_release(p) ((void)(p))
#endif

static inline void umn__rcu_read_lock(void)
{
	urcu_bp_read_lock();
}

static inline void umn__rcu_read_unlock(void)
{
#ifdef UMN__TSAN
	__tsan_release(&umn__rcu_token);
#endif
	urcu_bp_read_unlock();
}

static inline int umn__rcu_read_ongoing(void)
{
	return urcu_bp_read_ongoing();
}

static inline void umn__synchronize_rcu(void)
{
	urcu_bp_synchronize_rcu();
#ifdef UMN__TSAN
	__tsan_acquire(&umn__rcu_token);
#endif
}

#endif /* UMN_CORE_RCU_H */
