// SPDX-License-Identifier: MIT
/*
 * primaries/proc/uffd-watch.c - which mappings the userfaultfd source
 * registers (see uffd.c for the source as a whole): the mappings a range
 * touches, found with PROCMAP_QUERY or in /proc/self/maps, each
 * registered whole; the granules that may hold one, so that a hooked
 * munmap of memory never registered costs no ioctl; and every mapping,
 * once a classic notifier hears the whole address space.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../../core/fail.h"
#include "../../core/primary.h"
#include "uffd.h"

int register_range(int fd, unsigned long start, unsigned long end)
{
	struct uffdio_register reg = {
		.range = { .start = start, .len = end - start },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	if (umn__fail_here())
		return -ENOMEM;
	return ioctl(fd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

/*
 * The mappings around a range.  PROCMAP_QUERY (Linux 6.11) finds the
 * mapping that covers an address, or the next one, in the kernel's tree:
 * no text to read and parse.  The layout is the kernel's (<linux/fs.h>
 * there); the libc headers of older systems lack it.
 */
struct vma_query {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset;
	uint64_t inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define VMA_QUERY		   _IOWR('f', 17, struct vma_query)
#define VMA_QUERY_COVERING_OR_NEXT 0x10
#define VMA_QUERY_ACCESS	   0x7 /* readable, writable, executable */

/* 1 and the mapping [*lo, *hi) that covers @addr or comes next (*none:
 * it allows no access); 0 if none does; -errno if the kernel cannot
 * tell. */
static int next_vma(unsigned long addr, unsigned long *lo, unsigned long *hi,
		    bool *none)
{
	struct vma_query q = { .size = sizeof(q),
			       .query_flags = VMA_QUERY_COVERING_OR_NEXT,
			       .query_addr = addr };

	if (u.maps_fd < 0)
		return -ENOTTY;
	if (ioctl(u.maps_fd, VMA_QUERY, &q))
		return errno == ENOENT ? 0 : -errno;
	*lo = q.vma_start;
	*hi = q.vma_end;
	*none = !(q.vma_flags & VMA_QUERY_ACCESS);
	return 1;
}

/*
 * Which 2 MiB granules (hashed into a bitmap) may hold a registered
 * mapping: set before registering, never cleared.  A hooked munmap asks it
 * before unregistering (umn__proc_uffd_unwatch), so that memory umn never
 * registered costs no ioctl.
 */
unsigned long watched_granules[GRANULES / 64]; /* atomic bits */

/* The last granule of [start, end) from @g, its first: at most GRANULES
 * of them (that is all the bitmap). */
static unsigned long last_granule(unsigned long g, unsigned long end)
{
	unsigned long last = (end - 1) >> GRANULE_SHIFT;

	return last - g >= GRANULES ? g + GRANULES - 1 : last;
}

static unsigned long *granule_word(unsigned long g)
{
	return &watched_granules[(g % GRANULES) / 64];
}

static void mark_granules(unsigned long start, unsigned long end)
{
	unsigned long g = start >> GRANULE_SHIFT, last = last_granule(g, end);

	for (; g <= last; g++)
		__atomic_fetch_or(granule_word(g), 1UL << (g % 64),
				  __ATOMIC_RELAXED);
}

static bool any_granule_marked(unsigned long start, unsigned long end)
{
	unsigned long g = start >> GRANULE_SHIFT, last = last_granule(g, end);

	for (; g <= last; g++)
		if (__atomic_load_n(granule_word(g), __ATOMIC_RELAXED) &
		    (1UL << (g % 64)))
			return true;
	return false;
}

/* Register the mapping [lo, hi), whole.  Return: true if registered. */
static bool watch_one(int fd, unsigned long lo, unsigned long hi)
{
	mark_granules(lo, hi);
	if (register_range(fd, lo, hi)) {
		__atomic_fetch_add(&u.refused, 1, __ATOMIC_RELAXED);
		return false;
	}
	__atomic_fetch_add(&u.ranges, 1, __ATOMIC_RELAXED);
	return true;
}

bool watch_all; /* atomic: a classic notifier hears everything */

/*
 * Is the mapping [lo, hi) heard by a notifier, so that userfaultfd must
 * report changes there?  If an interval overlaps it; or, with no access
 * (@none), never for a classic notifier alone: such mappings hold no page
 * to translate, and runtimes reserve address space that way and map it
 * later with MAP_FIXED from any thread, umn's reader included (a
 * sanitizer's per-thread memory), which would then wait for itself.
 */
static bool heard(unsigned long lo, unsigned long hi, bool none)
{
	if (umn__intervals_overlap(u.mm, lo, hi - 1))
		return true;
	return !none && __atomic_load_n(&watch_all, __ATOMIC_ACQUIRE);
}

static void walk_hole(struct walk *w, unsigned long lo, unsigned long hi)
{
	if (lo >= hi || !umn__intervals_overlap(u.mm, lo, hi - 1))
		return;
	if (w->lo >= w->hi)
		w->lo = lo;
	w->hi = hi;
}

static void walk_mapping(struct walk *w, unsigned long lo, unsigned long hi,
			 bool none)
{
	walk_hole(w, w->start, lo < w->end ? lo : w->end);
	if (lo < w->end && (w->asked || heard(lo, hi, none)))
		watch_one(w->fd, lo, hi);
	w->start = hi;
}

/* Without PROCMAP_QUERY: each line of /proc/self/maps, in address order. */
static void walk_line(const char *line, void *arg)
{
	struct walk *w = arg;
	unsigned long lo, hi;
	char *p;

	lo = strtoul(line, &p, 16);
	if (*p != '-')
		return;
	hi = strtoul(p + 1, &p, 16);
	if (hi > w->start && lo < w->end)
		walk_mapping(w, lo, hi, !strncmp(p, " ---", 4));
}

/*
 * Register the mappings that [start, end) touches, each whole and on its
 * own: the kernel splits a mapping registered in part (its flags differ),
 * and an mremap of the whole original mapping would then fail with
 * EFAULT, where it succeeds without umn; and a mapping that cannot be
 * registered (or changes meanwhile) leaves the others registered.  An
 * insert (@asked) registers every mapping it touches; else only the
 * mappings a notifier hears.  Return: the span of the holes in [start,
 * end) that an interval overlaps (nothing mapped there yet).
 */
struct walk watch_mappings(int fd, unsigned long start, unsigned long end,
			   bool asked)
{
	struct walk w = { fd, start, end, asked, 0, 0 };
	unsigned long lo = 0, hi = 0;
	bool none = false;
	int found;

	while (w.start < end) {
		found = next_vma(w.start, &lo, &hi, &none);
		if (found < 0) {
			umn__proc_maps_each(walk_line, &w);
			break;
		}
		if (!found || lo >= end)
			break;
		walk_mapping(&w, lo, hi, none);
	}
	walk_hole(&w, w.start, end);
	return w;
}

void umn__proc_uffd_watch(unsigned long start, unsigned long end)
{
	int fd = __atomic_load_n(&u.fd, __ATOMIC_ACQUIRE);

	if (fd >= 0)
		watch_mappings(fd, start, end, true);
}

/* Each mapping in [start, end) that a notifier hears. */
void umn__proc_uffd_watch_heard(unsigned long start, unsigned long end)
{
	int fd = __atomic_load_n(&u.fd, __ATOMIC_ACQUIRE);

	if (fd >= 0)
		watch_mappings(fd, start, end, false);
}

/*
 * Before a hooked munmap or discarding madvise, inside its bracket.  The
 * hooks tell the call before the kernel acts and end the bracket after
 * it; userfaultfd would tell it again, and the kernel would hold the
 * caller until our reader had read it (a wake-up of the reader, then of
 * the dispatcher, for a bracket that finds nothing left to invalidate:
 * about 10 us).  Unregistering the range first costs one ioctl, and is
 * tried only where umn may have registered something.  Return: true if
 * tried: then umn__proc_uffd_after() must follow the call.
 */
bool umn__proc_uffd_unwatch(unsigned long start, unsigned long end)
{
	int fd = __atomic_load_n(&u.fd, __ATOMIC_ACQUIRE);
	struct uffdio_range r = { .start = start, .len = end - start };

	if (fd < 0 || !any_granule_marked(start, end))
		return false;
	ioctl(fd, UFFDIO_UNREGISTER, &r); /* in part, if it fails midway */
	return true;
}

/* A hooked mmap's new mapping, [start, end), before its bracket ends:
 * watched if a notifier hears it (an interval over a range unmapped and
 * mapped again; a classic notifier). */
void umn__proc_uffd_watch_new(unsigned long start, unsigned long end)
{
	int fd = __atomic_load_n(&u.fd, __ATOMIC_ACQUIRE);

	if (fd >= 0 && umn__proc_mm_if(UMN_PROC_UFFD))
		watch_mappings(fd, start, end, false);
}

/*
 * Is a sanitizer's runtime in the process?  Its raw memory calls, from any
 * thread and with its own locks held, would wait for umn's reader on
 * every registered mapping, and the reader's own calls go through the
 * runtime's interceptors, which take those locks: with every mapping
 * registered, the process would hang (measured under TSan: umn-watch and
 * the classic-notifier tests hung).  So there, a classic notifier hears
 * through userfaultfd only what intervals cover, as before.
 */
extern void __asan_init(void) __attribute__((weak));
extern void __tsan_init(void) __attribute__((weak));
extern void __msan_init(void) __attribute__((weak));
extern void __hwasan_init(void) __attribute__((weak));

static bool sanitized(void)
{
	return __asan_init || __tsan_init || __msan_init || __hwasan_init;
}

/*
 * A classic notifier hears the whole address space, so every mapping is
 * registered: those there now; those a hooked mmap makes (at once); those
 * that replace a registered one (at its event); and those made out of
 * sight, by a raw mmap, at the next umn_proc_uffd_sync().  Never undone:
 * the notifier may be unregistered, but another may come.
 */
void umn__proc_uffd_watch_all(void)
{
	int fd = __atomic_load_n(&u.fd, __ATOMIC_ACQUIRE);

	if (sanitized())
		return;
	__atomic_store_n(&watch_all, true, __ATOMIC_RELEASE);
	if (fd >= 0)
		watch_mappings(fd, 0, ALL_END, false);
}
