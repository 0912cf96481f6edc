/* SPDX-License-Identifier: MIT */
/*
 * tools/watch.h - what the parts of umn-watch share; private to the
 * launcher (not installed).
 *
 *  umn-watch.c       the command line, the child's launch, the main loop
 *  watch-report.c    the records: lines, JSON, tallies and the summary
 *  watch-filter.c    the seccomp filter: its rules, BPF, installing it
 *  watch-ranges.c    the ranges a stopped system call invalidates
 *  watch-supervisor.c  the stopped calls: answer, merge, record
 *
 * One thread does everything; nothing here is thread-safe.
 */
#ifndef UMN_TOOLS_WATCH_H
#define UMN_TOOLS_WATCH_H

#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/types.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* watch-report.c */

/* One invalidation, as reported. */
struct ev {
	long pid, tid;
	unsigned long start, end;
	char umn_event[24], event[16], call[24], source[16], syscall[24];
};

/* What the supervisor did, for the summary. */
struct sup_stats {
	unsigned long stopped;	/* notifications answered */
	unsigned long merged;	/* ranges the hooks reported too */
	unsigned long alone;	/* ranges only the supervisor saw */
	unsigned long unmerged; /* hook records no system call matched */
	unsigned long vanished; /* callers gone before we could read them */
};

extern bool quiet;	/* --quiet: the summary only */
extern FILE *json;	/* --json FILE, or NULL */
extern bool supervised; /* the program runs under our filter */
extern struct sup_stats sup;

/* Count @e and print it (unless quiet) and its JSON line (if json). */
void emit_event(const struct ev *e);
/* Read every record waiting on @fd; false at end of file. */
bool drain(int fd);
/*
 * Take the hooks' record of the call that thread @own_tid (as the hooks
 * number it) made to @call at @start, waiting for the supervisor's
 * notification, into @e; false if there is none.
 */
bool pending_take(long own_tid, unsigned long start, const char *call,
		  struct ev *e);
/* Emit the hook records no notification matched. */
void pending_flush_all(void);
/* The summary, on standard error. */
void summary(void);

/* watch-filter.c */

/* What a stopped call is. */
enum sc {
	SC_MUNMAP = 1,
	SC_MREMAP,
	SC_MADVISE,
	SC_MMAP,
	SC_OLD_MMAP, /* i386 mmap: its arguments in a struct */
	SC_BRK,
	SC_SHMAT,
	SC_SHMDT,
	SC_IPC, /* i386 ipc(): SHMAT, SHMDT */
	SC_PMADVISE,
};

/* What BPF tests before it stops the call. */
enum sc_test { T_ALWAYS, T_ADVICE, T_FIXED, T_REMAP, T_NONZERO };

struct sc_rule {
	unsigned int nr;
	enum sc sc;
	enum sc_test test;
	unsigned int arg;
};

/* Build the filter; false if it cannot be built for this architecture. */
bool build_filter(void);
/* In the child: install the filter; its listener, or -errno. */
int install_filter(void);
/* Child to launcher: the listener (SCM_RIGHTS) or why there is none. */
void send_listener(int ctl, int fd, int err);
/* Launcher: the listener, or -errno (the child's, or ours). */
int recv_listener(int ctl);
/* SECCOMP_USER_NOTIF_FLAG_CONTINUE is Linux 5.5's. */
bool kernel_can_continue(void);
/*
 * The rule that stopped the call @d; NULL if none did.  *compat: the call
 * is an i386 one (its arguments 32 bits wide).
 */
const struct sc_rule *rule_of(const struct seccomp_data *d, bool *compat);

/* watch-ranges.c */

/* A range the stopped call invalidates. */
struct srange {
	unsigned long start, end;
	long pid; /* whose memory (process_madvise: the target's) */
	const char *syscall, *event, *umn_event;
};

#define SRANGE_MAX 1024 /* process_madvise: UIO_MAXIOV */

extern struct srange sranges[SRANGE_MAX];
extern int nsranges;

/* The page size and the default huge page size, before any classify(). */
void ranges_init(void);
/* The ranges the stopped call @n will invalidate, into sranges[]. */
void classify(const struct seccomp_notif *n);
/* Read a small /proc file of @tid into @buf; its length or -1. */
ssize_t read_proc(long tid, const char *what, char *buf, size_t size);

/* watch-supervisor.c */

extern int listener;   /* the filter's listener, or -1 */
extern int records_fd; /* the records' socket, or -1 */

/* Set up the supervisor's side before fork; false (and why, on standard
 * error) if it cannot work here. */
bool supervisor_possible(void);
/* Launcher: the listener the child sent over @ctl (which it closes), or
 * none (and why, on standard error); sets supervised. */
void take_listener(int ctl);
/* One stopped call: work out its ranges, let it go on, record them. */
void notification(void);
/* Leave a process that answers the filter's stopped calls for the
 * descendants still using it, once the program has exited. */
void detach_answerer(void);

#endif
