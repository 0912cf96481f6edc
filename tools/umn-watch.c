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
 * It holds no logic of its own: what is seen, and what is missed, is what
 * umn's process primary (umn/proc.h, docs/proc.md) sees and misses.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
	"              [--no-follow-fork] [--no-preload] -- PROGRAM [ARGS...]\n"
	"\n"
	"DESCRIPTION\n"
	"    Runs PROGRAM (dynamically linked) with libumn-watch.so preloaded:\n"
	"    the program becomes a primary MMU for umn (umn/proc.h) and a\n"
	"    notifier on it reports each invalidation of its memory: the range,\n"
	"    the event, the call that caused it, the source that saw it and the\n"
	"    thread that made the call.  Each is printed on standard error as\n"
	"\n"
	"        umn-watch: PID/TID CALL EVENT 0xSTART-0xEND SIZE SOURCE\n"
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
	"           \"call\":\"...\",\"source\":\"...\"}\n"
	"        start and end are hexadecimal strings, [start, end), page\n"
	"        aligned.  event: unmap, remap, discard (madvise), replace\n"
	"        (MAP_FIXED, SHM_REMAP) or shrink (brk).  umn_event: the\n"
	"        range's enum umn_event (unmap, clear, ...).  call: the libc\n"
	"        function (munmap, mremap, madvise, mmap, brk, shmat, shmdt;\n"
	"        those glibc calls inside free, realloc, malloc_trim, sbrk\n"
	"        included) or, for userfaultfd, the kernel's event\n"
	"        (uffd-unmap, uffd-remove, uffd-remap).  source: hooks or uffd.\n"
	"        tid: the thread that made the call; 0 when the source does not\n"
	"        know it (uffd).  Objects appear in the order the records\n"
	"        arrived; those of the userfaultfd source arrive after the\n"
	"        kernel acted.\n"
	"    --sources LIST\n"
	"        hooks, uffd, hooks,uffd, all or none.  Default: all (every\n"
	"        source that works here), or what UMN_PROC_SOURCES says if it\n"
	"        is set.  A source named in LIST that cannot work here is an\n"
	"        error of the program's umn_proc_start(), reported, and the\n"
	"        program then runs unwatched.\n"
	"    --quiet, -q\n"
	"        Print only the summary.\n"
	"    --no-follow-fork\n"
	"        Do not watch the children that fork() makes (UMN_WATCH_FORK=0).\n"
	"    --no-preload\n"
	"        Do not touch LD_PRELOAD: PROGRAM already links libumn-watch.so\n"
	"        (sanitizer builds, where a preload cannot work).\n"
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
	"    library; umn-watch says so.  A program that closes descriptors it\n"
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

static void event_record(char **f)
{
	unsigned long start = strtoul(f[3], NULL, 16);
	unsigned long end = strtoul(f[4], NULL, 16);
	unsigned long long bytes = end > start ? end - start : 0;
	char size[32];

	total.events++;
	total.bytes += bytes;
	tally_add(&by_call, f[7], bytes);
	tally_add(&by_source, f[8], bytes);
	tally_add(&by_event, f[6], bytes);
	if (!quiet)
		fprintf(stderr, "umn-watch: %s/%s %-7s %-7s %#lx-%#lx %s %s\n",
			f[1], strcmp(f[2], "0") ? f[2] : "-", f[7], f[6], start,
			end, human(bytes, size, sizeof(size)), f[8]);
	if (json) {
		fprintf(json, "{\"pid\":%ld,\"tid\":%ld,",
			strtol(f[1], NULL, 10), strtol(f[2], NULL, 10));
		fprintf(json, "\"start\":\"%#lx\",\"end\":\"%#lx\",", start,
			end);
		fprintf(json, "\"bytes\":%llu,", bytes);
		json_str("event", f[6], true);
		json_str("umn_event", f[5], true);
		json_str("call", f[7], true);
		json_str("source", f[8], false);
		fprintf(json, "}\n");
	}
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
	if (!total.images && !total.failed)
		fprintf(stderr,
			"umn-watch: the program never loaded libumn-watch.so "
			"(statically linked? set-user-ID?): nothing was "
			"watched\n");
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

/* In the child: hand the socket down, set the environment, exec. */
static void run(int sock, const char *preload, char **argv)
{
	char val[96];
	struct stat st;
	const char *old;
	char *ld;
	int fd;

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

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "sources", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-follow-fork", no_argument, NULL, 'F' },
		{ "no-preload", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *json_path = NULL, *sources = NULL;
	bool set_sources = false, preload_it = true;
	struct sigaction sa = { .sa_handler = forward };
	int sv[2], status, o, rc;
	struct pollfd pfd;
	bool more = true;
	char *preload = NULL;
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
	if (set_sources) {
		if (sources)
			setenv("UMN_PROC_SOURCES", sources, 1);
		else
			unsetenv("UMN_PROC_SOURCES");
	}
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
	/* The terminal's ^C and ^\ are for the program; we report after. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	child = fork();
	if (child < 0) {
		perror("umn-watch: fork");
		return 2;
	}
	if (child == 0)
		run(sv[1], preload, argv + optind);
	close(sv[1]);

	/*
	 * Read until every process holding the socket has gone; once the
	 * program itself has exited, give its descendants one second.
	 */
	pfd.fd = sv[0];
	pfd.events = POLLIN;
	w = 0;
	while (more) {
		int ready = poll(&pfd, 1, w == child ? 1000 : 100);

		if (ready < 0 && errno != EINTR)
			break;
		if (ready > 0)
			more = drain(sv[0]);
		if (w != child) {
			w = waitpid(child, &status, WNOHANG);
			if (w < 0 && errno != EINTR)
				break;
		} else if (ready == 0) {
			fprintf(stderr,
				"umn-watch: descendants of the program still "
				"run; not waiting for their reports\n");
			break;
		}
	}
	while (w != child) {
		w = waitpid(child, &status, 0);
		if (w < 0 && errno != EINTR) {
			perror("umn-watch: waitpid");
			return 2;
		}
	}
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
