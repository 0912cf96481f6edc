/* SPDX-License-Identifier: MIT */
/*
 * umn/debug.h - annotations for a secondary's own code.
 *
 * In a debug build of umn (UMN_DEBUG), a call that may sleep made while a
 * callback runs in atomic context (->invalidate_range, the aging callbacks,
 * ->change_pte, or start and ->invalidate for a non-blockable range) aborts
 * with a report that names the notifier and the call, like Linux's
 * "sleeping function called from invalid context".  umn's own functions
 * that may sleep check it; annotate yours with umn_might_sleep().
 * In a release build these cost one call that does nothing.
 */
#ifndef UMN_DEBUG_H
#define UMN_DEBUG_H

#include <umn/mm.h>

#ifdef __cplusplus
extern "C" {
#endif

UMN_API void umn__might_sleep(const char *file, int line, const char *func);

/* Abort (debug builds) if the calling thread is in atomic context. */
#define umn_might_sleep() umn__might_sleep(__FILE__, __LINE__, __func__)

/**
 * umn_in_atomic() - is the calling thread in atomic context?
 *
 * Context: any.  Return: true inside an atomic callback (debug builds
 * only; always false in release builds).
 */
UMN_API bool umn_in_atomic(void);

#ifdef __cplusplus
}
#endif

#endif /* UMN_DEBUG_H */
