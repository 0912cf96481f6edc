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
 *
 * This file holds the command line, the child's launch and the loop that
 * serves the program until it has ended; tools/watch.h lists the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "watch.h"

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

/* What the command line asks for. */
struct options {
	const char *json_path;
	const char *sources; /* UMN_PROC_SOURCES for --sources; NULL: all */
	bool set_sources, preload, supervise;
	char **argv; /* PROGRAM [ARGS...] */
};

/* The program's state, as the loop sees it. */
struct watched {
	int records;	/* our end of the records' socket */
	bool sock_open; /* someone still holds its far end */
	bool exited;	/* the program has (waitpid said so) */
	long deadline;	/* when to stop waiting for its descendants */
	int status;	/* the program's wait status */
};

static pid_t child; /* the program; signals forward() passes on go to it */

static void usage_error(void)
{
	fputs("usage: umn-watch [--json FILE] [--sources LIST] "
	      "[--quiet] -- PROGRAM [ARGS...]\n"
	      "(umn-watch --help tells more)\n",
	      stderr);
}

/* One option; -1 to go on, else the exit status. */
static int take_option(int o, struct options *opt)
{
	switch (o) {
	case 'j':
		opt->json_path = optarg;
		break;
	case 's':
		if (parse_sources(optarg, &opt->sources)) {
			fprintf(stderr, "umn-watch: --sources: hooks, uffd, "
					"hooks,uffd, all or none\n");
			return 2;
		}
		opt->set_sources = true;
		break;
	case 'q':
		quiet = true;
		break;
	case 'F':
		setenv("UMN_WATCH_FORK", "0", 1);
		break;
	case 'P':
		opt->preload = false;
		break;
	case 'S':
		opt->supervise = false;
		break;
	case 'h':
		fputs(usage_text, stdout);
		return 0;
	default:
		usage_error();
		return 2;
	}
	return -1;
}

/* The command line into @opt; -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, struct options *opt)
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
	int o, rc;

	*opt = (struct options){ .preload = true, .supervise = true };
	while ((o = getopt_long(argc, argv, "+q", longs, NULL)) != -1) {
		rc = take_option(o, opt);
		if (rc >= 0)
			return rc;
	}
	if (optind >= argc) {
		fputs("umn-watch: no program given (umn-watch --help)\n",
		      stderr);
		return 2;
	}
	opt->argv = argv + optind;
	return -1;
}

/* In the child: install the filter and send its listener over @ctl. */
static void hand_over_listener(int ctl)
{
	/* Nothing here may stop before the launcher has the listener:
	 * sendmsg() is not stopped, and it allocates nothing. */
	int fd = install_filter();

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

/*
 * In the child: the records' socket @sock at WATCH_FD_MIN or above,
 * inherited across exec, and UMN_WATCH_FD naming it; false (errno set)
 * if that failed.
 */
static bool pass_socket(int sock)
{
	char val[96];
	struct stat st;
	int fd = fcntl(sock, F_DUPFD, WATCH_FD_MIN); /* without FD_CLOEXEC */

	if (fd < 0 || fstat(fd, &st))
		return false;
	snprintf(val, sizeof(val), "%d:%llu:%llu", fd,
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	return !setenv("UMN_WATCH_FD", val, 1);
}

/* In the child: @preload at the end of LD_PRELOAD; false (errno set) if
 * that failed. */
static bool append_preload(const char *preload)
{
	const char *old = getenv("LD_PRELOAD");
	char *ld = (char *)preload;

	if (old && *old) {
		ld = malloc(strlen(old) + strlen(preload) + 2);
		if (!ld)
			return false;
		sprintf(ld, "%s:%s", old, preload);
	}
	return !setenv("LD_PRELOAD", ld, 1);
}

/*
 * In the child: install the filter and hand its listener to the launcher
 * (ctl >= 0), hand the socket down, set the environment, exec.
 */
static void run(int sock, int ctl, const char *preload, char **argv)
{
	if (ctl >= 0)
		hand_over_listener(ctl);
	if (!pass_socket(sock) || (preload && !append_preload(preload))) {
		fprintf(stderr, "umn-watch: setting up the child: %s\n",
			strerror(errno));
		_exit(127);
	}
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	execvp(argv[0], argv);
	fprintf(stderr, "umn-watch: %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
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

/*
 * Before fork: the environment, the preload library (into *preload), the
 * JSON file, the records' socket (sv) and, if the supervisor can work
 * here, the socket its listener comes over (ctl).  0, or the exit status.
 */
static int prepare(const struct options *opt, char **preload, int sv[2],
		   int ctl[2])
{
	if (opt->set_sources)
		setenv("UMN_PROC_SOURCES", opt->sources ? opt->sources : "all",
		       1);
	if (opt->preload) {
		*preload = find_preload();
		if (!*preload) {
			fprintf(stderr, "umn-watch: libumn-watch.so not found "
					"(set UMN_WATCH_PRELOAD)\n");
			return 2;
		}
	}
	if (opt->json_path) {
		json = fopen(opt->json_path, "we");
		if (!json) {
			fprintf(stderr, "umn-watch: %s: %s\n", opt->json_path,
				strerror(errno));
			return 2;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		perror("umn-watch: socketpair");
		return 2;
	}
	if (opt->supervise && supervisor_possible() &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl)) {
		perror("umn-watch: socketpair");
		return 2;
	}
	return 0;
}

/* The terminal's ^C and ^\ are for the program; we report after. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = forward, .sa_flags = SA_RESTART };

	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = chld;
	sigaction(SIGCHLD, &sa, NULL);
}

/* Fork and run the program; false if fork failed. */
static bool launch(const struct options *opt, const char *preload, int sv[2],
		   int ctl[2], struct watched *w)
{
	child = fork();
	if (child < 0) {
		perror("umn-watch: fork");
		return false;
	}
	if (child == 0) {
		if (ctl[0] >= 0)
			close(ctl[0]);
		run(sv[1], ctl[1], preload, opt->argv);
	}
	close(sv[1]);
	/* The program's calls wait for us: we must not die of a closed
	 * pipe while it runs. */
	signal(SIGPIPE, SIG_IGN);
	if (ctl[0] >= 0) {
		close(ctl[1]);
		take_listener(ctl[0]);
	}
	records_fd = sv[0];
	*w = (struct watched){ .records = sv[0], .sock_open = true };
	return true;
}

/*
 * How long the next poll may wait, in ms; -1 when the program's
 * descendants have had their second and we stop waiting for them.
 */
static int poll_timeout(const struct watched *w)
{
	long left;

	if (!w->exited)
		return 100;
	left = w->deadline - now_ms();
	if (left > 0)
		return left < 100 ? (int)left : 100;
	fprintf(stderr,
		"umn-watch: descendants of the program still run; not "
		"waiting for their reports%s\n",
		listener >= 0 ? " (a process left behind lets their calls go "
				"on)"
			      : "");
	return -1;
}

/* Serve what poll() found ready in @pfd[0, n). */
static void serve(struct watched *w, const struct pollfd *pfd, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (pfd[i].fd == listener) {
			if (pfd[i].revents & POLLIN) {
				notification();
			} else if (pfd[i].revents) {
				/* Nobody uses the filter any more. */
				close(listener);
				listener = -1;
			}
		} else if (pfd[i].revents) {
			w->sock_open = drain(w->records);
		}
	}
}

/* Has the program exited?  (Its descendants then get one second.) */
static void check_child(struct watched *w)
{
	pid_t got = waitpid(child, &w->status, WNOHANG);

	if (got == child) {
		w->exited = true;
		w->deadline = now_ms() + 1000;
	} else if (got < 0 && errno != EINTR) {
		perror("umn-watch: waitpid");
		w->exited = true;
		w->deadline = now_ms() + 1000;
	}
}

/*
 * Answer the supervisor's notifications and read the records until the
 * program has exited and every process holding the socket or using the
 * filter has gone; once the program itself has exited, give its
 * descendants one second.
 */
static void serve_until_done(struct watched *w)
{
	struct pollfd pfd[2];
	int n, timeout, ready;

	while (!w->exited || w->sock_open || listener >= 0) {
		timeout = poll_timeout(w);
		if (timeout < 0)
			break;
		n = 0;
		if (w->sock_open)
			pfd[n++] = (struct pollfd){ .fd = w->records,
						    .events = POLLIN };
		if (listener >= 0)
			pfd[n++] = (struct pollfd){ .fd = listener,
						    .events = POLLIN };
		ready = poll(pfd, n, timeout);
		if (ready < 0 && errno != EINTR) {
			perror("umn-watch: poll");
			break;
		}
		if (ready > 0)
			serve(w, pfd, n);
		if (!w->exited && (child_changed || ready == 0)) {
			child_changed = 0;
			check_child(w);
		}
	}
}

/* After the loop: the summary, the JSON file closed; the exit status. */
static int finish(struct watched *w, const char *json_path)
{
	pid_t got;

	if (listener >= 0)
		detach_answerer();
	while (!w->exited) {
		got = waitpid(child, &w->status, 0);
		w->exited = got == child || (got < 0 && errno != EINTR);
	}
	pending_flush_all();
	summary();
	if (json && fclose(json)) {
		fprintf(stderr, "umn-watch: %s: %s\n", json_path,
			strerror(errno));
		return 2;
	}
	if (WIFSIGNALED(w->status))
		return 128 + WTERMSIG(w->status);
	return WEXITSTATUS(w->status);
}

int main(int argc, char **argv)
{
	int sv[2], ctl[2] = { -1, -1 }, rc;
	struct options opt;
	struct watched w;
	char *preload = NULL;

	rc = parse_options(argc, argv, &opt);
	if (rc >= 0)
		return rc;
	rc = prepare(&opt, &preload, sv, ctl);
	if (rc)
		return rc;
	catch_signals();
	if (!launch(&opt, preload, sv, ctl, &w))
		return 2;
	serve_until_done(&w);
	return finish(&w, opt.json_path);
}
