// SPDX-License-Identifier: MIT
/*
 * tools/findings.c - what a torture run's oracle found (see findings.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "findings.h"

void findings_add(struct findings *f, const char *fmt, ...)
{
	va_list ap;

	if (__atomic_fetch_add(&f->count, 1, __ATOMIC_RELAXED) == 0) {
		va_start(ap, fmt);
		vsnprintf(f->first, sizeof(f->first), fmt, ap);
		va_end(ap);
	}
	findings_stop(f);
}

void findings_stop(struct findings *f)
{
	__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
}

bool findings_stopping(const struct findings *f)
{
	return __atomic_load_n(&f->stop, __ATOMIC_ACQUIRE);
}
