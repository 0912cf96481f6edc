// SPDX-License-Identifier: MIT
/*
 * primaries/proc/hooks.c - what libc's calls become once patched.
 *
 * Each hook has its libc function's signature.  It works out the range the
 * kernel is about to change, opens the bracket (start runs here, in the
 * caller's thread, before the kernel acts), makes the system call itself
 * (the original entry point is overwritten; glibc's syscall() is not), then
 * closes the bracket (invalidate_range and end) and returns what the
 * kernel returned, with errno as libc would leave it.
 *
 * Bad input passes through untouched: a misaligned address, a zero
 * length, a range that wraps: no bracket, and the kernel's own error.  A
 * well-formed range with nothing mapped (munmap of a hole) still fires a
 * bracket, which finds no translation to remove: harmless.
 *
 * Until the mm's first notifier, a hook only holds the RCU read lock
 * around its test and its system call: no bracket (proc.c, the fast
 * path).  The hooks never allocate and take no lock of their own; the
 * core takes its lock only when an interval may overlap the range, with
 * the thread's signals held.  They may be entered from a signal handler and from a
 * notifier callback (a callback that frees memory).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <linux/magic.h>
#include <sys/shm.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../core/primary.h"
#include "../../core/rcu.h"
#include "proc.h"

/*
 * The kernel's page size, read at start: 4 KiB on x86-64, and 4, 16 or
 * 64 KiB on aarch64.  The kernel rounds a length up to its page, so the
 * brackets must too (a munmap of 4 KiB unmaps 64 KiB there); it is a
 * multiple of UMN_PAGE_SIZE, so the ranges stay valid umn ranges.
 */
static unsigned long kernel_page = UMN_PAGE_SIZE;
#define PAGE_MASK (kernel_page - 1)

/* glibc's idea of the break, which its brk() keeps (set by patch.c). */
void **umn__proc_curbrk;

static _Thread_local pid_t cached_tid;

static pid_t this_tid(void)
{
	if (!cached_tid)
		cached_tid = (pid_t)syscall(SYS_gettid);
	return cached_tid;
}

/* In a forked child (its only thread is the one that forked). */
void umn__proc_hooks_forget(void)
{
	cached_tid = 0;
}

/* The default huge page size, read at start (the hooks must not read
 * files on every call); 2 MiB if unknown. */
static unsigned long huge_default = 2UL << 20;

void umn__proc_hooks_init(void)
{
	char buf[4096];
	const char *p;
	long n, fd = syscall(SYS_openat, AT_FDCWD, "/proc/meminfo",
			     O_RDONLY | O_CLOEXEC);
	unsigned long page = getauxval(AT_PAGESZ);

	if (page > UMN_PAGE_SIZE && !(page & (page - 1)))
		kernel_page = page;
	if (fd < 0)
		return;
	n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	p = strstr(buf, "Hugepagesize:");
	if (p && strtoul(p + 13, NULL, 10))
		huge_default = strtoul(p + 13, NULL, 10) << 10;
}

struct call {
	struct umn_range range;
	struct proc_cause cause;
	bool open; /* started: end it */
	bool fast; /* no notifier when tested: in the RCU window */
};

/* [addr, addr + len rounded up to pages) if well formed. */
static bool page_range(unsigned long addr, size_t len, unsigned long *end)
{
	unsigned long rounded = (len + PAGE_MASK) & ~PAGE_MASK;

	if ((addr & PAGE_MASK) || !len || rounded < len ||
	    addr + rounded < addr)
		return false;
	*end = addr + rounded;
	return true;
}

static void call_begin(struct call *c, const char *name, const char *kind,
		       enum umn_event event, unsigned long start,
		       unsigned long end)
{
	struct umn_mm *mm = umn__proc_mm_if(UMN_PROC_HOOKS);

	c->open = c->fast = false;
	if (!mm || start >= end)
		return;
	c->cause = (struct proc_cause){
		.magic = PROC_CAUSE_MAGIC,
		.cause = { name, kind, UMN_PROC_HOOKS, this_tid() },
	};
	umn_range_init(&c->range, mm, start, end, event, UMN_RANGE_BLOCKABLE,
		       &c->cause);
	/* The window that the first notifier's grace period waits for
	 * (proc.c, proc_unlock_all): held to the end of the system call. */
	umn__window_depth++;
	umn__rcu_read_lock();
	if (!umn_mm_has_notifiers(mm)) {
		c->fast = true;
		return;
	}
	umn__rcu_read_unlock();
	umn__window_depth--;
	c->open = !umn_invalidate_range_start(&c->range);
}

static void call_end(struct call *c)
{
	if (c->fast) {
		/* A notifier arrived during the call: from this thread's
		 * signal handler, which could not wait for the window it
		 * interrupted (or from a thread still waiting for it, with
		 * no interval in yet: then this finds nothing).  Tell it
		 * now, late. */
		if (umn_mm_has_notifiers(c->range.mm) &&
		    !umn_invalidate_range_start(&c->range)) {
			umn__proc_count(UMN_PROC_HOOKS);
			umn_invalidate_range_end(&c->range);
		}
		umn__rcu_read_unlock();
		umn__window_depth--;
		c->fast = false;
		return;
	}
	if (!c->open)
		return;
	umn__proc_count(UMN_PROC_HOOKS);
	umn_invalidate_range_end(&c->range);
}

/*
 * The kernel's answer, and errno as libc leaves it: the call's error if it
 * failed, else what it was on entry (whatever start's callbacks did).
 */
#define SYSCALL_IN_BRACKETS(ret, call, ...) \
	do {                                \
		int err_;                   \
		errno = entry_errno;        \
		(ret) = (call);             \
		err_ = errno;               \
		__VA_ARGS__;                \
		errno = err_;               \
	} while (0)

/* After a call whose range userfaultfd was told to forget: it watches
 * again what is still mapped there (nothing, if @unmapped), before the
 * bracket ends. */
static void unwatched_end(struct call *c, bool unwatched, bool unmapped)
{
	if (unwatched)
		umn__proc_uffd_after(c->range.start, c->range.end, unmapped);
	call_end(c);
}

static int hook_munmap(void *addr, size_t len)
{
	int entry_errno = errno;
	unsigned long start = (unsigned long)addr, end;
	struct call c = { .open = false };
	bool unwatched;
	long ret;

	if (page_range(start, len, &end))
		call_begin(&c, "munmap", "unmap", UMN_EVENT_UNMAP, start, end);
	/* Told now: userfaultfd need not tell it again. */
	unwatched = c.open && umn__proc_uffd_unwatch(start, end);
	SYSCALL_IN_BRACKETS(ret, syscall(SYS_munmap, addr, len),
			    unwatched_end(&c, unwatched, ret == 0));
	return (int)ret;
}

static int hook_madvise(void *addr, size_t len, int advice)
{
	int entry_errno = errno;
	unsigned long start = (unsigned long)addr, end;
	struct call c = { .open = false };
	const char *kind = NULL;
	enum umn_event event = UMN_EVENT_CLEAR;
	bool unwatched;
	long ret;

	switch (advice) {
	case MADV_DONTNEED:
	case MADV_FREE:
	case MADV_REMOVE:
	case 24: /* MADV_DONTNEED_LOCKED, Linux 5.18 */
		kind = "discard";
		break;
	case 102: /* MADV_GUARD_INSTALL, Linux 6.13: zaps, then faults */
		kind = "discard";
		break;
	case MADV_HWPOISON:
		kind = "discard";
		event = UMN_EVENT_UNMAP;
		break;
	case 21: /* MADV_PAGEOUT, Linux 5.4 */
		kind = "reclaim";
		break;
	case 101: /* MADV_SOFT_OFFLINE */
	case 25:  /* MADV_COLLAPSE, Linux 6.1 */
		kind = "migrate";
		event = UMN_EVENT_MIGRATE;
		break;
	}
	if (kind && page_range(start, len, &end))
		call_begin(&c, "madvise", kind, event, start, end);
	/* A discard is told now: userfaultfd need not tell it again. */
	unwatched = c.open && !strcmp(kind, "discard") &&
		    umn__proc_uffd_unwatch(start, end);
	SYSCALL_IN_BRACKETS(ret, syscall(SYS_madvise, addr, len, advice),
			    unwatched_end(&c, unwatched, false));
	return (int)ret;
}

/* The page size of a new mapping: MAP_HUGETLB's, hugetlbfs's, or the
 * kernel's. */
static unsigned long huge_page_size(int flags, int fd)
{
	struct statfs fs;
	unsigned int shift;

	if (flags & MAP_HUGETLB) {
		shift = ((unsigned int)flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
		return shift ? 1UL << shift : huge_default;
	}
	if (!(flags & MAP_ANONYMOUS) && fd >= 0 &&
	    !syscall(SYS_fstatfs, fd, &fs) && fs.f_type == HUGETLBFS_MAGIC)
		return (unsigned long)fs.f_bsize;
	return kernel_page;
}

/* A new mapping where an interval still is (after a munmap, say) must be
 * watched by userfaultfd too. */
static void mmap_end(struct call *c, long ret, size_t len)
{
	unsigned long end;

	if (ret != -1 && page_range((unsigned long)ret, len, &end))
		umn__proc_uffd_watch_new((unsigned long)ret, end);
	call_end(c);
}

static void *hook_mmap(void *addr, size_t len, int prot, int flags, int fd,
		       off_t offset)
{
	int entry_errno = errno;
	unsigned long start = (unsigned long)addr, end;
	struct call c = { .open = false };
	long ret;

	if (offset & (UMN_PAGE_SIZE - 1)) { /* as glibc checks it */
		errno = EINVAL;
		return MAP_FAILED;
	}
	if ((flags & MAP_FIXED) && !(flags & MAP_FIXED_NOREPLACE) &&
	    page_range(start, len, &end)) {
		/* A huge page mapping: the kernel rounds the length up. */
		unsigned long huge = huge_page_size(flags, fd);

		end = (end + huge - 1) & ~(huge - 1);
		call_begin(&c, "mmap", "replace", UMN_EVENT_UNMAP, start, end);
	}
	SYSCALL_IN_BRACKETS(
		ret, syscall(SYS_mmap, addr, len, prot, flags, fd, offset),
		mmap_end(&c, ret, len));
	return (void *)ret;
}

/*
 * mremap may move the old range (MAYMOVE, FIXED, DONTUNMAP) or shrink it in
 * place; before the call nobody knows which, so a call that may move
 * invalidates the whole old range even if it then grows in place.  FIXED
 * also replaces what was at the destination: a second bracket.
 * The fifth argument is read only with MREMAP_FIXED, as the kernel does.
 */
static void *hook_mremap(void *old, size_t old_len, size_t new_len, int flags,
			 void *new_addr)
{
	int entry_errno = errno;
	unsigned long start = (unsigned long)old, end, dst = 0, dst_end;
	struct call src = { .open = false }, to = { .open = false };
	unsigned long kept = (new_len + PAGE_MASK) & ~PAGE_MASK;
	long ret;

	if (page_range(start, old_len, &end)) {
		if (flags & (MREMAP_MAYMOVE | MREMAP_FIXED | 4 /* DONTUNMAP */))
			call_begin(&src, "mremap", "remap", UMN_EVENT_UNMAP,
				   start, end);
		else if (kept && kept < end - start)
			call_begin(&src, "mremap", "remap", UMN_EVENT_UNMAP,
				   start + kept, end);
	}
	if (flags & MREMAP_FIXED) {
		dst = (unsigned long)new_addr;
		if (page_range(dst, new_len, &dst_end))
			call_begin(&to, "mremap", "replace", UMN_EVENT_UNMAP,
				   dst, dst_end);
	}
	SYSCALL_IN_BRACKETS(
		ret,
		syscall(SYS_mremap, old, old_len, new_len, flags, new_addr),
		call_end(&to), call_end(&src));
	return (void *)ret;
}

/* The kernel's brk, bracketed when it shrinks the heap: the new break. */
static unsigned long brk_in_brackets(void *addr)
{
	int entry_errno = errno;
	unsigned long want = (unsigned long)addr, cur, got;
	struct call c = { .open = false };

	if (want) {
		cur = (unsigned long)syscall(SYS_brk, 0);
		want = (want + PAGE_MASK) & ~PAGE_MASK;
		cur = (cur + PAGE_MASK) & ~PAGE_MASK;
		if (want < cur)
			call_begin(&c, "brk", "shrink", UMN_EVENT_UNMAP, want,
				   cur);
	}
	SYSCALL_IN_BRACKETS(got, (unsigned long)syscall(SYS_brk, addr),
			    call_end(&c));
	return got;
}

/* glibc's brk: the kernel's answer becomes __curbrk; short of the ask is
 * ENOMEM. */
static int hook_brk(void *addr)
{
	unsigned long got = brk_in_brackets(addr);

	*umn__proc_curbrk = (void *)got;
	if (got < (unsigned long)addr) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

static void *hook_shmat(int id, const void *addr, int flags)
{
	int entry_errno = errno;
	unsigned long start = (unsigned long)addr, end;
	struct call c = { .open = false };
	struct shmid_ds ds;
	long ret;

	if ((flags & SHM_REMAP) && start &&
	    !syscall(SYS_shmctl, id, IPC_STAT, &ds)) {
		if (flags & SHM_RND)
			start &= ~(unsigned long)(SHMLBA - 1);
		/* IPC_STAT does not say whether the segment is of huge
		 * pages, whose mapping is rounded up: cover that too. */
		if (page_range(start, ds.shm_segsz, &end))
			call_begin(
				&c, "shmat", "replace", UMN_EVENT_UNMAP, start,
				(end + huge_default - 1) & ~(huge_default - 1));
	}
	SYSCALL_IN_BRACKETS(ret, syscall(SYS_shmat, id, addr, flags),
			    call_end(&c));
	return (void *)ret;
}

/*
 * The extent of the segment attached at @addr, as the kernel's shmdt finds
 * it: the first System V mapping at or after @addr whose file offset is
 * its distance from @addr (pages of the attachment may be unmapped
 * already, the first one too), and the segment's size from its id, which
 * is the inode /proc/self/maps shows.  Read without allocating.
 */
struct maps_scan {
	unsigned long addr;
	long shmid; /* -1 until found */
};

static void scan_line(struct maps_scan *s, const char *line)
{
	unsigned long lo, offset, inode;
	char *p;

	if (s->shmid >= 0 || !strstr(line, "/SYSV"))
		return;
	lo = strtoul(line, &p, 16);
	if (*p != '-' || lo < s->addr)
		return;
	p = strchr(p, ' '); /* " perms offset dev inode" */
	p = p ? strchr(p + 1, ' ') : NULL;
	if (!p)
		return;
	offset = strtoul(p + 1, &p, 16);
	p = strchr(p + 1, ' '); /* after dev */
	if (!p || lo - s->addr != offset)
		return;
	inode = strtoul(p + 1, NULL, 10);
	s->shmid = (long)inode;
}

static void scan_shm_line(const char *line, void *arg)
{
	scan_line(arg, line);
}

static bool shm_extent(unsigned long addr, unsigned long *end)
{
	struct maps_scan s = { .addr = addr, .shmid = -1 };
	struct shmid_ds ds;

	if (umn__proc_maps_each(scan_shm_line, &s) || s.shmid < 0 ||
	    syscall(SYS_shmctl, s.shmid, IPC_STAT, &ds))
		return false;
	/* Rounded up as for a segment of huge pages: a superset. */
	return page_range(addr, ds.shm_segsz, end) &&
	       (*end = (*end + huge_default - 1) & ~(huge_default - 1));
}

/*
 * Call @fn on each line of /proc/self/maps, without allocating (the hooks
 * and signal handlers use it).  Return: 0, or -errno if it cannot be read.
 */
int umn__proc_maps_each(void (*fn)(const char *line, void *arg), void *arg)
{
	char buf[2048], line[512];
	size_t used = 0;
	long n, fd;

	fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/maps",
		     O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((n = syscall(SYS_read, fd, buf, sizeof(buf))) > 0) {
		for (long i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (used < sizeof(line) - 1)
					line[used++] = buf[i];
				continue;
			}
			line[used] = '\0';
			used = 0;
			fn(line, arg);
		}
	}
	syscall(SYS_close, fd);
	return 0;
}

static int hook_shmdt(const void *addr)
{
	int entry_errno = errno;
	unsigned long start = (unsigned long)addr, end;
	struct call c = { .open = false };
	long ret;

	if (umn__proc_mm_if(UMN_PROC_HOOKS) && !(start & PAGE_MASK) &&
	    shm_extent(start, &end))
		call_begin(&c, "shmdt", "unmap", UMN_EVENT_UNMAP, start, end);
	SYSCALL_IN_BRACKETS(ret, syscall(SYS_shmdt, addr), call_end(&c));
	return (int)ret;
}

/*
 * The hooks at the system call instruction (aarch64, patch-aarch64.c):
 * the arguments as the kernel gets them, the kernel's answer (-errno on
 * failure), and errno as it was: the code after the instruction sets it.
 */
static long raw_result(long ret, int entry_errno)
{
	if (ret == -1)
		ret = -errno;
	errno = entry_errno;
	return ret;
}

static long raw_munmap(void *addr, size_t len)
{
	int entry_errno = errno;

	return raw_result(hook_munmap(addr, len), entry_errno);
}

static long raw_madvise(void *addr, size_t len, int advice)
{
	int entry_errno = errno;

	return raw_result(hook_madvise(addr, len, advice), entry_errno);
}

static long raw_mmap(void *addr, size_t len, int prot, int flags, int fd,
		     off_t offset)
{
	int entry_errno = errno;

	return raw_result((long)hook_mmap(addr, len, prot, flags, fd, offset),
			  entry_errno);
}

static long raw_mremap(void *old, size_t old_len, size_t new_len, int flags,
		       void *new_addr)
{
	int entry_errno = errno;

	return raw_result(
		(long)hook_mremap(old, old_len, new_len, flags, new_addr),
		entry_errno);
}

/* The kernel's brk fails by returning the old break, never -errno. */
static long raw_brk(void *addr)
{
	int entry_errno = errno;
	unsigned long got = brk_in_brackets(addr);

	errno = entry_errno;
	return (long)got;
}

static long raw_shmat(int id, const void *addr, int flags)
{
	int entry_errno = errno;

	return raw_result((long)hook_shmat(id, addr, flags), entry_errno);
}

static long raw_shmdt(const void *addr)
{
	int entry_errno = errno;

	return raw_result(hook_shmdt(addr), entry_errno);
}

#define HOOK(call)                                                          \
	{                                                                   \
#call, (void *)hook_##call, (void *)raw_##call, SYS_##call, \
			NULL                                                \
	}
const struct proc_hook umn__proc_hooks[] = {
	HOOK(munmap),
	HOOK(madvise),
	HOOK(mmap),
	HOOK(mremap),
	HOOK(brk),
	HOOK(shmat),
	HOOK(shmdt),
#if defined(__x86_64__)
	/* Optional, last: signals.c. */
	{ "sigaction", (void *)umn__proc_hook_sigaction, NULL, 0,
	  umn__proc_signals_usable },
#endif
};
const unsigned int umn__proc_nhooks =
	sizeof(umn__proc_hooks) / sizeof(umn__proc_hooks[0]);
