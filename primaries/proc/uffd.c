// SPDX-License-Identifier: MIT
/*
 * primaries/proc/uffd.c - the kernel-side source: userfaultfd events.
 *
 * What it sees: UNMAP (munmap, and what mmap MAP_FIXED, mremap and brk
 * unmap), REMOVE (madvise DONTNEED and REMOVE) and REMAP (mremap moving
 * pages), by any code, raw syscall() included, on ranges registered with
 * our userfaultfd.  What the notifiers hear is registered (umn_mm_ops.
 * interval_added): an interval's range when it is inserted; every mapping
 * once a classic notifier is registered.  Write-protect mode with no page
 * ever write-protected, so no page fault ever comes to us.  Without
 * UFFD_FEATURE_WP_ASYNC (Linux 6.7) only anonymous, shmem and hugetlbfs
 * memory can be registered.
 *
 * A range is registered as the whole mappings (VMAs) it touches, each on
 * its own, found with one PROCMAP_QUERY ioctl each (Linux 6.11; a scan of
 * /proc/self/maps before): the cost of an insert is the kernel's own
 * UFFDIO_REGISTER, whatever the number of mappings and intervals.  What
 * replaces a registered mapping is registered again (rewatch, orphans),
 * and a hooked munmap or discard first unregisters its range, so that
 * the kernel does not tell it twice.
 *
 * Two threads, so that a callback may itself unmap registered memory: the
 * kernel holds the unmapping thread until its event is *read*, so the
 * reader only reads and queues, and the dispatcher runs the brackets.  If
 * the queue is full, later events merge into one wider range (never lost,
 * never blocking the reader) until the dispatcher catches up.
 *
 * The window it leaves: the kernel has already changed the mapping when
 * UNMAP and REMAP are queued, and the unmapping thread runs on once the
 * event is read, before the dispatcher's bracket ends.  Until it does, a
 * lookup may return a translation of the old pages.  REMOVE is queued
 * before the zap, and the bracket may end before it: a translation made
 * between them stays stale (docs/proc.md).  The hooks close both for
 * every call through libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../core/fail.h"
#include "../../core/primary.h"
#include "uffd.h"

#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15) /* Linux 6.7 */
#endif
#define EVENTS                                                  \
	(UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMOVE | \
	 UFFD_FEATURE_EVENT_REMAP)

struct uffd_source u = {
	.fd = -1,
	.maps_fd = -1,
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.sync_lock = PTHREAD_MUTEX_INITIALIZER,
};

static const struct proc_cause causes[] = {
	[EV_UNMAP] = { PROC_CAUSE_MAGIC,
		       { "uffd-unmap", "unmap", UMN_PROC_UFFD, 0 } },
	[EV_REMOVE] = { PROC_CAUSE_MAGIC,
			{ "uffd-remove", "discard", UMN_PROC_UFFD, 0 } },
	[EV_REMAP] = { PROC_CAUSE_MAGIC,
		       { "uffd-remap", "remap", UMN_PROC_UFFD, 0 } },
};

static int open_uffd(void)
{
	int fd;

	if (umn__fail_here())
		return -EMFILE;
	fd = (int)syscall(SYS_userfaultfd,
			  O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);

	if (fd < 0 && errno == EINVAL) /* before Linux 5.11 */
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == EPERM) { /* /dev/userfaultfd, Linux 6.1 */
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

		if (dev < 0)
			return -EPERM;
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		close(dev);
	}
	return fd < 0 ? -errno : fd;
}

/* An fd with the events, and write-protect without faults if possible. */
static int open_with_api(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	unsigned long long want;
	int fd = open_uffd();

	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api)) { /* features 0: ask what exists */
		close(fd);
		return -ENOSYS;
	}
	close(fd);
	if ((api.features & EVENTS) != EVENTS)
		return -ENOSYS;
	want = EVENTS | (api.features & (UFFD_FEATURE_WP_ASYNC |
					 UFFD_FEATURE_WP_HUGETLBFS_SHMEM));
	fd = open_uffd();
	if (fd < 0)
		return fd;
	api = (struct uffdio_api){ .api = UFFD_API, .features = want };
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -ENOSYS;
	}
	return fd;
}

/* Under u.lock. */
static void push(struct event ev)
{
	struct event *o = &u.overflow;

	umn__lock_assert_held(&u.lock, "u.lock", UMN__LOCK_EXCL);
	if (!u.overflowing && u.len < QUEUE) {
		u.queue[(u.head + u.len++) % QUEUE] = ev;
	} else if (ev.type == EV_SYNC) {
		u.overflow_syncs++;
	} else if (!u.overflowing) {
		u.overflowing = true;
		u.overflows++;
		*o = (struct event){ ev.start, ev.end, EV_UNMAP };
	} else {
		o->start = ev.start < o->start ? ev.start : o->start;
		o->end = ev.end > o->end ? ev.end : o->end;
	}
	pthread_cond_broadcast(&u.cond);
}

static void queue_msg(const struct uffd_msg *m)
{
	struct event ev;

	switch (m->event) {
	case UFFD_EVENT_UNMAP:
	case UFFD_EVENT_REMOVE:
		ev.start = m->arg.remove.start;
		ev.end = m->arg.remove.end;
		ev.type = m->event == UFFD_EVENT_UNMAP ? EV_UNMAP : EV_REMOVE;
		if (ev.start == (unsigned long)u.sentinel &&
		    ev.type == EV_REMOVE)
			ev.type = EV_SYNC;
		break;
	case UFFD_EVENT_REMAP:
		ev.start = m->arg.remap.from;
		ev.end = m->arg.remap.from + m->arg.remap.len;
		ev.type = EV_REMAP;
		break;
	default:
		return;
	}
	umn__mutex_lock(&u.lock, "u.lock");
	push(ev);
	umn__mutex_unlock(&u.lock, "u.lock");
}

static void *reader(void *arg)
{
	struct uffd_msg msgs[16];
	struct pollfd pfd = { .fd = (int)(intptr_t)arg, .events = POLLIN };
	ssize_t n;

	for (;;) {
		if (poll(&pfd, 1, -1) < 0)
			continue;
		n = read(pfd.fd, msgs, sizeof(msgs));
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++)
			queue_msg(&msgs[i]);
	}
	return NULL;
}

static void push_locked(struct event ev);

/*
 * Orphans left by hooked calls, posted for the dispatcher without u.lock
 * (so without holding the caller's signals, two system calls): a slot is
 * claimed with a compare-and-swap, which a signal handler on top of a
 * post can do too.  The dispatcher takes them before its next event or
 * sync, as it would an orphan queued (waking it now, to find the hole
 * still a hole, would cost the call a wake-up of another thread).  When
 * every slot is taken, the orphan is queued, which wakes the dispatcher:
 * it takes them all.
 */
#define POSTED 16
enum { POST_FREE, POST_WRITING, POST_FULL };
static struct {
	unsigned long start, end;
	int state;
} posted[POSTED];

static bool post_orphan(unsigned long start, unsigned long end)
{
	for (int i = 0; i < POSTED; i++) {
		int free = POST_FREE;

		if (!__atomic_compare_exchange_n(
			    &posted[i].state, &free, POST_WRITING, false,
			    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		posted[i].start = start;
		posted[i].end = end;
		__atomic_store_n(&posted[i].state, POST_FULL, __ATOMIC_RELEASE);
		return true;
	}
	return false;
}

/*
 * After the call, still inside its bracket: register again what is
 * mapped there and heard (a discard, a failed munmap; the unregister
 * split the mappings: whole again); what is not mapped (the munmap, or
 * another thread's raw one meanwhile) the dispatcher keeps as an orphan,
 * while an interval overlaps it, for when something is mapped there.
 * After a munmap that succeeded (@unmapped) the range is a hole: no
 * need to ask the kernel what is mapped there (a mapping another thread
 * makes there meanwhile is the orphan's to find, as after any munmap),
 * nor, here, whether an interval overlaps it: the dispatcher drops an
 * orphan that none overlaps.
 */
void umn__proc_uffd_after(unsigned long start, unsigned long end, bool unmapped)
{
	int fd = __atomic_load_n(&u.fd, __ATOMIC_ACQUIRE);
	struct walk w = { fd, start, end, false, 0, 0 };

	if (fd < 0 || !u.mm)
		return;
	if (unmapped)
		w.lo = start, w.hi = end;
	else
		w = watch_mappings(fd, start, end, false);
	if (w.lo < w.hi && !post_orphan(w.lo, w.hi))
		push_locked((struct event){ w.lo, w.hi, EV_ORPHAN });
}

/*
 * After the kernel unmapped or moved a range (UNMAP, REMAP), whatever is
 * mapped there now is a new mapping, which userfaultfd does not watch
 * (mmap MAP_FIXED, shmat SHM_REMAP, or a munmap and then an mmap).  While
 * a notifier hears the range, register what is there, each mapping
 * whole, before the bracket ends (so before read_begin lets anyone
 * register there anew).
 *
 * The holes that an interval overlaps are an orphan: tried again before
 * each later event and each sync, shrunk to the holes still left, until
 * something is mapped and registered there, or no interval overlaps
 * them.  (A hooked mmap registers at once: umn__proc_uffd_watch_new.)  An
 * unmap of a new mapping before it was registered is missed by
 * userfaultfd: a raw munmap, then a raw mmap, then a raw munmap, with no
 * event or sync between them.  The orphans are the dispatcher's own; when
 * they are full, the last one widens (a wider walk, registering only what
 * is heard).
 */
#define ORPHANS 64
#define ALL_END (~0UL & ~(UMN_PAGE_SIZE - 1)) /* above every mapping */
static struct {
	unsigned long start, end;
} orphans[ORPHANS];
static unsigned int norphans;

/* Keep [lo, hi) as an orphan (the last one widens when they are full). */
static void keep_orphan(unsigned long lo, unsigned long hi)
{
	if (norphans < ORPHANS) {
		orphans[norphans].start = lo;
		orphans[norphans++].end = hi;
		return;
	}
	if (lo < orphans[ORPHANS - 1].start)
		orphans[ORPHANS - 1].start = lo;
	if (hi > orphans[ORPHANS - 1].end)
		orphans[ORPHANS - 1].end = hi;
}

/* The dispatcher's: take the posted orphans as its own. */
static void take_posted(void)
{
	for (int i = 0; i < POSTED; i++) {
		if (__atomic_load_n(&posted[i].state, __ATOMIC_ACQUIRE) !=
		    POST_FULL)
			continue;
		keep_orphan(posted[i].start, posted[i].end);
		__atomic_store_n(&posted[i].state, POST_FREE, __ATOMIC_RELEASE);
	}
}

static void rewatch(int fd, unsigned long start, unsigned long end)
{
	struct walk w = watch_mappings(fd, start, end, false);

	if (w.lo < w.hi)
		keep_orphan(w.lo, w.hi);
}

static void adopt_orphans(int fd)
{
	unsigned int i = 0;
	struct walk w;

	while (i < norphans) {
		w = watch_mappings(fd, orphans[i].start, orphans[i].end, false);
		if (w.lo >= w.hi) {
			orphans[i] = orphans[--norphans];
			continue;
		}
		orphans[i].start = w.lo;
		orphans[i++].end = w.hi;
	}
}

static void *dispatcher(void *arg)
{
	struct umn_mm *mm;
	struct event ev;
	unsigned long syncs;
	int fd;

	(void)arg;
	for (;;) {
		umn__mutex_lock(&u.lock, "u.lock");
		while (!u.len && !u.overflowing)
			pthread_cond_wait(&u.cond, &u.lock);
		syncs = 0;
		if (u.len) {
			ev = u.queue[u.head];
			u.head = (u.head + 1) % QUEUE;
			u.len--;
		} else {
			ev = u.overflow;
			syncs = u.overflow_syncs;
			u.overflow_syncs = 0;
			u.overflowing = false;
		}
		umn__mutex_unlock(&u.lock, "u.lock");

		mm = umn__proc_mm_if(UMN_PROC_UFFD);
		fd = __atomic_load_n(&u.fd, __ATOMIC_ACQUIRE);
		take_posted();
		if (mm && fd >= 0 && norphans)
			adopt_orphans(fd);
		if ((ev.type == EV_UNMAP || ev.type == EV_REMAP ||
		     ev.type == EV_ORPHAN) &&
		    mm && fd >= 0 && ev.start < ev.end)
			rewatch(fd, ev.start, ev.end);
		/* Catch up with the mappings made out of sight. */
		if ((ev.type == EV_SYNC || syncs) && mm && fd >= 0 &&
		    __atomic_load_n(&watch_all, __ATOMIC_ACQUIRE))
			watch_mappings(fd, 0, ALL_END, false);
		if (ev.type != EV_SYNC && ev.type != EV_ORPHAN && mm &&
		    ev.start < ev.end)
			umn__proc_bracket(
				mm, ev.start, ev.end,
				ev.type == EV_REMOVE ? UMN_EVENT_CLEAR
						     : UMN_EVENT_UNMAP,
				(struct proc_cause *)&causes[ev.type]);
		if (ev.type == EV_SYNC || syncs) {
			umn__mutex_lock(&u.lock, "u.lock");
			u.syncs_done += syncs + (ev.type == EV_SYNC);
			pthread_cond_broadcast(&u.cond);
			umn__mutex_unlock(&u.lock, "u.lock");
		}
	}
	return NULL;
}

/*
 * A thread of ours is running its function when start_thread() returns.
 * Its start-up (a sanitizer's runtime maps per-thread memory then, with
 * MAP_FIXED) must not come after a registration over that memory: the
 * reader would wait for its own event.
 */
struct starting {
	void *(*fn)(void *);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running;
};

static void *started(void *p)
{
	struct starting *s = p;
	void *(*fn)(void *) = s->fn;
	void *arg = s->arg;

	pthread_mutex_lock(&s->lock);
	s->running = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock); /* s is gone from here */
	return fn(arg);
}

static int start_thread(void *(*fn)(void *), void *arg)
{
	struct starting s = { fn, arg, PTHREAD_MUTEX_INITIALIZER,
			      PTHREAD_COND_INITIALIZER, false };
	sigset_t all, saved;
	pthread_t t;
	int ret;

	if (umn__fail_here())
		return -EAGAIN;
	/* Our threads take no signal (they inherit the mask): a handler
	 * there could unmap. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	ret = pthread_create(&t, NULL, started, &s);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (ret)
		return -ret;
	pthread_detach(t);
	pthread_mutex_lock(&s.lock);
	while (!s.running)
		pthread_cond_wait(&s.cond, &s.lock);
	pthread_mutex_unlock(&s.lock);
	return 0;
}

/*
 * Under umn_proc_start()'s lock.  The dispatcher and the sentinel page are
 * made once and kept across a failed start; the reader serves one fd and
 * is started last, so that a failure leaves no thread on a closed fd.
 */
static bool dispatching; /* the dispatcher runs (under the start lock) */

int umn__proc_uffd_start(struct umn_mm *mm)
{
	const long page = sysconf(_SC_PAGESIZE);
	int fd, ret;

	umn__proc_assert_start_held();
	if (u.fd >= 0)
		return 0;
	fd = open_with_api();
	if (fd < 0)
		return fd;
	if (!u.sentinel) {
		void *p = umn__fail_here()
				  ? MAP_FAILED
				  : mmap(NULL, page, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			close(fd);
			return -ENOMEM;
		}
		u.sentinel = p;
	}
	u.mm = mm;
	if (u.maps_fd < 0) /* kept: PROCMAP_QUERY asks it (next_vma) */
		u.maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	ret = register_range(fd, (unsigned long)u.sentinel,
			     (unsigned long)u.sentinel + page);
	if (!ret && !dispatching) {
		ret = start_thread(dispatcher, NULL);
		dispatching = !ret;
	}
	if (!ret)
		ret = start_thread(reader, (void *)(intptr_t)fd);
	if (ret) {
		close(fd);
		return ret;
	}
	__atomic_store_n(&u.fd, fd, __ATOMIC_RELEASE);
	return 0;
}

/*
 * u.lock, from an application thread: its signals are held meanwhile.  The
 * reader needs u.lock to queue what it read, and the kernel holds a thread
 * that unmaps registered memory until the reader has read: a handler that
 * did so while its thread held u.lock would wait for itself.
 */
static void lock_u(void)
{
	umn__signals_hold();
	umn__mutex_lock(&u.lock, "u.lock");
}

static void unlock_u(void)
{
	umn__mutex_unlock(&u.lock, "u.lock");
	umn__signals_release();
}

/* From an application thread (a hook's end, maybe a signal handler). */
static void push_locked(struct event ev)
{
	lock_u();
	push(ev);
	unlock_u();
}

int umn__proc_uffd_sync(void)
{
	unsigned long target;

	if (__atomic_load_n(&u.fd, __ATOMIC_ACQUIRE) < 0 ||
	    !(umn_proc_sources() & UMN_PROC_UFFD))
		return -ENOTCONN;
	pthread_mutex_lock(&u.sync_lock);
	lock_u();
	target = u.syncs_done + 1;
	unlock_u();
	/* Queued after every event before it; returns once it is read. */
	syscall(SYS_madvise, u.sentinel, sysconf(_SC_PAGESIZE), MADV_DONTNEED);
	lock_u();
	while (u.syncs_done < target)
		umn__held_cond_wait(&u.cond, &u.lock, "u.lock");
	unlock_u();
	pthread_mutex_unlock(&u.sync_lock);
	return 0;
}

void umn__proc_uffd_forget(void)
{
	if (u.fd >= 0)
		close(u.fd);
	if (u.maps_fd >= 0) /* the parent's mm */
		close(u.maps_fd);
	u.fd = u.maps_fd = -1;
	memset(watched_granules, 0, sizeof(watched_granules));
	norphans = 0;
	memset(posted, 0, sizeof(posted));
	watch_all = false;
	dispatching = false;
	u.len = 0;
	u.overflowing = false;
	u.overflow_syncs = 0;
	u.syncs_done = 0;
	/* Static initializers: nothing to fail, nowhere to report it. */
	u.lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	u.cond = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	u.sync_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
}

void umn__proc_uffd_stats(struct umn_proc_stats *stats)
{

	stats->uffd_ranges = __atomic_load_n(&u.ranges, __ATOMIC_RELAXED);
	stats->uffd_refused = __atomic_load_n(&u.refused, __ATOMIC_RELAXED);
	lock_u();
	stats->uffd_overflows = u.overflows;
	unlock_u();
}
