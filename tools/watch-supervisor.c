// SPDX-License-Identifier: MIT
/*
 * umn-watch's supervisor: each system call the filter stopped is read
 * from the listener, its ranges worked out (watch-ranges.c), the call let
 * go on (SECCOMP_USER_NOTIF_FLAG_CONTINUE), and the ranges recorded,
 * merged with the hooks' record of the same call where there is one.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "watch.h"

/* Linux 6.6: the stopped caller and umn-watch hand over the CPU to each
 * other rather than wake each other on another one. */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

int listener = -1;
int records_fd = -1;
static struct seccomp_notif *notif;
static struct seccomp_notif_resp *notif_resp;
static size_t notif_size, resp_size;

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

/* Record the range @r of a call that thread @tid (@own_tid in its own pid
 * namespace) of process @pid made: merged with the hooks' record of the
 * call if they sent one, else the supervisor's alone. */
static void record_range(const struct srange *r, long pid, long tid,
			 long own_tid)
{
	struct ev e = { .pid = r->pid ? r->pid : pid, .tid = tid };

	if (pending_take(own_tid, r->start, r->syscall, &e)) {
		/* The hook's call and kind; ids in our pid namespace. */
		e.pid = r->pid ? r->pid : pid;
		e.tid = tid;
		snprintf(e.syscall, sizeof(e.syscall), "%s", r->syscall);
		sup.merged++;
		emit_event(&e);
		return;
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

void notification(void)
{
	long tid, own_tid = 0, pid = -1;
	int i;

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
	for (i = 0; i < nsranges; i++)
		record_range(&sranges[i], pid, tid, own_tid);
}

/*
 * When the listener closes, each stopped call fails with ENOSYS: the
 * process left behind lets their calls go on until the last one has gone.
 */
void detach_answerer(void)
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

bool supervisor_possible(void)
{
	const char *why = NULL;

	ranges_init();
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

void take_listener(int ctl)
{
	listener = recv_listener(ctl);
	close(ctl);
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
