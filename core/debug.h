/* SPDX-License-Identifier: MIT */
/*
 * core/debug.h - the core's per-thread context and debug checks.
 *
 * Always on (cheap, and needed in every build): the mm whose callbacks the
 * thread is running, and the start/end brackets open on the thread.  They
 * let umn refuse a call that would wait for the thread itself, and give
 * invalidate_range the chain generation its bracket started with.
 *
 * On in debug builds (UMN_DEBUG), compiled out otherwise:
 *   - atomic context: who runs which atomic callback, for might_sleep;
 *   - each end matches its start (same object, same values), and
 *     invalidate_range and change_pte come inside a bracket.
 */
#ifndef UMN_CORE_DEBUG_H
#define UMN_CORE_DEBUG_H

#include "internal.h"

/* How deep start/end brackets are recorded per thread. */
#define UMN__MAX_BRACKETS 16

struct umn__thread {
	const struct umn_mm *callback_mm; /* callbacks of it run here */
	unsigned int nr_brackets;	  /* open; past the array: unrecorded */
	struct umn__bracket {
		const struct umn_range *range;
#ifdef UMN_DEBUG
		struct umn_range copy; /* what start saw, for end to match */
#endif
	} brackets[UMN__MAX_BRACKETS];
#ifdef UMN_DEBUG
	const char *atomic_notifier; /* NULL unless in atomic context */
	const char *atomic_callback;
#endif
};

extern _Thread_local struct umn__thread umn__thread;

/* Print a report of a misuse that umn refused (all builds). */
void umn__report(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), cold));

/* A broken invariant: print where and what, then abort. */
_Noreturn void umn__bug(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), cold));

#define UMN_BUG(...) umn__bug(__FILE__, __LINE__, __VA_ARGS__)

static inline const struct umn_mm *umn__callback_enter(const struct umn_mm *mm)
{
	const struct umn_mm *prev = umn__thread.callback_mm;

	umn__thread.callback_mm = mm;
	return prev;
}

static inline void umn__callback_exit(const struct umn_mm *prev)
{
	umn__thread.callback_mm = prev;
}

/* Record the bracket @range, just started on this thread (all builds). */
void umn__bracket_push(const struct umn_range *range);
/* ... and its end (debug builds check that it matches the start). */
void umn__bracket_pop(const struct umn_range *range);
/* The innermost bracket of @mm open on this thread, or NULL. */
const struct umn_range *umn__bracket_of(const struct umn_mm *mm);

/* Would waiting for @mm's invalidations wait for this very thread? */
static inline bool umn__in_context_of(const struct umn_mm *mm)
{
	return umn__thread.callback_mm == mm || umn__bracket_of(mm);
}

static inline const char *umn__name(const char *name)
{
	return name ? name : "(unnamed)";
}

#ifdef UMN_DEBUG

#define UMN_WARN_ON(cond, ...)                \
	do {                                  \
		if (cond)                     \
			UMN_BUG(__VA_ARGS__); \
	} while (0)

struct umn__atomic_save {
	const char *notifier, *callback;
};

static inline struct umn__atomic_save umn__atomic_enter(const char *notifier,
							const char *callback)
{
	struct umn__atomic_save save = { umn__thread.atomic_notifier,
					 umn__thread.atomic_callback };

	umn__thread.atomic_notifier = umn__name(notifier);
	umn__thread.atomic_callback = callback;
	return save;
}

static inline void umn__atomic_exit(struct umn__atomic_save save)
{
	umn__thread.atomic_notifier = save.notifier;
	umn__thread.atomic_callback = save.callback;
}

void umn__bracket_check_inside(const struct umn_mm *mm, unsigned long start,
			       unsigned long end, const char *call);

#else /* !UMN_DEBUG */

#define UMN_WARN_ON(cond, ...) ((void)0)

struct umn__atomic_save {
	char unused;
};

static inline struct umn__atomic_save umn__atomic_enter(const char *notifier,
							const char *callback)
{
	(void)notifier;
	(void)callback;
	return (struct umn__atomic_save){ 0 };
}

static inline void umn__atomic_exit(struct umn__atomic_save save)
{
	(void)save;
}

static inline void umn__bracket_check_inside(const struct umn_mm *mm,
					     unsigned long start,
					     unsigned long end,
					     const char *call)
{
	(void)mm;
	(void)start;
	(void)end;
	(void)call;
}

#endif /* UMN_DEBUG */

#define umn__might_sleep_here() umn__might_sleep(__FILE__, __LINE__, __func__)

#endif /* UMN_CORE_DEBUG_H */
