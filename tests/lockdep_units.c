// SPDX-License-Identifier: MIT
/*
 * tests/lockdep_units.c - reach the static functions whose rule is a lock,
 * so that tests/check_debug.c can call them without it.  The sources are
 * included, as kernel unit tests include the file they test: in umn-tests
 * this file stands in for the library's objects of these two files (the
 * registration cache's rule is an internal call of the library's).
 */
#include "../consumers/regcache_internal.h"
#include "../core/interval.c"
#include "../primaries/proc/uffd.c"
#include "harness.h"

void unit_set_mm_seq(struct umn_mm *mm)
{
	set_mm_seq(mm, mm->invalidate_seq);
}

void unit_retire_locked(struct umn_regcache *rc)
{
	static struct retire node;

	retire_locked(rc, &node, NULL);
}

void unit_push(void)
{
	push((struct event){ 0, 0, EV_SYNC });
}
