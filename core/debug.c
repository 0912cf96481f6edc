// SPDX-License-Identifier: MIT
/*
 * core/debug.c - per-thread context, reports, and the debug checks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debug.h"
#include "lockdep.h"

_Thread_local struct umn__thread umn__thread;

#ifdef UMN_DEBUG
static const char *const event_names[UMN_EVENT_COUNT] = {
	"UNMAP",      "CLEAR",	 "PROTECTION_VMA", "PROTECTION_PAGE",
	"SOFT_DIRTY", "RELEASE", "MIGRATE",	   "EXCLUSIVE",
};

static const char *event_name(enum umn_event event)
{
	return (unsigned int)event < UMN_EVENT_COUNT ? event_names[event] : "?";
}

#endif /* UMN_DEBUG */

void umn__report(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("umn: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

_Noreturn void umn__bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "umn: BUG at %s:%d: ", file, line);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

#ifdef UMN_DEBUG

void umn__might_sleep(const char *file, int line, const char *func)
{
	if (umn__thread.atomic_notifier)
		umn__bug(file, line,
			 "sleeping function called from invalid context: "
			 "%s() may sleep, but notifier '%s' is running %s "
			 "in atomic context",
			 func, umn__thread.atomic_notifier,
			 umn__thread.atomic_callback);
}

bool umn_in_atomic(void)
{
	return umn__thread.atomic_notifier != NULL;
}

#endif /* UMN_DEBUG */

/*
 * A signal handler may open a bracket of its own between any two
 * instructions here: take the slot first (the count), then fill it, with
 * compiler barriers, so that the handler's bracket lands in the next slot.
 */
void umn__bracket_push(const struct umn_range *range)
{
	struct umn__thread *t = &umn__thread;
	unsigned int n = t->nr_brackets;

	t->nr_brackets = n + 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (n < UMN__MAX_BRACKETS) {
		t->brackets[n].range = range;
#ifdef UMN_DEBUG
		t->brackets[n].copy = *range;
#endif
	} else {
		UMN_WARN_ON(1,
			    "more than %d start/end brackets open on one "
			    "thread (a missing umn_invalidate_range_end?)",
			    UMN__MAX_BRACKETS);
	}
}

void umn__bracket_pop(const struct umn_range *range)
{
	struct umn__thread *t = &umn__thread;

	(void)range;
	UMN_WARN_ON(!t->nr_brackets,
		    "umn_invalidate_range_end([%#lx, %#lx) %s) without a start "
		    "on this thread",
		    range->start, range->end, event_name(range->event));
#ifdef UMN_DEBUG
	const struct umn_range *c = &t->brackets[t->nr_brackets - 1].copy;

	if (t->brackets[t->nr_brackets - 1].range != range ||
	    c->mm != range->mm || c->start != range->start ||
	    c->end != range->end || c->event != range->event ||
	    c->flags != range->flags)
		UMN_BUG("umn_invalidate_range_end([%#lx, %#lx) %s) does not "
			"match the start open on this thread ([%#lx, %#lx) %s)",
			range->start, range->end, event_name(range->event),
			c->start, c->end, event_name(c->event));
#endif
	if (t->nr_brackets) {
		if (t->nr_brackets <= UMN__MAX_BRACKETS) {
			t->brackets[t->nr_brackets - 1].range = NULL;
#ifdef UMN_DEBUG
			t->brackets[t->nr_brackets - 1].copy.mm = NULL;
#endif
		}
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		t->nr_brackets--;
	}
}

const struct umn_range *umn__bracket_of(const struct umn_mm *mm)
{
	const struct umn__thread *t = &umn__thread;
	unsigned int i = t->nr_brackets;

	if (i > UMN__MAX_BRACKETS)
		i = UMN__MAX_BRACKETS;
	while (i--) /* NULL: a slot taken, not filled yet (a signal) */
		if (t->brackets[i].range && t->brackets[i].range->mm == mm)
			return t->brackets[i].range;
	return NULL;
}

#ifdef UMN_DEBUG

void umn__bracket_check_inside(const struct umn_mm *mm, unsigned long start,
			       unsigned long end, const char *call)
{
	const struct umn__thread *t = &umn__thread;
	unsigned int i;

	for (i = 0; i < t->nr_brackets && i < UMN__MAX_BRACKETS; i++) {
		const struct umn_range *c = &t->brackets[i].copy;

		if (c->mm == mm && c->start <= start && end <= c->end)
			return;
	}
	UMN_BUG("%s([%#lx, %#lx)) outside any start/end bracket of this mm "
		"on this thread",
		call, start, end);
}

#else /* !UMN_DEBUG */

void umn__might_sleep(const char *file, int line, const char *func)
{
	(void)file;
	(void)line;
	(void)func;
}

bool umn_in_atomic(void)
{
	return false;
}

#endif /* UMN_DEBUG */

#ifdef UMN_DEBUG

/*
 * The locks this thread holds (core/lockdep.h).  A signal handler may take
 * and release locks of its own between any two instructions here, always
 * in pairs: take the slot first (the count), then fill it, as the
 * brackets do.
 */
static _Thread_local struct {
	unsigned int n;
	struct umn__held_lock {
		const void *lock;
		const char *name;
		enum umn__lock_mode mode;
	} held[UMN__HELD_LOCKS];
} locks;

void umn__lock_acquired(const void *lock, const char *name,
			enum umn__lock_mode mode)
{
	unsigned int n = locks.n;

	if (n == UMN__HELD_LOCKS)
		UMN_BUG("more than %d locks held by one thread, taking %s",
			UMN__HELD_LOCKS, name);
	locks.n = n + 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	locks.held[n] = (struct umn__held_lock){ lock, name, mode };
}

static int held_index(const void *lock)
{
	unsigned int i = locks.n;

	while (i--)
		if (locks.held[i].lock == lock)
			return (int)i;
	return -1;
}

void umn__lock_released(const void *lock, const char *name)
{
	int i = held_index(lock);
	unsigned int last = locks.n - 1;

	if (i < 0)
		UMN_BUG("releasing %s, which this thread does not hold", name);
	locks.held[i] = locks.held[last];
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	locks.n = last;
}

bool umn__lock_held(const void *lock, enum umn__lock_mode mode)
{
	int i = held_index(lock);

	return i >= 0 && locks.held[i].mode >= mode;
}

bool umn__lock_class_held(const char *name)
{
	unsigned int i;

	for (i = 0; i < locks.n; i++)
		if (!strcmp(locks.held[i].name, name))
			return true;
	return false;
}

_Noreturn void umn__lock_bug(const char *file, int line, const char *func,
			     const char *name, enum umn__lock_mode mode)
{
	umn__bug(file, line, "%s() called without %s held%s", func, name,
		 mode == UMN__LOCK_EXCL ? " exclusively" : "");
}

#endif /* UMN_DEBUG */
