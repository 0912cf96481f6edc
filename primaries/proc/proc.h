/* SPDX-License-Identifier: MIT */
/*
 * primaries/proc/proc.h - the process as primary MMU: shared between its
 * files.  Not installed.
 *
 *   proc.c	the state: the mm, the sources' switches, fork, causes.
 *   hooks.c	the replacements of libc's calls: start, the system call,
 *		invalidate_range and end, in the caller's thread.
 *   patch.c	patching libc, safe while threads run: the driver (patch.h);
 *		patch-x86_64.c and patch-aarch64.c, each architecture's way.
 *   uffd.c	the userfaultfd source: registration, reader, dispatcher.
 */
#ifndef UMN_PROC_INTERNAL_H
#define UMN_PROC_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <umn/proc.h>

#include "../../core/lockdep.h"

/* The cause of a bracket, carried in umn_range.owner. */
struct proc_cause {
	unsigned int magic; /* PROC_CAUSE_MAGIC */
	struct umn_proc_cause cause;
};
#define PROC_CAUSE_MAGIC 0x756d6e70U

/* proc.c */
struct umn_mm *umn__proc_mm_if(unsigned int source); /* NULL if source is off */
void umn__proc_count(unsigned int source);
void umn__proc_bracket(struct umn_mm *mm, unsigned long start,
		       unsigned long end, enum umn_event event,
		       struct proc_cause *cause);

/* hooks.c: the table of calls to patch. */
struct proc_hook {
	const char *name;     /* libc's symbol */
	void *hook;	      /* our replacement, same signature (x86-64) */
	void *raw;	      /* the same at the system call (aarch64): the
			     call's arguments, the kernel's answer (-errno) */
	long nr;	      /* the system call's number */
	bool (*usable)(void); /* optional hooks: can it work here?  If not,
				 or if it cannot be patched, it is left
				 out; NULL: required */
};
extern const struct proc_hook umn__proc_hooks[];
extern const unsigned int umn__proc_nhooks;
void umn__proc_hooks_init(void);   /* at start: read what the hooks need */
void umn__proc_hooks_forget(void); /* in a forked child */
int umn__proc_maps_each(void (*fn)(const char *line, void *arg), void *arg);

/* patch.c: is @hook's patch in? */
bool umn__proc_patched(const void *hook);

/* signals.c: libc's sigaction, hooked (optional; x86-64) so that the
 * program's handlers run under a wrapper that defers signals inside a
 * hold, which then costs no system call. */
bool umn__proc_signals_usable(void);
int umn__proc_hook_sigaction(int sig, const struct sigaction *act,
			     struct sigaction *old);
void umn__proc_signals_start(void); /* once the hook is in */
void umn__proc_signals_forget_in_child(void);

/* Debug builds: abort unless this thread holds umn_proc_start()'s lock. */
#ifdef UMN_DEBUG
bool umn__proc_start_held(void);
#define umn__proc_assert_start_held()                                \
	do {                                                         \
		if (!umn__proc_start_held())                         \
			umn__lock_bug(__FILE__, __LINE__, __func__,  \
				      "start_lock", UMN__LOCK_EXCL); \
	} while (0)
#else
#define umn__proc_assert_start_held() ((void)0)
#endif

/* patch.c: route each libc entry point to its hook.  0 or -errno. */
int umn__proc_patch_libc(void);

/* uffd.c */
int umn__proc_uffd_start(struct umn_mm *mm);
void umn__proc_uffd_watch(unsigned long start, unsigned long end);
bool umn__proc_uffd_unwatch(unsigned long start, unsigned long end);
void umn__proc_uffd_after(unsigned long start, unsigned long end,
			  bool unmapped);
void umn__proc_uffd_watch_new(unsigned long start, unsigned long end);
void umn__proc_uffd_watch_all(void);
void umn__proc_uffd_watch_heard(unsigned long start, unsigned long end);
int umn__proc_uffd_sync(void);
void umn__proc_uffd_forget(void); /* in a forked child: the monitor is gone */
void umn__proc_uffd_stats(struct umn_proc_stats *stats);

#endif /* UMN_PROC_INTERNAL_H */
