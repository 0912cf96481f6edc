/* SPDX-License-Identifier: MIT */
/*
 * core/fail.h - failure points, as SQLite has them: every allocation of
 * umn, and every system call it can fail cleanly on, passes through
 * umn__fail_here(), so that a test can make the Nth one fail, or every
 * Nth, and check that each public call then either succeeds or fails
 * cleanly, leaking nothing and leaving every structure valid.
 *
 * Disarmed, a failure point is one predictable branch on a global that no
 * one writes.  Not installed; the tests reach it through the static
 * library.
 */
#ifndef UMN_CORE_FAIL_H
#define UMN_CORE_FAIL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * umn__fail_arm() - make failure point number @nth (1: the next one) fail,
 * and then every @every-th after it (0: only that one).  @nth 0 disarms.
 * umn__fail_passed() - how many failure points were passed since the last
 * arming (failed ones included): a sweep arms 1, 2, ... up to it.
 * Process-wide; for tests, which run one at a time.
 */
void umn__fail_arm(unsigned long nth, unsigned long every);
unsigned long umn__fail_passed(void);
unsigned long umn__fail_failed(void);

extern bool umn__fail_armed;
bool umn__fail_count(void);

/* True if the caller must act as if its allocation or call failed. */
static inline bool umn__fail_here(void)
{
	return __builtin_expect(
		       __atomic_load_n(&umn__fail_armed, __ATOMIC_RELAXED),
		       0) &&
	       umn__fail_count();
}

void *umn__malloc(size_t size);
void *umn__calloc(size_t n, size_t size);
void *umn__realloc(void *p, size_t size);

#endif /* UMN_CORE_FAIL_H */
