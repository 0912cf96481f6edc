/* SPDX-License-Identifier: MIT */
/*
 * umn/proc.h - the calling process itself as a primary MMU.
 *
 * umn_proc_start() gives the process one struct umn_mm, on which classic
 * and interval notifiers register as on any mm, and installs the event
 * sources that fire its brackets when the process's own mappings change:
 *
 * UMN_PROC_HOOKS	libc's munmap, mremap, madvise, mmap (MAP_FIXED),
 *			brk (so sbrk), shmat (SHM_REMAP) and shmdt are
 *			patched at their entry point, so every call through
 *			libc, glibc's own (free, realloc, malloc_trim) and
 *			those of libraries loaded later, is seen.  Start runs
 *			in the calling thread before the system call, then
 *			invalidate_range and end after it: Linux's order.
 * UMN_PROC_UFFD	userfaultfd's UNMAP, REMOVE and REMAP events, for what
 *			bypasses libc (raw syscall(), static code).  Ranges
 *			are registered with userfaultfd when an interval
 *			notifier is inserted over them, in write-protect mode
 *			without ever write-protecting, so no page fault goes
 *			to umn.  The events arrive after (UNMAP, REMAP) or
 *			while (REMOVE) the kernel acts; umn's monitor thread
 *			runs the whole bracket then.
 *
 * docs/proc.md tables what each source sees and misses, and the window the
 * kernel-side source leaves open.  Sources are never unpatched; stopping
 * one only switches it off.
 *
 * A forked child starts with no notifiers and no sources (as in Linux, the
 * child is a new mm); it may call umn_proc_start() again.  exec keeps
 * nothing.
 */
#ifndef UMN_PROC_H
#define UMN_PROC_H

#include <stdbool.h>
#include <sys/types.h>
#include <umn/mm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Event sources (a bit mask). */
#define UMN_PROC_HOOKS (1U << 0) /* libc entry points, caller's thread */
#define UMN_PROC_UFFD  (1U << 1) /* userfaultfd events, monitor thread */
#define UMN_PROC_ALL   (UMN_PROC_HOOKS | UMN_PROC_UFFD)

/**
 * umn_proc_start() - start the process mm and switch sources on.
 * @sources:	a mask of UMN_PROC_*; UMN_PROC_ALL asks for every source
 *		and is satisfied by those that work here.
 *
 * Safe while other threads run; idempotent.  A source that was asked for
 * one by one (not through UMN_PROC_ALL) and cannot start is an error, and
 * nothing changes.  The environment variable UMN_PROC_SOURCES ("hooks",
 * "uffd", "hooks,uffd", "all" or "none"), when set, replaces @sources:
 * each source a list names must start; "all" is UMN_PROC_ALL.
 *
 * Context: may sleep; not from a notifier callback or a signal handler.
 * Return: the mask of sources now on (> 0, unless @sources, or
 * UMN_PROC_SOURCES, asks for none: then what was on already); -EINVAL for an unknown bit or a bad (or empty)
 * UMN_PROC_SOURCES; -ENOSYS if a source asked for by itself cannot work
 * here (a libc entry point umn does not recognise, no userfaultfd);
 * -EPERM; -ENOMEM; -EAGAIN (no monitor thread); -EMFILE, -ENFILE.
 */
UMN_API int umn_proc_start(unsigned int sources);

/**
 * umn_proc_stop() - switch sources off (they stay installed, idle).
 * @sources:	a mask of UMN_PROC_*.
 *
 * When it returns, no bracket that a switched-off source begins later
 * exists; brackets already begun end normally.
 *
 * Context: may sleep; not from a notifier callback or a signal handler.
 * Return: the mask still on; -EINVAL for a bit outside UMN_PROC_ALL
 * (nothing is switched off).
 */
UMN_API int umn_proc_stop(unsigned int sources);

/**
 * umn_proc_mm() - the process's mm.
 *
 * Return: the mm (the process holds the reference; do not put it), or NULL
 * before umn_proc_start() in this process image.
 */
UMN_API struct umn_mm *umn_proc_mm(void);

/**
 * umn_proc_sources() - the mask of sources on now.  Context: any.
 */
UMN_API unsigned int umn_proc_sources(void);

/**
 * struct umn_proc_cause - what caused a bracket on the process mm.
 * @call:	the libc call ("munmap", "mremap", "madvise", "mmap", "brk",
 *		"shmat", "shmdt"), or for userfaultfd the kernel's event
 *		("uffd-unmap", "uffd-remove", "uffd-remap").
 * @kind:	what happens to the range: "unmap", "remap", "discard"
 *		(madvise DONTNEED, FREE, REMOVE), "reclaim" (PAGEOUT),
 *		"migrate" (COLLAPSE, SOFT_OFFLINE), "replace" (MAP_FIXED,
 *		SHM_REMAP, mremap's destination), "shrink" (brk).
 * @source:	UMN_PROC_HOOKS or UMN_PROC_UFFD.
 * @tid:	the thread that made the call; for userfaultfd, which does
 *		not say, 0.
 */
struct umn_proc_cause {
	const char *call;
	const char *kind;
	unsigned int source;
	pid_t tid;
};

/**
 * umn_proc_cause() - why the process mm is invalidating @range.
 * @range:	a range given to a callback of a notifier on umn_proc_mm().
 * @cause:	out.
 *
 * Context: any, inside the callback.  Return: 0; -EINVAL if @range or
 * @cause is NULL, or @range was not fired by a source of this process.
 */
UMN_API int umn_proc_cause(const struct umn_range *range,
			   struct umn_proc_cause *cause);

/**
 * struct umn_proc_stats - counters since umn_proc_start().
 * @brackets:	brackets fired, per source (index: 0 hooks, 1 uffd).
 * @uffd_ranges:	ranges registered with userfaultfd.
 * @uffd_refused:	ranges userfaultfd refused (file-backed mappings,
 *		one already registered elsewhere); only the hooks see them.
 * @uffd_overflows:	times the monitor's queue overflowed and merged
 *		events into one wider range.
 */
struct umn_proc_stats {
	unsigned long brackets[2];
	unsigned long uffd_ranges;
	unsigned long uffd_refused;
	unsigned long uffd_overflows;
};

UMN_API void umn_proc_stats(struct umn_proc_stats *stats);

/**
 * umn_proc_uffd_sync() - wait until the monitor has dispatched every
 * userfaultfd event the kernel queued before this call.
 *
 * For tests and for umn-watch at exit.  Context: may sleep; not from a
 * callback.  Return: 0; -ENOTCONN if the userfaultfd source is off.
 */
UMN_API int umn_proc_uffd_sync(void);

#ifdef __cplusplus
}
#endif

#endif /* UMN_PROC_H */
