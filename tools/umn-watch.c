// SPDX-License-Identifier: MIT
/*
 * umn-watch - run a program and report every invalidation of its address
 * space: the range, the event, the call that caused it, the source that saw
 * it, and the thread.
 *
 * This is the launcher.  The watching is done inside the program by
 * libumn-watch.so (tools/umn-watch-preload.c), which this puts at the end
 * of LD_PRELOAD (after what the caller's LD_PRELOAD already holds, so a
 * preloaded allocator still comes first).  The two talk over one
 * SOCK_SEQPACKET socket whose far end the program inherits at a high
 * descriptor number (UMN_WATCH_FD): one record per invalidation, sent
 * whole, from every thread and every process of the program (forks and
 * execs inherit the socket, and the environment).  The launcher turns the
 * records into lines on standard error, JSON lines in --json FILE, and a
 * summary at the end.
 *
 * The hooks miss what does not go through libc's entry points: raw
 * syscall()s, static programs, the dynamic loader's work before the
 * library's constructor, allocators that make their system calls
 * themselves.  So the launcher is also a seccomp supervisor (unless
 * --no-supervisor): before exec, the child installs a filter that stops
 * every system call that can drop or replace pages (munmap, mremap,
 * madvise with a discarding advice, mmap with MAP_FIXED, brk, shmat with
 * SHM_REMAP, shmdt, process_madvise) and hands the listener to the
 * launcher, which works out the range from the arguments (and /proc for
 * brk and shmdt), records it, and lets the call go on
 * (SECCOMP_USER_NOTIF_FLAG_CONTINUE).  The filter is inherited by every
 * fork and kept across exec.  A hook's record for the same call (it is
 * sent before the system call, so it is already in the socket when the
 * notification comes) is merged into the supervisor's: each system call
 * gives one record per range it invalidates.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef UMN_WATCH_PRELOAD_REL
#define UMN_WATCH_PRELOAD_REL "../lib/umn/libumn-watch.so"
#endif

/* The inherited socket is moved to this descriptor or the next free one. */
#define WATCH_FD_MIN 100

static const char usage_text[] =
	"NAME\n"
	"    umn-watch - report every invalidation of a program's address "
	"space\n"
	"\n"
	"SYNOPSIS\n"
	"    umn-watch [--json FILE] [--sources LIST] [--quiet]\n"
	"              [--no-follow-fork] [--no-preload] [--no-supervisor]\n"
	"              -- PROGRAM [ARGS...]\n"
	"\n"
	"DESCRIPTION\n"
	"    Runs PROGRAM with libumn-watch.so preloaded: the program becomes\n"
	"    a primary MMU for umn (umn/proc.h) and a notifier on it reports\n"
	"    each invalidation of its memory: the range, the event, the call\n"
	"    that caused it, the source that saw it and the thread that made\n"
	"    the call.  umn-watch is also a seccomp supervisor of the program\n"
	"    and all its descendants: the kernel stops each system call that\n"
	"    can drop or replace pages (munmap, mremap, discarding madvise,\n"
	"    mmap MAP_FIXED, brk, shmat SHM_REMAP, shmdt, process_madvise)\n"
	"    until umn-watch has recorded it, whatever made it: libc, a raw\n"
	"    syscall(), a static program, the dynamic loader, an allocator.\n"
	"    A call that umn's hooks also reported gives one record, theirs\n"
	"    (with the libc function that made it), confirmed by the\n"
	"    supervisor.  Each is printed on standard error as\n"
	"\n"
	"        umn-watch: PID/TID CALL EVENT 0xSTART-0xEND SIZE SOURCE\n"
	"\n"
	"    (SOURCE hooks+seccomp: both saw the call).\n"
	"\n"
	"    and, when the program has ended, a summary: invalidations and\n"
	"    bytes by call, by source and by event, and umn's own counters.\n"
	"    The program's standard streams are left to it.\n"
	"\n"
	"    LD_PRELOAD is kept: libumn-watch.so is appended to it, so an\n"
	"    allocator preloaded by the caller stays first.  Children made by\n"
	"    fork are watched (each is a new mm), unless --no-follow-fork;\n"
	"    programs run by exec are watched again from their start.\n"
	"\n"
	"OPTIONS\n"
	"    --json FILE\n"
	"        Also write one JSON object per line to FILE, for each\n"
	"        invalidation:\n"
	"          {\"pid\":N,\"tid\":N,\"start\":\"0x...\",\"end\":\"0x...\",\n"
	"           \"bytes\":N,\"event\":\"...\",\"umn_event\":\"...\",\n"
	"           \"call\":\"...\",\"source\":\"...\",\"syscall\":\"...\"}\n"
	"        start and end are hexadecimal strings, [start, end), page\n"
	"        aligned.  event: unmap, remap, discard (madvise), replace\n"
	"        (MAP_FIXED, SHM_REMAP) or shrink (brk).  umn_event: the\n"
	"        range's enum umn_event (unmap, clear, ...).  call: the libc\n"
	"        function (munmap, mremap, madvise, mmap, brk, shmat, shmdt;\n"
	"        those glibc calls inside free, realloc, malloc_trim, sbrk\n"
	"        included) or, for userfaultfd, the kernel's event\n"
	"        (uffd-unmap, uffd-remove, uffd-remap), or for the supervisor\n"
	"        alone the system call.  source: hooks, uffd or seccomp (the\n"
	"        supervisor alone).  syscall: the system call the supervisor\n"
	"        stopped for this range, \"\" if it did not (uffd records,\n"
	"        --no-supervisor).  tid: the thread that made the call; 0 when\n"
	"        the source does not know it (uffd).  pid: the process whose\n"
	"        memory it is.  Objects appear in the order the records\n"
	"        arrived; those of the userfaultfd source arrive after the\n"
	"        kernel acted.  The supervisor records a call before the kernel\n"
	"        runs it, so a call that then fails is recorded too, as an\n"
	"        mremap that may move and grows in place (as umn's hooks do).\n"
	"    --sources LIST\n"
	"        hooks, uffd, hooks,uffd, all or none.  Default: hooks under\n"
	"        the supervisor (which sees every call; userfaultfd would only\n"
	"        repeat them later), else all (every source that works\n"
	"        here); or what UMN_PROC_SOURCES says if it is set.  A\n"
	"        source named in LIST that cannot work here is an\n"
	"        error of the program's umn_proc_start(), reported, and the\n"
	"        program then runs unwatched.\n"
	"    --quiet, -q\n"
	"        Print only the summary.\n"
	"    --no-follow-fork\n"
	"        Do not start umn in the children that fork() makes\n"
	"        (UMN_WATCH_FORK=0); the supervisor still records their calls.\n"
	"    --no-preload\n"
	"        Do not touch LD_PRELOAD: PROGRAM already links libumn-watch.so\n"
	"        (sanitizer builds, where a preload cannot work).\n"
	"    --no-supervisor\n"
	"        Do not install the seccomp filter: only umn's sources inside\n"
	"        the program watch (what they miss is missed).  Without\n"
	"        seccomp user notification (Linux 5.5), or where a seccomp\n"
	"        filter of the caller forbids it, umn-watch says so and runs\n"
	"        this way.\n"
	"    --help\n"
	"        This text.\n"
	"\n"
	"ENVIRONMENT\n"
	"    UMN_WATCH_PRELOAD  the libumn-watch.so to use (default: next to\n"
	"                       umn-watch, or " UMN_WATCH_PRELOAD_REL "\n"
	"                       from its directory).\n"
	"    UMN_PROC_SOURCES   see --sources.\n"
	"    Set for the program: LD_PRELOAD, UMN_WATCH_FD (the descriptor the\n"
	"    records go to, >= 100), UMN_WATCH_FORK, UMN_PROC_SOURCES.\n"
	"\n"
	"LIMITS\n"
	"    Statically linked and set-user-ID programs do not load the preload\n"
	"    library; umn-watch says so, and only the supervisor sees them.\n"
	"    Unless umn-watch has CAP_SYS_ADMIN, the filter needs no_new_privs,\n"
	"    so set-user-ID programs then run without their privileges.  The\n"
	"    supervisor watches the native ABI and, on x86-64, the i386 one\n"
	"    (int 0x80); each stopped call costs a round trip to umn-watch.\n"
	"    If the program exits while descendants still use the filter,\n"
	"    umn-watch leaves a process behind that lets their calls go on\n"
	"    (unrecorded) until the last one has exited; otherwise they would\n"
	"    fail with ENOSYS.  A program that closes descriptors it\n"
	"    did not open loses its reports from then on (never its correctness:\n"
	"    records that cannot be sent are dropped).  Events after _exit() or\n"
	"    a fatal signal may be missing from the userfaultfd source.  When\n"
	"    the program has exited, umn-watch waits at most one second for\n"
	"    descendants still holding the socket.\n"
	"\n"
	"EXIT STATUS\n"
	"    The program's, or 128 + the signal that killed it; 127 if it could\n"
	"    not be run; 2 on bad usage or a setup failure of umn-watch.\n";

/* Counts for one row of the summary. */
struct tally {
	char name[24];
	unsigned long count;
	unsigned long long bytes;
};

#define TALLY_ROWS 24

struct table {
	const char *title;
	struct tally rows[TALLY_ROWS];
	int n;
};

static struct table by_call = { .title = "by call" };
static struct table by_source = { .title = "by source" };
static struct table by_event = { .title = "by event" };

static struct {
	unsigned long events;
	unsigned long long bytes;
	unsigned long images; /* S records: process images watched */
	unsigned long failed; /* F records */
	unsigned long exits;  /* X records */
	unsigned long brackets[2], ranges, refused, overflows;
} total;

static bool quiet;
static FILE *json;
static pid_t child;

static void tally_add(struct table *t, const char *name,
		      unsigned long long bytes)
{
	struct tally *row = NULL;
	int i;

	for (i = 0; i < t->n; i++) {
		if (!strcmp(t->rows[i].name, name)) {
			row = &t->rows[i];
			break;
		}
	}
	if (!row) {
		/* The last row collects whatever does not fit. */
		row = &t->rows[t->n < TALLY_ROWS ? t->n++ : TALLY_ROWS - 1];
		if (t->n == TALLY_ROWS && row->count)
			name = "(other)";
		snprintf(row->name, sizeof(row->name), "%s", name);
	}
	row->count++;
	row->bytes += bytes;
}

static const char *human(unsigned long long bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0 || v >= 100 || v == (unsigned long long)v)
		snprintf(buf, size, "%.0f %s", v, units[u]);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
	return buf;
}

/* A JSON string of a record field: printable ASCII, escaped. */
static void json_str(const char *key, const char *s, bool comma)
{
	fprintf(json, "\"%s\":\"", key);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(json, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(json, "\\u%04x", c);
		else
			fputc(c, json);
	}
	fprintf(json, "\"%s", comma ? "," : "");
}

/* Split a record at its tabs; return the number of fields. */
static int split(char *rec, char **field, int max)
{
	int n = 0;

	while (n < max) {
		field[n++] = rec;
		rec = strchr(rec, '\t');
		if (!rec)
			break;
		*rec++ = '\0';
	}
	return n;
}

/* One invalidation, as reported. */
struct ev {
	long pid, tid;
	unsigned long start, end;
	char umn_event[24], event[16], call[24], source[16], syscall[24];
};

static void emit_event(const struct ev *e)
{
	unsigned long long bytes = e->end > e->start ? e->end - e->start : 0;
	char size[32], tid[24];

	total.events++;
	total.bytes += bytes;
	tally_add(&by_call, e->call, bytes);
	tally_add(&by_source, e->source, bytes);
	tally_add(&by_event, e->event, bytes);
	if (!quiet) {
		if (e->tid)
			snprintf(tid, sizeof(tid), "%ld", e->tid);
		else
			snprintf(tid, sizeof(tid), "-");
		fprintf(stderr,
			"umn-watch: %ld/%s %-7s %-7s %#lx-%#lx %s %s%s\n",
			e->pid, tid, e->call, e->event, e->start, e->end,
			human(bytes, size, sizeof(size)), e->source,
			e->syscall[0] && strcmp(e->source, "seccomp")
				? "+seccomp"
				: "");
	}
	if (json) {
		fprintf(json, "{\"pid\":%ld,\"tid\":%ld,", e->pid, e->tid);
		fprintf(json, "\"start\":\"%#lx\",\"end\":\"%#lx\",", e->start,
			e->end);
		fprintf(json, "\"bytes\":%llu,", bytes);
		json_str("event", e->event, true);
		json_str("umn_event", e->umn_event, true);
		json_str("call", e->call, true);
		json_str("source", e->source, true);
		json_str("syscall", e->syscall, false);
		fprintf(json, "}\n");
	}
}

/*
 * The hooks' records wait here for the supervisor's notification of the
 * same call (same thread, call and start), which comes after them.
 */
#define PENDING_MAX 1024

static struct ev pending[PENDING_MAX];
static int npending;
static bool supervised; /* the program runs under our filter */

static struct {
	unsigned long stopped;	/* notifications answered */
	unsigned long merged;	/* ranges the hooks reported too */
	unsigned long alone;	/* ranges only the supervisor saw */
	unsigned long unmerged; /* hook records no system call matched */
	unsigned long vanished; /* callers gone before we could read them */
} sup;

static void pending_flush(int i)
{
	sup.unmerged++;
	emit_event(&pending[i]);
	npending--;
	memmove(&pending[i], &pending[i + 1],
		(npending - i) * sizeof(pending[0]));
}

static void event_record(char **f)
{
	struct ev e = {
		.pid = strtol(f[1], NULL, 10),
		.tid = strtol(f[2], NULL, 10),
		.start = strtoul(f[3], NULL, 16),
		.end = strtoul(f[4], NULL, 16),
	};

	snprintf(e.umn_event, sizeof(e.umn_event), "%s", f[5]);
	snprintf(e.event, sizeof(e.event), "%s", f[6]);
	snprintf(e.call, sizeof(e.call), "%s", f[7]);
	snprintf(e.source, sizeof(e.source), "%s", f[8]);
	if (!supervised || strcmp(e.source, "hooks") || !e.tid) {
		emit_event(&e);
		return;
	}
	if (npending == PENDING_MAX)
		pending_flush(0);
	pending[npending++] = e;
}

/* One record from the program. */
static void record(char *rec)
{
	char *f[10];
	int n;

	rec[strcspn(rec, "\n")] = '\0';
	n = split(rec, f, 10);
	switch (rec[0]) {
	case 'E':
		if (n == 9) {
			event_record(f);
			return;
		}
		break;
	case 'S':
		if (n == 4) {
			static const char *const names[] = { "none", "hooks",
							     "uffd",
							     "hooks,uffd" };

			total.images++;
			if (!quiet)
				fprintf(stderr,
					"umn-watch: %s (%s): watching, sources "
					"%s\n",
					f[1], f[3], names[atoi(f[2]) & 3]);
			return;
		}
		break;
	case 'F':
		if (n == 4) {
			total.failed++;
			fprintf(stderr, "umn-watch: %s: %s: %s; not watched\n",
				f[1], f[3], strerror(atoi(f[2])));
			return;
		}
		break;
	case 'X':
		if (n == 7) {
			total.exits++;
			total.brackets[0] += strtoul(f[2], NULL, 10);
			total.brackets[1] += strtoul(f[3], NULL, 10);
			total.ranges += strtoul(f[4], NULL, 10);
			total.refused += strtoul(f[5], NULL, 10);
			total.overflows += strtoul(f[6], NULL, 10);
			return;
		}
		break;
	}
	fprintf(stderr, "umn-watch: a record not understood: %s\n", rec);
}

static void print_table(const struct table *t)
{
	char size[32];
	int i;

	if (!t->n)
		return;
	fprintf(stderr, "  %-11s", t->title);
	for (i = 0; i < t->n; i++)
		fprintf(stderr, "%s%s %lu (%s)", i ? ", " : "", t->rows[i].name,
			t->rows[i].count,
			human(t->rows[i].bytes, size, sizeof(size)));
	fputc('\n', stderr);
}

static void summary(void)
{
	char size[32];

	fprintf(stderr,
		"umn-watch: summary: %lu process image%s watched, %lu "
		"invalidation%s, %s\n",
		total.images, total.images == 1 ? "" : "s", total.events,
		total.events == 1 ? "" : "s",
		human(total.bytes, size, sizeof(size)));
	print_table(&by_call);
	print_table(&by_source);
	print_table(&by_event);
	if (total.exits)
		fprintf(stderr,
			"  umn:       brackets hooks %lu, uffd %lu; uffd ranges "
			"registered %lu, refused %lu, queue overflows %lu\n",
			total.brackets[0], total.brackets[1], total.ranges,
			total.refused, total.overflows);
	if (supervised)
		fprintf(stderr,
			"  supervisor: %lu system calls stopped; ranges: %lu "
			"told by the hooks too, %lu by the supervisor alone; "
			"%lu hook records matched no system call; %lu calls "
			"not made (the caller died or a signal came)\n",
			sup.stopped, sup.merged, sup.alone, sup.unmerged,
			sup.vanished);
	if (!total.images && !total.failed)
		fprintf(stderr,
			"umn-watch: the program never loaded libumn-watch.so "
			"(statically linked? set-user-ID?): %s\n",
			supervised ? "only the supervisor watched it"
				   : "nothing was watched");
}

/* Read every record waiting on @fd; false at end of file. */
static bool drain(int fd)
{
	char buf[512];
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK;
		if (n == 0)
			return false;
		buf[n] = '\0';
		record(buf);
	}
}

/* The preload library: $UMN_WATCH_PRELOAD, next to us, or installed. */
static char *find_preload(void)
{
	char self[PATH_MAX], path[PATH_MAX + 64];
	const char *env = getenv("UMN_WATCH_PRELOAD");
	ssize_t n;
	char *slash;

	if (env && *env)
		return realpath(env, NULL);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return NULL;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	snprintf(path, sizeof(path), "%s/libumn-watch.so", self);
	if (!access(path, R_OK))
		return realpath(path, NULL);
	snprintf(path, sizeof(path), "%s/%s", self, UMN_WATCH_PRELOAD_REL);
	if (!access(path, R_OK))
		return realpath(path, NULL);
	return NULL;
}

/* --sources LIST as UMN_PROC_SOURCES spells it; NULL for "all". */
static int parse_sources(const char *list, const char **env)
{
	bool hooks = false, uffd = false, none = false, all = false;
	char *copy = strdup(list), *tok, *save;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "hooks"))
			hooks = true;
		else if (!strcmp(tok, "uffd"))
			uffd = true;
		else if (!strcmp(tok, "none"))
			none = true;
		else if (!strcmp(tok, "all"))
			all = true;
		else {
			free(copy);
			return -EINVAL;
		}
	}
	free(copy);
	if (none + all + (hooks || uffd) != 1)
		return -EINVAL;
	*env = all	       ? NULL
	       : none	       ? "none"
	       : hooks && uffd ? "hooks,uffd"
	       : hooks	       ? "hooks"
			       : "uffd";
	return 0;
}

/*
 * The supervisor.
 *
 * The filter stops the system calls that can drop or replace pages, with
 * what BPF can test of their arguments (the advice, MAP_FIXED without
 * MAP_FIXED_NOREPLACE, SHM_REMAP, a brk that is not a query), and lets
 * every other call through.  On x86-64 it also knows the i386 calls a
 * 64-bit process can make with int 0x80, and masks the x32 bit (x32's
 * numbers for these calls are the 64-bit ones).
 */
#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define X32_BIT	    0x40000000u
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH AUDIT_ARCH_RISCV64
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#define ARG_HI(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#define ARG_HI(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#endif

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
/* Linux 6.6: the stopped caller and umn-watch hand over the CPU to each
 * other rather than wake each other on another one. */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

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

#ifndef __NR_process_madvise
#define __NR_process_madvise 440
#endif

static const struct sc_rule native_rules[] = {
	{ __NR_munmap, SC_MUNMAP, T_ALWAYS, 0 },
	{ __NR_mremap, SC_MREMAP, T_ALWAYS, 0 },
	{ __NR_madvise, SC_MADVISE, T_ADVICE, 2 },
	{ __NR_mmap, SC_MMAP, T_FIXED, 3 },
	{ __NR_brk, SC_BRK, T_NONZERO, 0 },
	{ __NR_shmat, SC_SHMAT, T_REMAP, 2 },
	{ __NR_shmdt, SC_SHMDT, T_ALWAYS, 0 },
	{ __NR_process_madvise, SC_PMADVISE, T_ADVICE, 3 },
};

#ifdef __x86_64__
/* arch/x86/entry/syscalls/syscall_32.tbl */
static const struct sc_rule i386_rules[] = {
	{ 91, SC_MUNMAP, T_ALWAYS, 0 },	  { 163, SC_MREMAP, T_ALWAYS, 0 },
	{ 219, SC_MADVISE, T_ADVICE, 2 }, { 192, SC_MMAP, T_FIXED, 3 },
	{ 90, SC_OLD_MMAP, T_ALWAYS, 0 }, { 45, SC_BRK, T_NONZERO, 0 },
	{ 117, SC_IPC, T_ALWAYS, 0 },	  { 397, SC_SHMAT, T_REMAP, 2 },
	{ 398, SC_SHMDT, T_ALWAYS, 0 },	  { 440, SC_PMADVISE, T_ADVICE, 3 },
};
#endif

/* The advices umn's hooks bracket (primaries/proc/hooks.c). */
static const unsigned int advices[] = {
	MADV_DONTNEED,
	MADV_FREE,
	MADV_REMOVE,
	24 /* DONTNEED_LOCKED */,
	102 /* GUARD_INSTALL */,
	MADV_HWPOISON,
	21 /* PAGEOUT */,
	101 /* SOFT_OFFLINE */,
	25 /* COLLAPSE */,
};
#define NADVICES (sizeof(advices) / sizeof(advices[0]))

#define FILTER_MAX 512

static struct sock_filter filter[FILTER_MAX];
static unsigned int flen;

static void put(unsigned short code, unsigned int k, unsigned char jt,
		unsigned char jf)
{
	if (flen < FILTER_MAX)
		filter[flen++] = (struct sock_filter){ code, jt, jf, k };
}

#define RET(v) put(BPF_RET | BPF_K, (v), 0, 0)
#define NOTIFY SECCOMP_RET_USER_NOTIF
#define ALLOW  SECCOMP_RET_ALLOW

/* Length of a rule's test: what follows its "jeq nr". */
static unsigned int test_len(const struct sc_rule *r)
{
	switch (r->test) {
	case T_ALWAYS:
		return 1;
	case T_ADVICE:
		return 1 + NADVICES + 2;
	case T_FIXED:
		return 5;
	case T_REMAP:
		return 4;
	case T_NONZERO:
		return 6;
	}
	return 1;
}

/* Each rule ends in a return on every path: nothing falls through. */
static void put_rule(const struct sc_rule *r)
{
	unsigned int i;

	put(BPF_JMP | BPF_JEQ | BPF_K, r->nr, 0, test_len(r));
	switch (r->test) {
	case T_ALWAYS:
		RET(NOTIFY);
		break;
	case T_ADVICE:
		put(BPF_LD | BPF_W | BPF_ABS, ARG_LO(r->arg), 0, 0);
		for (i = 0; i < NADVICES; i++)
			put(BPF_JMP | BPF_JEQ | BPF_K, advices[i], NADVICES - i,
			    0);
		RET(ALLOW);
		RET(NOTIFY);
		break;
	case T_FIXED:
		put(BPF_LD | BPF_W | BPF_ABS, ARG_LO(r->arg), 0, 0);
		put(BPF_JMP | BPF_JSET | BPF_K, MAP_FIXED, 0, 2);
		put(BPF_JMP | BPF_JSET | BPF_K, MAP_FIXED_NOREPLACE, 1, 0);
		RET(NOTIFY);
		RET(ALLOW);
		break;
	case T_REMAP:
		put(BPF_LD | BPF_W | BPF_ABS, ARG_LO(r->arg), 0, 0);
		put(BPF_JMP | BPF_JSET | BPF_K, SHM_REMAP, 0, 1);
		RET(NOTIFY);
		RET(ALLOW);
		break;
	case T_NONZERO:
		put(BPF_LD | BPF_W | BPF_ABS, ARG_LO(r->arg), 0, 0);
		put(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2);
		put(BPF_LD | BPF_W | BPF_ABS, ARG_HI(r->arg), 0, 0);
		put(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
		RET(NOTIFY);
		RET(ALLOW);
		break;
	}
}

static unsigned int rules_len(const struct sc_rule *r, unsigned int n)
{
	unsigned int len = 2; /* load nr ... return ALLOW */

	while (n--)
		len += 1 + test_len(r++);
	return len;
}

/* A section for one ABI: A holds the arch when it starts. */
static void put_section(unsigned int arch, const struct sc_rule *r,
			unsigned int n, bool x32)
{
	unsigned int i;

	put(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, rules_len(r, n) + !!x32);
	put(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
#ifdef X32_BIT
	if (x32)
		put(BPF_ALU | BPF_AND | BPF_K, ~X32_BIT, 0, 0);
#endif
	for (i = 0; i < n; i++)
		put_rule(&r[i]);
	RET(ALLOW);
}

#define NRULES(a) (sizeof(a) / sizeof((a)[0]))

static bool build_filter(void)
{
#ifdef NATIVE_ARCH
	put(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0,
	    0);
	put_section(NATIVE_ARCH, native_rules, NRULES(native_rules), true);
#ifdef __x86_64__
	put_section(AUDIT_ARCH_I386, i386_rules, NRULES(i386_rules), false);
#endif
	RET(ALLOW);
	return flen < FILTER_MAX;
#else
	return false;
#endif
}

/*
 * In the child, before exec: install the filter and return the listener,
 * or -errno.  Without CAP_SYS_ADMIN the kernel asks for no_new_privs.
 */
static long seccomp_install(struct sock_fprog *prog)
{
	long fd;

	/*
	 * Once umn-watch has received a stopped call, only a fatal signal
	 * interrupts it (Linux 5.19), as none interrupts an munmap: a signal
	 * would restart it, and one that comes faster than umn-watch answers
	 * would keep it from ever being made.
	 */
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		     SECCOMP_FILTER_FLAG_NEW_LISTENER |
			     SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
		     prog);
	if (fd < 0 && errno == EINVAL)
		fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			     SECCOMP_FILTER_FLAG_NEW_LISTENER, prog);
	return fd;
}

static int install_filter(void)
{
	struct sock_fprog prog = { .len = (unsigned short)flen,
				   .filter = filter };
	long fd;

	fd = seccomp_install(&prog);
	if (fd < 0 && errno == EACCES) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
			return -errno;
		fd = seccomp_install(&prog);
	}
	return fd < 0 ? -errno : (int)fd;
}

/* Child to launcher: the listener (SCM_RIGHTS) or why there is none. */
static void send_listener(int ctl, int fd, int err)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = &err, .iov_len = sizeof(err) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	while (sendmsg(ctl, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* Launcher: the listener, or -errno (the child's, or ours). */
static int recv_listener(int ctl)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	int err = EPIPE, fd = -1;
	struct iovec iov = { .iov_base = &err, .iov_len = sizeof(err) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cmsg;
	ssize_t n;

	do
		n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < (ssize_t)sizeof(err))
		return -(n < 0 ? errno : EPIPE);
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg))
		if (cmsg->cmsg_level == SOL_SOCKET &&
		    cmsg->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd >= 0 ? fd : -(err ? err : EPROTO);
}

/* SECCOMP_USER_NOTIF_FLAG_CONTINUE is Linux 5.5's. */
static bool kernel_can_continue(void)
{
	struct utsname u;
	unsigned int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return false;
	return major > 5 || (major == 5 && minor >= 5);
}

static int listener = -1;
static struct seccomp_notif *notif;
static struct seccomp_notif_resp *notif_resp;
static size_t notif_size, resp_size;
static unsigned long page_size;

static bool notif_alloc(void)
{
	struct seccomp_notif_sizes sizes;

	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes))
		return false;
	notif_size = sizes.seccomp_notif > sizeof(*notif) ? sizes.seccomp_notif
							  : sizeof(*notif);
	resp_size = sizes.seccomp_notif_resp > sizeof(*notif_resp)
			    ? sizes.seccomp_notif_resp
			    : sizeof(*notif_resp);
	notif = calloc(1, notif_size);
	notif_resp = calloc(1, resp_size);
	return notif && notif_resp;
}

/*
 * Let the stopped call go on.  False if it is not waiting any more: the
 * caller died, or a signal interrupted the call, which is then restarted
 * (and stopped again) or not made at all.
 */
static bool answer(uint64_t id)
{
	int ret;

	memset(notif_resp, 0, resp_size);
	notif_resp->id = id;
	notif_resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	do
		ret = ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, notif_resp);
	while (ret && errno == EINTR);
	return !ret;
}

/* A range the stopped call invalidates. */
struct srange {
	unsigned long start, end;
	long pid; /* whose memory (process_madvise: the target's) */
	const char *syscall, *event, *umn_event;
};

#define SRANGE_MAX 1024 /* process_madvise: UIO_MAXIOV */

static struct srange sranges[SRANGE_MAX];
static int nsranges;

/* [addr, addr + len rounded up to pages), if well formed (as the hooks). */
static bool page_range(unsigned long addr, unsigned long len,
		       unsigned long *end)
{
	unsigned long mask = page_size - 1;
	unsigned long rounded = (len + mask) & ~mask;

	if ((addr & mask) || !len || rounded < len || addr + rounded < addr)
		return false;
	*end = addr + rounded;
	return true;
}

static void add_range(unsigned long start, unsigned long end,
		      const char *syscall, const char *event,
		      const char *umn_event)
{
	if (start >= end || nsranges == SRANGE_MAX)
		return;
	sranges[nsranges++] =
		(struct srange){ start, end, 0, syscall, event, umn_event };
}

static void madvise_range(unsigned long addr, unsigned long len,
			  unsigned int advice, const char *syscall)
{
	const char *event = "discard", *umn_event = "clear";
	unsigned long end;

	switch (advice) {
	case MADV_HWPOISON:
		umn_event = "unmap";
		break;
	case 21: /* PAGEOUT */
		event = "reclaim";
		break;
	case 101: /* SOFT_OFFLINE */
	case 25:  /* COLLAPSE */
		event = umn_event = "migrate";
		break;
	case MADV_DONTNEED:
	case MADV_FREE:
	case MADV_REMOVE:
	case 24:  /* DONTNEED_LOCKED */
	case 102: /* GUARD_INSTALL */
		break;
	default:
		return;
	}
	if (page_range(addr, len, &end))
		add_range(addr, end, syscall, event, umn_event);
}

/* Read a small /proc file of the caller into @buf; its length or -1. */
static ssize_t read_proc(long tid, const char *what, char *buf, size_t size)
{
	char path[96];
	ssize_t n, len = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/%s", tid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((size_t)len < size - 1 &&
	       (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	return len;
}

/* Each line of /proc/TID/maps: @fn returns false to stop. */
static bool maps_each(long tid, bool (*fn)(const char *line, void *arg),
		      void *arg)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/maps", tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0)
		if (!fn(line, arg))
			break;
	free(line);
	fclose(f);
	return true;
}

struct map_line {
	unsigned long lo, hi, offset, inode;
	const char *path; /* "" if none */
};

static bool parse_map(const char *s, struct map_line *m)
{
	int pos = 0;

	if (sscanf(s, "%lx-%lx %*s %lx %*s %lu %n", &m->lo, &m->hi, &m->offset,
		   &m->inode, &pos) < 4)
		return false;
	m->path = s + pos;
	return true;
}

/*
 * brk: the break now is the end of the [heap] mapping (the kernel keeps it
 * at the break rounded up to a page; with no heap mapping there is nothing
 * above the start of the heap to take away).  The caller is stopped in
 * this very brk, so nothing of its own moves the break meanwhile.
 */
static bool heap_line(const char *line, void *arg)
{
	unsigned long *end = arg;
	struct map_line m;

	if (!parse_map(line, &m))
		return true;
	if (!strncmp(m.path, "[heap]", 6)) {
		*end = m.hi;
		return true;
	}
	return !*end; /* past the heap: stop */
}

/*
 * shmdt: what the kernel's shmdt unmaps, found as it finds it: the System
 * V mappings at or after @addr whose file offset is their distance from
 * @addr, of the segment of the first one (the inode /proc shows is the
 * segment's id).  [addr, the end of the last one).
 */
struct shm_scan {
	unsigned long addr, end;
	long shmid;
};

static bool shm_line(const char *line, void *arg)
{
	struct shm_scan *s = arg;
	struct map_line m;

	if (!parse_map(line, &m) || !strstr(m.path, "/SYSV") ||
	    m.lo < s->addr || m.lo - s->addr != m.offset)
		return true;
	if (s->shmid < 0)
		s->shmid = (long)m.inode;
	if ((long)m.inode == s->shmid)
		s->end = m.hi;
	return true;
}

static void shmdt_range(long tid, unsigned long addr)
{
	struct shm_scan s = { .addr = addr, .end = 0, .shmid = -1 };

	if (addr & (page_size - 1))
		return;
	if (maps_each(tid, shm_line, &s) && s.end > addr)
		add_range(addr, s.end, "shmdt", "unmap", "unmap");
}

static void shmat_range(unsigned long id, unsigned long addr,
			unsigned long flags)
{
	struct shmid_ds ds;
	unsigned long end;

	if (!(flags & SHM_REMAP) || !addr)
		return;
	if (flags & SHM_RND)
		addr &= ~(unsigned long)(SHMLBA - 1);
	/* The segment's size; a page if we may not know it. */
	if (shmctl((int)id, IPC_STAT, &ds))
		ds.shm_segsz = page_size;
	if (page_range(addr, ds.shm_segsz, &end))
		add_range(addr, end, "shmat", "replace", "unmap");
}

static unsigned long huge_default;

/* A MAP_FIXED mapping of huge pages is rounded up to one. */
static unsigned long map_page_size(long tid, unsigned long flags, long fd)
{
	unsigned int shift;
	char path[64];
	struct statfs fs;

	if (flags & MAP_HUGETLB) {
		shift = (flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
		return shift ? 1UL << shift : huge_default;
	}
	if (flags & MAP_ANONYMOUS || fd < 0)
		return page_size;
	snprintf(path, sizeof(path), "/proc/%ld/fd/%ld", tid, fd);
	if (!statfs(path, &fs) && fs.f_type == HUGETLBFS_MAGIC)
		return (unsigned long)fs.f_bsize;
	return page_size;
}

static void mmap_range(long tid, unsigned long addr, unsigned long len,
		       unsigned long flags, long fd)
{
	unsigned long end, huge;

	if (!(flags & MAP_FIXED) || (flags & MAP_FIXED_NOREPLACE) ||
	    !page_range(addr, len, &end))
		return;
	huge = map_page_size(tid, flags, fd);
	end = (end + huge - 1) & ~(huge - 1);
	add_range(addr, end, "mmap", "replace", "unmap");
}

/*
 * mremap, as umn's hooks see it: one that may move takes the whole old
 * range (nobody knows before the call whether it will move), one that
 * may not takes the tail it shrinks by; MREMAP_FIXED also replaces the
 * destination.
 */
static void mremap_range(unsigned long old, unsigned long old_len,
			 unsigned long new_len, unsigned long flags,
			 unsigned long dst)
{
	unsigned long end, kept = (new_len + page_size - 1) & ~(page_size - 1);

	if (page_range(old, old_len, &end)) {
		if (flags & (MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP))
			add_range(old, end, "mremap", "remap", "unmap");
		else if (kept && kept < end - old)
			add_range(old + kept, end, "mremap", "remap", "unmap");
	}
	if ((flags & MREMAP_FIXED) && page_range(dst, new_len, &end))
		add_range(dst, end, "mremap", "replace", "unmap");
}

static void brk_range(long tid, unsigned long want)
{
	unsigned long end = 0;

	want = (want + page_size - 1) & ~(page_size - 1);
	if (want && maps_each(tid, heap_line, &end) && want < end)
		add_range(want, end, "brk", "shrink", "unmap");
}

/* The process a pidfd of the caller's stands for, from its fdinfo. */
static long pidfd_pid(long tid, long fd)
{
	char what[48], buf[1024], *p;

	snprintf(what, sizeof(what), "fdinfo/%ld", fd);
	if (read_proc(tid, what, buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "\nPid:");
	return p ? strtol(p + 5, NULL, 10) : -1;
}

static void pmadvise_ranges(long tid, unsigned long pidfd, unsigned long iov,
			    unsigned long vlen, unsigned long advice,
			    bool compat)
{
	static struct iovec vec[SRANGE_MAX];
	static uint32_t vec32[2 * SRANGE_MAX];
	struct iovec local, remote;
	long target = pidfd_pid(tid, (long)(int)pidfd);
	size_t each = compat ? 8 : sizeof(struct iovec);
	ssize_t n;
	int i, first = nsranges;

	if (target <= 0 || !vlen)
		return;
	if (vlen > SRANGE_MAX)
		vlen = SRANGE_MAX;
	local.iov_base = compat ? (void *)vec32 : (void *)vec;
	local.iov_len = vlen * each;
	remote.iov_base = (void *)iov;
	remote.iov_len = vlen * each;
	n = process_vm_readv((pid_t)tid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return;
	for (i = 0; (size_t)(i + 1) * each <= (size_t)n; i++) {
		if (compat)
			madvise_range(vec32[2 * i], vec32[2 * i + 1],
				      (unsigned int)advice, "process_madvise");
		else
			madvise_range((unsigned long)vec[i].iov_base,
				      vec[i].iov_len, (unsigned int)advice,
				      "process_madvise");
	}
	for (i = first; i < nsranges; i++)
		sranges[i].pid = target;
}

static const struct sc_rule *find_rule(const struct sc_rule *r, unsigned int n,
				       unsigned int nr)
{
	while (n--) {
		if (r->nr == nr)
			return r;
		r++;
	}
	return NULL;
}

/* The ranges the stopped call @n will invalidate, into sranges[]. */
static void classify(const struct seccomp_notif *n)
{
	const struct sc_rule *rule = NULL;
	unsigned long a[6];
	long tid = n->pid;
	bool compat = false;
	uint32_t om[6];
	int i;

	nsranges = 0;
#ifdef NATIVE_ARCH
	if (n->data.arch == NATIVE_ARCH) {
		unsigned int nr = n->data.nr;
#ifdef X32_BIT
		nr &= ~X32_BIT;
#endif
		rule = find_rule(native_rules, NRULES(native_rules), nr);
	}
#endif
#ifdef __x86_64__
	if (n->data.arch == AUDIT_ARCH_I386) {
		rule = find_rule(i386_rules, NRULES(i386_rules), n->data.nr);
		compat = true;
	}
#endif
	if (!rule)
		return;
	for (i = 0; i < 6; i++)
		a[i] = compat ? (uint32_t)n->data.args[i]
			      : (unsigned long)n->data.args[i];
	switch (rule->sc) {
	case SC_MUNMAP: {
		unsigned long end;

		if (page_range(a[0], a[1], &end))
			add_range(a[0], end, "munmap", "unmap", "unmap");
		break;
	}
	case SC_MREMAP:
		mremap_range(a[0], a[1], a[2], a[3], a[4]);
		break;
	case SC_MADVISE:
		madvise_range(a[0], a[1], (unsigned int)a[2], "madvise");
		break;
	case SC_MMAP:
		mmap_range(tid, a[0], a[1], a[3], (long)(int)a[4]);
		break;
	case SC_OLD_MMAP: {
		struct iovec local = { om, sizeof(om) };
		struct iovec remote = { (void *)a[0], sizeof(om) };

		if (process_vm_readv((pid_t)tid, &local, 1, &remote, 1, 0) ==
		    sizeof(om))
			mmap_range(tid, om[0], om[1], om[3], (int32_t)om[4]);
		break;
	}
	case SC_BRK:
		brk_range(tid, a[0]);
		break;
	case SC_SHMAT:
		shmat_range(a[0], a[1], a[2]);
		break;
	case SC_SHMDT:
		shmdt_range(tid, a[0]);
		break;
	case SC_IPC: /* ipc(call, first, second, third, ptr, fifth) */
		if ((a[0] & 0xffff) == 21) /* SHMAT */
			shmat_range(a[1], a[4], a[2]);
		else if ((a[0] & 0xffff) == 22) /* SHMDT */
			shmdt_range(tid, a[4]);
		break;
	case SC_PMADVISE:
		pmadvise_ranges(tid, a[0], a[1], a[2], a[3], compat);
		break;
	}
}

/*
 * The process (thread group) of a thread, from /proc; and the thread's id
 * in its own pid namespace (the last of NSpid), which is what the hooks
 * inside it report.
 */
static long tgid_read(long tid, long *own_tid)
{
	char buf[2048], *p, *end;
	long v;

	*own_tid = tid;
	if (read_proc(tid, "status", buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "\nNSpid:");
	if (p) {
		for (p += 7; (v = strtol(p, &end, 10)) > 0 && end != p; p = end)
			*own_tid = v;
	}
	p = strstr(buf, "\nTgid:");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

/*
 * Reading status costs more than the rest of a notification, so the
 * answer is kept per thread.  A kept one still holds if TID is a thread
 * of TGID now (/proc/TGID/task/TID), whatever reuse of ids came between.
 */
#define TGID_CACHE 1024

static struct tgid_entry {
	long tid, tgid, own_tid;
} tgid_cache[TGID_CACHE];

static long tgid_of(long tid, long *own_tid)
{
	struct tgid_entry *c = &tgid_cache[tid % TGID_CACHE];
	char path[64];
	struct stat st;

	if (c->tid == tid) {
		snprintf(path, sizeof(path), "/proc/%ld/task/%ld", c->tgid,
			 tid);
		if (!stat(path, &st)) {
			*own_tid = c->own_tid;
			return c->tgid;
		}
	}
	c->tgid = tgid_read(tid, &c->own_tid);
	c->tid = c->tgid > 0 ? tid : 0;
	*own_tid = c->own_tid;
	return c->tgid;
}

static int records_fd = -1;

/* One stopped call: work out its ranges, let it go on, record them. */
static void notification(void)
{
	long tid, own_tid = 0, pid = -1;
	int i, j;

	memset(notif, 0, notif_size);
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, notif))
		return; /* EINTR, or ENOENT: the caller is gone */
	sup.stopped++;
	tid = notif->pid;
	classify(notif);
	if (nsranges)
		pid = tgid_of(tid, &own_tid);
	/*
	 * What /proc said was about the caller, stopped in this call, only if
	 * the notification is still valid (not a new task with its tid).
	 */
	if (nsranges &&
	    (pid < 0 ||
	     ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &notif->id))) {
		sup.vanished++;
		nsranges = 0;
	}
	if (!answer(notif->id) && nsranges) {
		/* Not made now: a restarted call is stopped again. */
		sup.vanished++;
		return;
	}
	if (!nsranges)
		return;
	/* The hooks' record of this call was sent before it: read it. */
	if (records_fd >= 0)
		drain(records_fd);
	for (i = 0; i < nsranges; i++) {
		struct srange *r = &sranges[i];
		struct ev e = { .pid = r->pid ? r->pid : pid, .tid = tid };

		for (j = 0; j < npending; j++)
			if (pending[j].tid == own_tid &&
			    pending[j].start == r->start &&
			    !strcmp(pending[j].call, r->syscall))
				break;
		if (j < npending) {
			/* The hook's call and kind; ids in our pid
			 * namespace. */
			e = pending[j];
			e.pid = r->pid ? r->pid : pid;
			e.tid = tid;
			npending--;
			memmove(&pending[j], &pending[j + 1],
				(npending - j) * sizeof(pending[0]));
			snprintf(e.syscall, sizeof(e.syscall), "%s",
				 r->syscall);
			sup.merged++;
			emit_event(&e);
			continue;
		}
		e.start = r->start;
		e.end = r->end;
		snprintf(e.umn_event, sizeof(e.umn_event), "%s", r->umn_event);
		snprintf(e.event, sizeof(e.event), "%s", r->event);
		snprintf(e.call, sizeof(e.call), "%s", r->syscall);
		snprintf(e.source, sizeof(e.source), "seccomp");
		snprintf(e.syscall, sizeof(e.syscall), "%s", r->syscall);
		sup.alone++;
		emit_event(&e);
	}
}

/*
 * The program has exited and descendants still use the filter: leave a
 * process that lets their calls go on until the last one has gone (when
 * the listener closes, each stopped call fails with ENOSYS).
 */
static void detach_answerer(void)
{
	struct pollfd pfd = { .fd = listener, .events = POLLIN };
	pid_t pid = fork();
	int fd;

	if (pid != 0) {
		if (pid < 0)
			perror("umn-watch: fork");
		return;
	}
	setsid();
	for (fd = 0; fd < 1024; fd++)
		if (fd != listener)
			close(fd);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	for (;;) {
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd.revents & POLLIN) {
			memset(notif, 0, notif_size);
			if (!ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, notif))
				answer(notif->id);
			continue;
		}
		if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))
			break;
	}
	_exit(0);
}

/* huge_default: from /proc/meminfo, 2 MiB if unknown. */
static void read_huge_default(void)
{
	char buf[4096], *p;

	ssize_t n = 0;
	int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);

	huge_default = 2UL << 20;
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	p = strstr(buf, "Hugepagesize:");
	if (p && strtoul(p + 13, NULL, 10))
		huge_default = strtoul(p + 13, NULL, 10) << 10;
}

/*
 * In the child: install the filter and hand its listener to the launcher
 * (ctl >= 0), hand the socket down, set the environment, exec.
 */
static void run(int sock, int ctl, const char *preload, char **argv)
{
	char val[96];
	struct stat st;
	const char *old;
	char *ld;
	int fd;

	if (ctl >= 0) {
		/* Nothing here may stop before the launcher has the
		 * listener: sendmsg() is not stopped, and it allocates
		 * nothing. */
		fd = install_filter();
		send_listener(ctl, fd, fd < 0 ? -fd : 0);
		/* Supervised, the hooks add the libc call to each record;
		 * userfaultfd would only repeat, after the fact, what the
		 * supervisor recorded, at a cost to the program (a classic
		 * notifier has it register every mapping). */
		if (fd >= 0 && !getenv("UMN_PROC_SOURCES"))
			setenv("UMN_PROC_SOURCES", "hooks", 1);
		if (fd >= 0)
			close(fd);
		close(ctl);
	}
	fd = fcntl(sock, F_DUPFD, WATCH_FD_MIN); /* without FD_CLOEXEC */
	if (fd < 0 || fstat(fd, &st))
		goto fail;
	snprintf(val, sizeof(val), "%d:%llu:%llu", fd,
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	if (setenv("UMN_WATCH_FD", val, 1))
		goto fail;
	if (preload) {
		old = getenv("LD_PRELOAD");
		if (old && *old) {
			ld = malloc(strlen(old) + strlen(preload) + 2);
			if (!ld)
				goto fail;
			sprintf(ld, "%s:%s", old, preload);
		} else {
			ld = (char *)preload;
		}
		if (setenv("LD_PRELOAD", ld, 1))
			goto fail;
	}
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	execvp(argv[0], argv);
	fprintf(stderr, "umn-watch: %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
fail:
	fprintf(stderr, "umn-watch: setting up the child: %s\n",
		strerror(errno));
	_exit(127);
}

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

/* A child changed state: ask waitpid() (not at every notification). */
static volatile sig_atomic_t child_changed = 1;

static void chld(int sig)
{
	(void)sig;
	child_changed = 1;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Set up the supervisor's side before fork; false (and why) if it cannot
 * work here. */
static bool supervisor_possible(void)
{
	const char *why = NULL;

	page_size = (unsigned long)sysconf(_SC_PAGESIZE);
	read_huge_default();
	if (!build_filter())
		why = "not built for this architecture";
	else if (!kernel_can_continue())
		why = "Linux 5.5 or later is needed";
	else if (!notif_alloc())
		why = "SECCOMP_GET_NOTIF_SIZES failed";
	if (why)
		fprintf(stderr,
			"umn-watch: no seccomp supervisor (%s): only umn's "
			"sources inside the program watch it\n",
			why);
	return !why;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "sources", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-follow-fork", no_argument, NULL, 'F' },
		{ "no-preload", no_argument, NULL, 'P' },
		{ "no-supervisor", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *json_path = NULL, *sources = NULL;
	bool set_sources = false, preload_it = true, supervise = true;
	bool sock_open = true, exited = false;
	struct sigaction sa = { .sa_handler = forward, .sa_flags = SA_RESTART };
	int sv[2], ctl[2] = { -1, -1 }, status = 0, o, rc, i;
	struct pollfd pfd[2];
	char *preload = NULL;
	long deadline = 0;
	pid_t w;

	while ((o = getopt_long(argc, argv, "+q", longs, NULL)) != -1) {
		switch (o) {
		case 'j':
			json_path = optarg;
			break;
		case 's':
			if (parse_sources(optarg, &sources)) {
				fprintf(stderr,
					"umn-watch: --sources: hooks, uffd, "
					"hooks,uffd, all or none\n");
				return 2;
			}
			set_sources = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'F':
			setenv("UMN_WATCH_FORK", "0", 1);
			break;
		case 'P':
			preload_it = false;
			break;
		case 'S':
			supervise = false;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs("usage: umn-watch [--json FILE] [--sources LIST] "
			      "[--quiet] -- PROGRAM [ARGS...]\n"
			      "(umn-watch --help tells more)\n",
			      stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs("umn-watch: no program given (umn-watch --help)\n",
		      stderr);
		return 2;
	}
	if (set_sources)
		setenv("UMN_PROC_SOURCES", sources ? sources : "all", 1);
	if (preload_it) {
		preload = find_preload();
		if (!preload) {
			fprintf(stderr,
				"umn-watch: libumn-watch.so not found (set "
				"UMN_WATCH_PRELOAD)\n");
			return 2;
		}
	}
	if (json_path) {
		json = fopen(json_path, "we");
		if (!json) {
			fprintf(stderr, "umn-watch: %s: %s\n", json_path,
				strerror(errno));
			return 2;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		perror("umn-watch: socketpair");
		return 2;
	}
	if (supervise && supervisor_possible() &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl)) {
		perror("umn-watch: socketpair");
		return 2;
	}
	/* The terminal's ^C and ^\ are for the program; we report after. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = chld;
	sigaction(SIGCHLD, &sa, NULL);
	child = fork();
	if (child < 0) {
		perror("umn-watch: fork");
		return 2;
	}
	if (child == 0) {
		if (ctl[0] >= 0)
			close(ctl[0]);
		run(sv[1], ctl[1], preload, argv + optind);
	}
	close(sv[1]);
	/* The program's calls wait for us: we must not die of a closed
	 * pipe while it runs. */
	signal(SIGPIPE, SIG_IGN);
	if (ctl[0] >= 0) {
		close(ctl[1]);
		listener = recv_listener(ctl[0]);
		close(ctl[0]);
		if (listener < 0)
			fprintf(stderr,
				"umn-watch: no seccomp supervisor (the "
				"filter: %s): only umn's sources inside the "
				"program watch it\n",
				strerror(-listener));
		supervised = listener >= 0;
		/* Older kernels say EINVAL: only slower. */
		if (supervised)
			ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
			      SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
	}
	records_fd = sv[0];

	/*
	 * Answer the supervisor's notifications and read the records until
	 * the program has exited and every process holding the socket or
	 * using the filter has gone; once the program itself has exited,
	 * give its descendants one second.
	 */
	for (;;) {
		int n = 0, timeout = 100, ready;

		if (exited && !sock_open && listener < 0)
			break;
		if (exited) {
			long left = deadline - now_ms();

			if (left <= 0) {
				fprintf(stderr,
					"umn-watch: descendants of the program "
					"still run; not waiting for their "
					"reports%s\n",
					listener >= 0
						? " (a process left behind lets "
						  "their calls go on)"
						: "");
				break;
			}
			timeout = left < 100 ? (int)left : 100;
		}
		if (sock_open)
			pfd[n++] = (struct pollfd){ .fd = sv[0],
						    .events = POLLIN };
		if (listener >= 0)
			pfd[n++] = (struct pollfd){ .fd = listener,
						    .events = POLLIN };
		ready = poll(pfd, n, timeout);
		if (ready < 0 && errno != EINTR) {
			perror("umn-watch: poll");
			break;
		}
		for (i = 0; ready > 0 && i < n; i++) {
			if (pfd[i].fd == listener) {
				if (pfd[i].revents & POLLIN) {
					notification();
				} else if (pfd[i].revents) {
					/* Nobody uses the filter any more. */
					close(listener);
					listener = -1;
				}
			} else if (pfd[i].revents) {
				sock_open = drain(sv[0]);
			}
		}
		if (!exited && (child_changed || ready == 0)) {
			child_changed = 0;
			w = waitpid(child, &status, WNOHANG);
			if (w == child) {
				exited = true;
				deadline = now_ms() + 1000;
			} else if (w < 0 && errno != EINTR) {
				perror("umn-watch: waitpid");
				exited = true;
				deadline = now_ms() + 1000;
			}
		}
	}
	if (listener >= 0)
		detach_answerer();
	while (!exited) {
		w = waitpid(child, &status, 0);
		exited = w == child || (w < 0 && errno != EINTR);
	}
	while (npending)
		pending_flush(0);
	summary();
	if (json && fclose(json)) {
		fprintf(stderr, "umn-watch: %s: %s\n", json_path,
			strerror(errno));
		return 2;
	}
	if (WIFSIGNALED(status))
		rc = 128 + WTERMSIG(status);
	else
		rc = WEXITSTATUS(status);
	return rc;
}
