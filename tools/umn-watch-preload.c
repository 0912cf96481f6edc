// SPDX-License-Identifier: MIT
/*
 * libumn-watch.so - the half of umn-watch that lives inside the watched
 * program.  umn-watch puts it in LD_PRELOAD; it can also be preloaded by
 * hand (see "Standalone use" below).
 *
 * Its constructor makes the process a primary MMU (umn_proc_start(), with
 * the sources that UMN_PROC_SOURCES names, every one that works when it is
 * unset) and registers one classic notifier on umn_proc_mm().  The
 * notifier's ->invalidate_range_start writes one record per invalidation
 * to the file descriptor the launcher handed down, and nothing else.
 *
 * The callback runs inside the program's own munmap(), free(), realloc(),
 * madvise(), brk() ... (the hooks source), or on umn's userfaultfd monitor
 * thread.  The program may hold any of its locks, malloc's included, and
 * the call may come from a signal handler.  So the callback:
 *
 *	- allocates nothing and takes no lock: it formats the record into a
 *	  buffer on its own stack with the digit writers below (not
 *	  snprintf(), which is not async-signal-safe);
 *	- hands it over with one send(2) (a socket: the record stays whole
 *	  among those of other threads and processes, and MSG_NOSIGNAL
 *	  keeps a vanished reader from killing the program with SIGPIPE) or
 *	  write(2) (a file or a pipe), both async-signal-safe;
 *	- leaves errno as it found it.
 *
 * The records, one per send or line, fields separated by tabs:
 *
 *	S pid sources comm		this image started watching
 *	F pid errno what		it could not (what: the call that failed)
 *	E pid tid start end umn-event event call source
 *					one invalidation (start, end in hex)
 *	X pid hooks uffd ranges refused overflows
 *					at exit: umn_proc_stats()
 *
 * The environment it reads:
 *
 *	UMN_WATCH_FD	"N" or "N:DEV:INO": the descriptor to write to, and
 *			what it must be (st_dev, st_ino), checked before
 *			every record, so that a program that closed N and
 *			opened a file of its own there does not get records
 *			written into that file.  Unset: standard error.
 *			Not that descriptor any more: nothing is started.
 *	UMN_WATCH_FORK	"0": do not follow fork() (see below).
 *	UMN_PROC_SOURCES read by umn_proc_start() itself.
 *
 * fork: a child starts with a new, empty mm (umn/proc.h).  The
 * pthread_atfork() child handler calls umn_proc_start() again and registers
 * a new notifier, so children are watched too, unless UMN_WATCH_FORK is
 * "0".  posix_spawn() and vfork() children run no fork handler; they either
 * exec (and are watched again, see below) or exit.
 * exec: nothing survives, but LD_PRELOAD does, so the new image loads this
 * library again and starts over (a second S record for the same pid).
 * exit: the destructor waits for the userfaultfd events the kernel queued
 * (umn_proc_uffd_sync()) so that those of the last unmaps are reported,
 * then sends the X record.  _exit() and fatal signals skip it.
 *
 * Standalone use, without the launcher:
 *
 *	UMN_WATCH_FD=3 LD_PRELOAD=/usr/local/lib/umn/libumn-watch.so \
 *		program 3>>records.txt
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <umn/notifier.h>
#include <umn/proc.h>

/* A record is at most 9 fields of a few dozen bytes; comm is 16. */
#define RECORD_MAX 256

/* Set by the constructor and the fork handler, read by the callback. */
static int watch_fd = 2;   /* where records go */
static bool watch_sock;	   /* watch_fd is a socket: send(2) */
static bool watch_checked; /* compare watch_dev/ino before each record */
static dev_t watch_dev;	   /* ... with these */
static ino_t watch_ino;
static pid_t watch_pid;		 /* this process (getpid() is a system call) */
static bool watch_follow = true; /* restart in fork children */
static bool watch_started;	 /* the notifier is registered */

static struct umn_notifier watch_notifier;

/* The record being built: a buffer on the caller's stack and its length. */
struct record {
	char buf[RECORD_MAX];
	size_t len;
};

static void put_str(struct record *r, const char *s)
{
	while (*s && r->len < sizeof(r->buf) - 1) {
		char c = *s++;

		/* The fields are tab-separated, one record per line. */
		r->buf[r->len++] = (c == '\t' || c == '\n') ? ' ' : c;
	}
}

static void put_sep(struct record *r, char c)
{
	if (r->len < sizeof(r->buf) - 1)
		r->buf[r->len++] = c;
}

static void put_num(struct record *r, unsigned long v, unsigned int base)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[24];
	int i = 0;

	do {
		tmp[i++] = digits[v % base];
		v /= base;
	} while (v);
	if (base == 16)
		put_str(r, "0x");
	while (i > 0)
		put_sep(r, tmp[--i]);
}

static void put_int(struct record *r, long v)
{
	if (v < 0) {
		put_sep(r, '-');
		put_num(r, -(unsigned long)v, 10);
		return;
	}
	put_num(r, v, 10);
}

/*
 * Hand one record to the launcher.  Async-signal-safe; keeps errno.  A
 * record that cannot be sent (the descriptor is gone or not ours any more)
 * is dropped: the program must go on as if nobody watched.
 */
static void emit(struct record *r)
{
	int saved = errno;
	struct stat st;
	size_t off = 0;
	ssize_t n;

	put_sep(r, '\n');
	if (watch_fd < 0)
		goto out;
	if (watch_checked && (fstat(watch_fd, &st) || st.st_dev != watch_dev ||
			      st.st_ino != watch_ino))
		goto out;
	while (off < r->len) {
		if (watch_sock)
			n = send(watch_fd, r->buf + off, r->len - off,
				 MSG_NOSIGNAL);
		else
			n = write(watch_fd, r->buf + off, r->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
out:
	errno = saved;
}

static const char *const event_names[UMN_EVENT_COUNT] = {
	[UMN_EVENT_UNMAP] = "unmap",
	[UMN_EVENT_CLEAR] = "clear",
	[UMN_EVENT_PROTECTION_VMA] = "protection-vma",
	[UMN_EVENT_PROTECTION_PAGE] = "protection-page",
	[UMN_EVENT_SOFT_DIRTY] = "soft-dirty",
	[UMN_EVENT_RELEASE] = "release",
	[UMN_EVENT_MIGRATE] = "migrate",
	[UMN_EVENT_EXCLUSIVE] = "exclusive",
};

static const char *source_name(unsigned int source)
{
	switch (source) {
	case UMN_PROC_HOOKS:
		return "hooks";
	case UMN_PROC_UFFD:
		return "uffd";
	}
	return "unknown";
}

/*
 * The whole of the watching: runs inside the program's call (hooks) or on
 * umn's monitor thread (userfaultfd).  No allocation, no lock, no stdio.
 */
static int watch_start(struct umn_notifier *n, const struct umn_range *range)
{
	struct umn_proc_cause cause;
	struct record r = { .len = 0 };

	(void)n;
	if (umn_proc_cause(range, &cause)) {
		cause.call = "unknown";
		cause.kind = "unknown";
		cause.source = 0;
		cause.tid = 0;
	}
	put_sep(&r, 'E');
	put_sep(&r, '\t');
	put_int(&r, watch_pid);
	put_sep(&r, '\t');
	put_int(&r, cause.tid);
	put_sep(&r, '\t');
	put_num(&r, range->start, 16);
	put_sep(&r, '\t');
	put_num(&r, range->end, 16);
	put_sep(&r, '\t');
	put_str(&r, (unsigned int)range->event < UMN_EVENT_COUNT
			    ? event_names[range->event]
			    : "unknown");
	put_sep(&r, '\t');
	put_str(&r, cause.kind ? cause.kind : "unknown");
	put_sep(&r, '\t');
	put_str(&r, cause.call ? cause.call : "unknown");
	put_sep(&r, '\t');
	put_str(&r, source_name(cause.source));
	emit(&r);
	return 0;
}

static const struct umn_notifier_ops watch_ops = {
	.name = "umn-watch",
	.invalidate_range_start = watch_start,
};

static void fail(int err, const char *what)
{
	struct record r = { .len = 0 };

	put_sep(&r, 'F');
	put_sep(&r, '\t');
	put_int(&r, watch_pid);
	put_sep(&r, '\t');
	put_int(&r, err);
	put_sep(&r, '\t');
	put_str(&r, what);
	emit(&r);
}

/* Start the process mm and listen to it; report how it went. */
static void start_watching(void)
{
	struct record r = { .len = 0 };
	char comm[32] = "";
	struct umn_mm *mm;
	int mask, ret, fd;
	ssize_t len;

	mask = umn_proc_start(UMN_PROC_ALL);
	if (mask < 0) {
		fail(-mask, "umn_proc_start");
		return;
	}
	mm = umn_proc_mm();
	if (!mm) {
		fail(ENOENT, "umn_proc_mm");
		return;
	}
	memset(&watch_notifier, 0, sizeof(watch_notifier));
	ret = umn_notifier_register(&watch_notifier, &watch_ops, mm);
	if (ret) {
		fail(-ret, "umn_notifier_register");
		return;
	}
	watch_started = true;
	fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		len = read(fd, comm, sizeof(comm) - 1);
		comm[len > 0 ? len : 0] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
		close(fd);
	}
	put_sep(&r, 'S');
	put_sep(&r, '\t');
	put_int(&r, watch_pid);
	put_sep(&r, '\t');
	put_int(&r, mask);
	put_sep(&r, '\t');
	put_str(&r, comm);
	emit(&r);
}

/*
 * In a fork child.  umn's own fork handler, registered before this one
 * (by umn_proc_start() in our constructor or earlier), has already given
 * the child its fresh state; the notifier we copied from the parent
 * belongs to the parent's mm and is forgotten, not unregistered.
 */
static void watch_fork_child(void)
{
	watch_pid = getpid();
	watch_started = false;
	if (watch_follow)
		start_watching();
}

/* Parse UMN_WATCH_FD: "N" or "N:DEV:INO". */
static void parse_fd(const char *s)
{
	unsigned long long dev, ino;
	struct stat st;
	char *end;
	long fd;

	fd = strtol(s, &end, 10);
	if (end == s || fd < 0 || fd > 1 << 20)
		goto bad;
	if (*end == ':') {
		dev = strtoull(end + 1, &end, 10);
		if (*end != ':')
			goto bad;
		ino = strtoull(end + 1, &end, 10);
		watch_checked = true;
		watch_dev = dev;
		watch_ino = ino;
	}
	if (*end)
		goto bad;
	watch_fd = fd;
	if (fstat(watch_fd, &st) ||
	    (watch_checked &&
	     (st.st_dev != watch_dev || st.st_ino != watch_ino))) {
		/* Not the descriptor umn-watch passed: stay silent. */
		watch_fd = -1;
		return;
	}
	watch_sock = S_ISSOCK(st.st_mode);
	return;
bad:
	watch_fd = -1;
}

__attribute__((constructor)) static void watch_init(void)
{
	const char *s;

	watch_pid = getpid();
	s = getenv("UMN_WATCH_FD");
	if (s)
		parse_fd(s);
	/* Nobody to report to (the descriptor was closed): leave the
	 * program alone. */
	if (watch_fd < 0)
		return;
	s = getenv("UMN_WATCH_FORK");
	watch_follow = !(s && !strcmp(s, "0"));
	start_watching();
	pthread_atfork(NULL, NULL, watch_fork_child);
}

__attribute__((destructor)) static void watch_fini(void)
{
	struct umn_proc_stats stats;
	struct record r = { .len = 0 };

	if (!watch_started)
		return;
	if (umn_proc_sources() & UMN_PROC_UFFD)
		umn_proc_uffd_sync();
	umn_proc_stats(&stats);
	put_sep(&r, 'X');
	put_sep(&r, '\t');
	put_int(&r, watch_pid);
	put_sep(&r, '\t');
	put_num(&r, stats.brackets[0], 10);
	put_sep(&r, '\t');
	put_num(&r, stats.brackets[1], 10);
	put_sep(&r, '\t');
	put_num(&r, stats.uffd_ranges, 10);
	put_sep(&r, '\t');
	put_num(&r, stats.uffd_refused, 10);
	put_sep(&r, '\t');
	put_num(&r, stats.uffd_overflows, 10);
	emit(&r);
}
