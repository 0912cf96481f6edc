// SPDX-License-Identifier: MIT
/*
 * core/fail.c - failure points (core/fail.h).
 */
#include <stdlib.h>

#include "fail.h"

bool umn__fail_armed;
static unsigned long fail_nth, fail_every, passed, failed;

void umn__fail_arm(unsigned long nth, unsigned long every)
{
	__atomic_store_n(&fail_nth, nth, __ATOMIC_RELAXED);
	__atomic_store_n(&fail_every, every, __ATOMIC_RELAXED);
	__atomic_store_n(&passed, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&failed, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&umn__fail_armed, true, __ATOMIC_RELEASE);
}

unsigned long umn__fail_passed(void)
{
	return __atomic_load_n(&passed, __ATOMIC_RELAXED);
}

unsigned long umn__fail_failed(void)
{
	return __atomic_load_n(&failed, __ATOMIC_RELAXED);
}

/*
 * Armed: count this point; does it fail?  umn__fail_here() tests the flag
 * with a relaxed load (one branch when disarmed), which orders nothing on
 * a weakly ordered machine: the acquire here pairs with umn__fail_arm()'s
 * release, so that a thread other than the arming one reads the settings
 * it stored, not older ones.
 */
bool umn__fail_count(void)
{
	unsigned long n, nth, every;
	bool fail;

	if (!__atomic_load_n(&umn__fail_armed, __ATOMIC_ACQUIRE))
		return false;
	n = __atomic_add_fetch(&passed, 1, __ATOMIC_RELAXED);
	nth = __atomic_load_n(&fail_nth, __ATOMIC_RELAXED);
	every = __atomic_load_n(&fail_every, __ATOMIC_RELAXED);
	fail = nth &&
	       (n == nth || (every && n > nth && (n - nth) % every == 0));
	if (fail)
		__atomic_add_fetch(&failed, 1, __ATOMIC_RELAXED);
	return fail;
}

void *umn__malloc(size_t size)
{
	return umn__fail_here() ? NULL : malloc(size);
}

void *umn__calloc(size_t n, size_t size)
{
	return umn__fail_here() ? NULL : calloc(n, size);
}

void *umn__realloc(void *p, size_t size)
{
	return umn__fail_here() ? NULL : realloc(p, size);
}
