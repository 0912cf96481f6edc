/* SPDX-License-Identifier: MIT */
/*
 * primaries/proc/proc.h - the process as primary MMU: shared between its
 * files.  Not installed.
 *
 *   proc.c	the state: the mm, the sources' switches, fork, causes.
 *   hooks.c	the replacements of libc's calls: start, the system call,
 *		invalidate_range and end, in the caller's thread.
 *   patch.c	x86-64 entry-point patching of libc, safe while threads run.
 *   uffd.c	the userfaultfd source: registration, reader, dispatcher.
 */
#ifndef UMN_PROC_INTERNAL_H
#define UMN_PROC_INTERNAL_H

#include <stdbool.h>
#include <umn/proc.h>

/* The cause of a bracket, carried in umn_range.owner. */
struct proc_cause {
	unsigned int magic; /* PROC_CAUSE_MAGIC */
	struct umn_proc_cause cause;
};
#define PROC_CAUSE_MAGIC 0x756d6e70U

/* proc.c */
struct umn_mm *proc_mm_if(unsigned int source); /* NULL if source is off */
void proc_count(unsigned int source);
void proc_bracket(struct umn_mm *mm, unsigned long start, unsigned long end,
		  enum umn_event event, struct proc_cause *cause);

/* hooks.c: the table of calls to patch. */
struct proc_hook {
	const char *name; /* libc's symbol */
	void *hook;	  /* our replacement, same signature */
};
extern const struct proc_hook proc_hooks[];
extern const unsigned int proc_nhooks;
void proc_hooks_init(void);   /* at start: read what the hooks need */
void proc_hooks_forget(void); /* in a forked child */
int proc_maps_each(void (*fn)(const char *line, void *arg), void *arg);

/* patch.c: route each libc entry point to its hook.  0 or -errno. */
int proc_patch_libc(void);

/* uffd.c */
int proc_uffd_start(struct umn_mm *mm);
void proc_uffd_watch(unsigned long start, unsigned long end);
bool proc_uffd_unwatch(unsigned long start, unsigned long end);
void proc_uffd_after(unsigned long start, unsigned long end);
void proc_uffd_watch_new(unsigned long start, unsigned long end);
void proc_uffd_watch_all(void);
void proc_uffd_watch_heard(unsigned long start, unsigned long end);
int proc_uffd_sync(void);
void proc_uffd_forget(void); /* in a forked child: the monitor is gone */
void proc_uffd_stats(struct umn_proc_stats *stats);

#endif /* UMN_PROC_INTERNAL_H */
