// SPDX-License-Identifier: MIT
/*
 * umn-watch's ranges: what a system call the filter stopped will
 * invalidate, worked out as umn's hooks do (primaries/proc/hooks.c) from
 * its arguments, and from /proc where they do not tell (brk, shmdt, a
 * MAP_FIXED mapping of huge pages, process_madvise's target).
 */
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "watch.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

static unsigned long page_size;

struct srange sranges[SRANGE_MAX];
int nsranges;

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

ssize_t read_proc(long tid, const char *what, char *buf, size_t size)
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

static void munmap_range(unsigned long addr, unsigned long len)
{
	unsigned long end;

	if (page_range(addr, len, &end))
		add_range(addr, end, "munmap", "unmap", "unmap");
}

/* i386's old mmap: its arguments in a struct at @args. */
static void old_mmap_range(long tid, unsigned long args)
{
	uint32_t om[6];
	struct iovec local = { om, sizeof(om) };
	struct iovec remote = { (void *)args, sizeof(om) };

	if (process_vm_readv((pid_t)tid, &local, 1, &remote, 1, 0) ==
	    sizeof(om))
		mmap_range(tid, om[0], om[1], om[3], (int32_t)om[4]);
}

/* i386's ipc(call, first, second, third, ptr, fifth): SHMAT, SHMDT. */
static void ipc_range(long tid, const unsigned long *a)
{
	if ((a[0] & 0xffff) == 21) /* SHMAT */
		shmat_range(a[1], a[4], a[2]);
	else if ((a[0] & 0xffff) == 22) /* SHMDT */
		shmdt_range(tid, a[4]);
}

void classify(const struct seccomp_notif *n)
{
	const struct sc_rule *rule;
	unsigned long a[6];
	long tid = n->pid;
	bool compat;
	int i;

	nsranges = 0;
	rule = rule_of(&n->data, &compat);
	if (!rule)
		return;
	for (i = 0; i < 6; i++)
		a[i] = compat ? (uint32_t)n->data.args[i]
			      : (unsigned long)n->data.args[i];
	switch (rule->sc) {
	case SC_MUNMAP:
		munmap_range(a[0], a[1]);
		break;
	case SC_MREMAP:
		mremap_range(a[0], a[1], a[2], a[3], a[4]);
		break;
	case SC_MADVISE:
		madvise_range(a[0], a[1], (unsigned int)a[2], "madvise");
		break;
	case SC_MMAP:
		mmap_range(tid, a[0], a[1], a[3], (long)(int)a[4]);
		break;
	case SC_OLD_MMAP:
		old_mmap_range(tid, a[0]);
		break;
	case SC_BRK:
		brk_range(tid, a[0]);
		break;
	case SC_SHMAT:
		shmat_range(a[0], a[1], a[2]);
		break;
	case SC_SHMDT:
		shmdt_range(tid, a[0]);
		break;
	case SC_IPC:
		ipc_range(tid, a);
		break;
	case SC_PMADVISE:
		pmadvise_ranges(tid, a[0], a[1], a[2], a[3], compat);
		break;
	}
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

void ranges_init(void)
{
	page_size = (unsigned long)sysconf(_SC_PAGESIZE);
	read_huge_default();
}
