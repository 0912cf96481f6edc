// SPDX-License-Identifier: MIT
/*
 * tests/uring/oracle.c - io_uring fixed buffers through <umn/uring.h>,
 * checked on real data: writers submit WRITE_FIXED of buffers to a file
 * and READ_FIXED into them while mutators change the memory behind the
 * buffers (munmap and mmap again, free and malloc, mremap over them,
 * madvise DONTNEED).
 *
 * Each buffer's words carry its number and a generation: every change
 * fills the new memory with the next generation before it publishes it
 * (under the buffer's lock).  A writer notes the generation published
 * before its umn_uring_get(), so every word the file receives must be 0
 * (fresh memory, a change in progress) or of that buffer with a
 * generation at least that one: an older one is what the address no
 * longer held when the I/O was submitted -- a stale write.  The READ_FIXED
 * lands a token in the writer's own page of the buffer; if no change
 * touched the buffer from the get to the completion, the address must
 * show the token: otherwise the read landed in memory the address no
 * longer maps -- a stale read.
 *
 *	oracle [--sources hooks|uffd|all] [--seconds N] [--ops LIST]
 *	       [--direct] [--break]
 * LIST: munmap,malloc,mremap,dontneed (all by default).  --direct opens
 * the file with O_DIRECT (skipped where the file system refuses).
 * --break creates the caches with UMN_URING_BREAK_INVALIDATE: the oracle
 * must then find stale writes.  Exit: 0 clean; 3 stale found (the
 * oracle's verdict, tests/expect-status.sh); 77 cannot run here; 1 error.
 *
 * With userfaultfd alone, the event of a change reaches umn after the
 * kernel acted: a mutator waits (umn_proc_uffd_sync()) before it
 * publishes the new generation, so the window of docs/proc.md is left
 * out of the check, except for madvise DONTNEED, whose REMOVE window
 * no wait closes (docs/proc.md): see tests/uring/CMakeLists.txt.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <umn/proc.h>
#include <umn/uring.h>
#include <umn-test/breaks.h>

#include "../proc/sanitized.h"

#define PAGE	 4096UL
#define NBUF	 8
#define WRITERS	 2
#define MUTATORS 2
#define BUFLEN	 (16 * PAGE)		   /* per buffer */
#define GEN_LEN	 (BUFLEN - WRITERS * PAGE) /* the generation words */
#define ID_SHIFT 40
#define TOKEN	 (1ULL << 39) /* marks a read's token */
#define REPORTS	 8

enum op { OP_MUNMAP, OP_MALLOC, OP_MREMAP, OP_DONTNEED, NOPS };
static const char *const op_names[NOPS] = { "munmap", "malloc", "mremap",
					    "dontneed" };

struct buf {
	pthread_mutex_t lock; /* the change, and the snapshot of: */
	char *addr;
	bool malloced;
	uint64_t gen;	  /* in place, complete */
	uint64_t changes; /* how many changes began */
	const char *last; /* the last change, for reports; atomic */
};

static struct {
	struct buf buf[NBUF];
	pthread_mutex_t map_lock; /* a change that leaves a hole */
	pthread_barrier_t done;	  /* every thread's work, and main */
	pthread_barrier_t leave;  /* the sources off: the threads exit */
	unsigned int ops;	  /* mask of 1 << enum op */
	bool direct, brk, uffd_only, stop;
	int fd;
	unsigned long writes, reads, refused, skipped_reads, stale_writes,
		stale_reads, changes, reports;
} S;

#if TSAN
void AnnotateIgnoreWritesBegin(const char *file, int line);
void AnnotateIgnoreWritesEnd(const char *file, int line);
#endif

static void fail_errno(const char *what, int err)
{
	printf("error: %s: %s\n", what, strerror(err));
	exit(1);
}

static uint64_t word(int id, uint64_t gen)
{
	return (uint64_t)id << ID_SHIFT | gen;
}

/* Fill @p's generation words.  An address can be another mapping's before
 * an munmap and an mmap: TSan sees no order through the kernel. */
static void fill(char *p, int id, uint64_t gen)
{
	uint64_t *w = (uint64_t *)p;
	size_t i;

#if TSAN
	AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
#endif
	for (i = 0; i < GEN_LEN / sizeof(*w); i++)
		w[i] = word(id, gen);
#if TSAN
	AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
#endif
}

static char *map_at(char *addr, int flags)
{
	char *p = mmap(addr, BUFLEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);

	if (p == MAP_FAILED)
		fail_errno("mmap", errno);
	if (addr && p != addr) {
		printf("error: mmap gave %p for %p\n", (void *)p, (void *)addr);
		exit(1);
	}
	return p;
}

static char *alloc_buf(void)
{
	void *p;
	int ret = posix_memalign(&p, PAGE, BUFLEN);

	if (ret)
		fail_errno("posix_memalign", ret);
	return p;
}

/* --- the mutators --- */

/* Change buffer @b (id @id) by @op; the new memory holds the next
 * generation before it is published. */
static void change(struct buf *b, int id, enum op op)
{
	uint64_t gen = b->gen + 1;
	char *p, *old;

	pthread_mutex_lock(&b->lock);
	b->changes++;
	__atomic_store_n(&b->last, op_names[op], __ATOMIC_RELAXED);
	switch (op) {
	case OP_MUNMAP:
		pthread_mutex_lock(&S.map_lock);
		if (munmap(b->addr, BUFLEN))
			fail_errno("munmap", errno);
		p = mmap(b->addr, BUFLEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
			 0);
		/* A sanitizer's allocator maps with raw system calls, outside
		 * map_lock, and may take the hole: the buffer moves. */
		if (p == MAP_FAILED && errno == EEXIST)
			p = map_at(NULL, 0);
		else if (p != b->addr)
			fail_errno("mmap", errno);
		b->addr = p;
		pthread_mutex_unlock(&S.map_lock);
		fill(b->addr, id, gen);
		break;
	case OP_MALLOC:
		pthread_mutex_lock(&S.map_lock);
		p = alloc_buf();
		fill(p, id, gen);
		old = b->addr;
		b->addr = p;
		free(old);
		pthread_mutex_unlock(&S.map_lock);
		break;
	case OP_MREMAP:
		p = map_at(NULL, 0);
		fill(p, id, gen);
		if (mremap(p, BUFLEN, BUFLEN, MREMAP_MAYMOVE | MREMAP_FIXED,
			   b->addr) != b->addr)
			fail_errno("mremap", errno);
		break;
	case OP_DONTNEED:
		if (madvise(b->addr, BUFLEN, MADV_DONTNEED))
			fail_errno("madvise", errno);
		fill(b->addr, id, gen);
		break;
	default:
		break;
	}
	/* userfaultfd alone hears the change after the fact: publish once
	 * umn has. */
	if (S.uffd_only && umn_proc_uffd_sync())
		fail_errno("umn_proc_uffd_sync", ENOTCONN);
	b->gen = gen;
	pthread_mutex_unlock(&b->lock);
}

static void *mutator(void *arg)
{
	int m = (int)(intptr_t)arg, id, n = 0;
	unsigned int seed = (unsigned int)m * 7919U + 1;
	enum op op;

	while (!__atomic_load_n(&S.stop, __ATOMIC_RELAXED)) {
		id = m + MUTATORS * (int)(rand_r(&seed) % (NBUF / MUTATORS));
		if (S.buf[id].malloced) {
			op = OP_MALLOC;
		} else {
			do
				op = (enum op)(rand_r(&seed) % NOPS);
			while (op == OP_MALLOC || !(S.ops & (1U << op)));
		}
		change(&S.buf[id], id, op);
		n++;
		usleep(200 + rand_r(&seed) % 800);
	}
	__atomic_fetch_add(&S.changes, (unsigned long)n, __ATOMIC_RELAXED);
	pthread_barrier_wait(&S.done);
	pthread_barrier_wait(&S.leave);
	return NULL;
}

/* --- the writers --- */

struct writer {
	int id;
	pthread_t thread_id;
	struct io_uring ring;
	struct umn_uring *cache;
	uint64_t *check; /* GEN_LEN, aligned for O_DIRECT */
	uint64_t *token; /* PAGE, aligned */
	unsigned long writes, reads, refused, skipped_reads, stale_writes,
		stale_reads, moved;
};

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void report(const char *fmt, ...)
{
	va_list ap;

	if (__atomic_fetch_add(&S.reports, 1, __ATOMIC_RELAXED) >= REPORTS)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static off_t region(const struct writer *w, int id, int which)
{
	return (off_t)(((w->id * NBUF + id) * 2 + which) * BUFLEN);
}

/* One I/O on slot @index; its result. */
static int io(struct writer *w, bool write, void *addr, size_t len, off_t off,
	      int index)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (write)
		io_uring_prep_write_fixed(sqe, S.fd, addr, (unsigned int)len,
					  (uint64_t)off, index);
	else
		io_uring_prep_read_fixed(sqe, S.fd, addr, (unsigned int)len,
					 (uint64_t)off, index);
	ret = io_uring_submit(&w->ring);
	if (ret != 1)
		fail_errno("io_uring_submit", -ret);
	ret = io_uring_wait_cqe(&w->ring, &cqe);
	if (ret)
		fail_errno("io_uring_wait_cqe", -ret);
	ret = cqe->res;
	io_uring_cqe_seen(&w->ring, cqe);
	return ret;
}

/* Has buffer @id left @addr since the writer noted it (at @changes)?
 * Then its address may hold anything now (another buffer, an allocator's
 * memory).  A malloced buffer leaves its block at each change, and may
 * come back to the same address by the check: free() need not unmap (a
 * block that malloc carved from an arena's heap stays mapped, with its
 * pages), so another buffer may have been malloced there and filled its
 * own words into the pages the write was reading, with no invalidation
 * due.  So for those, any change since the get counts as leaving. */
static bool moved(int id, const char *addr, uint64_t changes)
{
	struct buf *b = &S.buf[id];
	bool ret;

	pthread_mutex_lock(&b->lock);
	ret = b->addr != addr || (b->malloced && b->changes != changes);
	pthread_mutex_unlock(&b->lock);
	return ret;
}

/* Check what the file got from buffer @id at @addr, noted at generation
 * @cur after @changes changes. */
static void check_write(struct writer *w, int id, const char *addr,
			uint64_t cur, uint64_t changes, off_t off)
{
	uint64_t v, g;
	size_t i;

	if (pread(S.fd, w->check, GEN_LEN, off) != (ssize_t)GEN_LEN)
		fail_errno("pread", errno);
	for (i = 0; i < GEN_LEN / sizeof(v); i++) {
		v = w->check[i];
		g = v & ((1ULL << ID_SHIFT) - 1);
		if (!v || ((int)(v >> ID_SHIFT) == id && g >= cur))
			continue;
		if (moved(id, addr, changes)) {
			w->moved++; /* not a verdict on the cache */
			return;
		}
		w->stale_writes++;
		report("STALE write: buffer %d (last change: %s): the file got "
		       "%#llx at word %zu, the address held generation %llu "
		       "or later at submission\n",
		       id, __atomic_load_n(&S.buf[id].last, __ATOMIC_RELAXED),
		       (unsigned long long)v, i, (unsigned long long)cur);
		return;
	}
}

static void step(struct writer *w, unsigned int *seed)
{
	int id = (int)(rand_r(seed) % NBUF), index, ret;
	struct buf *b = &S.buf[id];
	uint64_t cur, changes, tok;
	char *addr, *page;
	bool same;

	/* The get under the buffer's lock: the address is the buffer's when
	 * it is registered.  (Once the buffer has moved, whatever is mapped
	 * there -- a sanitizer's fake stack, say -- is not the writer's to
	 * read into; an invalidation after the get is the race under test.) */
	pthread_mutex_lock(&b->lock);
	addr = b->addr;
	cur = b->gen;
	changes = b->changes;
	index = umn_uring_get(w->cache, addr, BUFLEN);
	pthread_mutex_unlock(&b->lock);
	if (index < 0) {
		if (index != -EFAULT)
			fail_errno("umn_uring_get", -index);
		w->refused++; /* between an munmap and its mmap */
		return;
	}
	ret = io(w, true, addr, GEN_LEN, region(w, id, 0), index);
	if (ret == -EFAULT) {
		w->refused++; /* emptied by an invalidation */
	} else if (ret != (int)GEN_LEN) {
		fail_errno("WRITE_FIXED", ret < 0 ? -ret : EIO);
	} else {
		w->writes++;
		check_write(w, id, addr, cur, changes, region(w, id, 0));
	}

	/* A token into the writer's own page of the buffer. */
	tok = word(id, TOKEN | (w->writes + w->refused));
	for (size_t i = 0; i < PAGE / sizeof(tok); i++)
		w->token[i] = tok;
	if (pwrite(S.fd, w->token, PAGE, region(w, id, 1)) != (ssize_t)PAGE)
		fail_errno("pwrite", errno);
	page = addr + GEN_LEN + (size_t)w->id * PAGE;
	ret = io(w, false, page, PAGE, region(w, id, 1), index);
	umn_uring_put(w->cache, index);
	if (ret == -EFAULT) {
		w->refused++;
		return;
	}
	if (ret != (int)PAGE)
		fail_errno("READ_FIXED", ret < 0 ? -ret : EIO);
	pthread_mutex_lock(&b->lock);
	same = b->changes == changes;
	if (same) {
		w->reads++;
		if (memcmp(page, w->token, PAGE)) {
			w->stale_reads++;
			report("STALE read: buffer %d (last change: %s): the "
			       "token is not at the address\n",
			       id, b->last);
		}
	} else {
		w->skipped_reads++; /* the buffer changed under the read */
	}
	pthread_mutex_unlock(&b->lock);
}

static void *writer(void *arg)
{
	struct writer *w = arg;
	unsigned int seed = (unsigned int)w->id * 104729U + 3;

	while (!__atomic_load_n(&S.stop, __ATOMIC_RELAXED))
		step(w, &seed);
	pthread_barrier_wait(&S.done);
	pthread_barrier_wait(&S.leave);
	return NULL;
}

static void writer_init(struct writer *w, int id)
{
	int ret;

	memset(w, 0, sizeof(*w)); /* the counters too */
	w->id = id;
	ret = io_uring_queue_init(4, &w->ring, 0);
	if (ret == -ENOSYS || ret == -EPERM) {
		printf("skipped: io_uring: %s\n", strerror(-ret));
		exit(SKIP);
	}
	if (ret)
		fail_errno("io_uring_queue_init", -ret);
	ret = umn_uring_create(umn_proc_mm(), &w->ring, 2 * NBUF,
			       S.brk ? UMN_URING_BREAK_INVALIDATE : 0,
			       &w->cache);
	if (ret)
		fail_errno("umn_uring_create", -ret);
	w->check = aligned_alloc(PAGE, GEN_LEN);
	w->token = aligned_alloc(PAGE, PAGE);
	if (!w->check || !w->token)
		fail_errno("aligned_alloc", ENOMEM);
}

static unsigned int parse_ops(const char *list)
{
	unsigned int mask = 0;
	char *copy = strdup(list), *tok, *save = NULL;
	int i;

	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < NOPS && strcmp(tok, op_names[i]); i++)
			;
		if (i == NOPS) {
			printf("error: unknown op %s\n", tok);
			exit(1);
		}
		mask |= 1U << i;
	}
	free(copy);
	return mask;
}

static void open_file(void)
{
	char path[] = "umn-uring-oracle-XXXXXX";
	int fd = mkostemp(path, S.direct ? O_DIRECT : 0);

	if (fd < 0 && S.direct && errno == EINVAL) {
		printf("skipped: the file system of the working folder "
		       "refuses O_DIRECT\n");
		exit(SKIP);
	}
	if (fd < 0)
		fail_errno("mkostemp", errno);
	unlink(path);
	S.fd = fd;
}

static void start_buffers(void)
{
	int i;

	pthread_mutex_init(&S.map_lock, NULL);
	for (i = 0; i < NBUF; i++) {
		struct buf *b = &S.buf[i];

		pthread_mutex_init(&b->lock, NULL);
		/* Odd buffers are malloced, or all with --ops malloc alone
		 * (an even one would have no change to make). */
		b->malloced = (S.ops & (1U << OP_MALLOC)) &&
			      ((i & 1) || S.ops == 1U << OP_MALLOC);
		b->addr = b->malloced ? alloc_buf() : map_at(NULL, 0);
		b->gen = 1;
		b->last = "none";
		fill(b->addr, i, 1);
	}
}

int main(int argc, char **argv)
{
	const char *sources = "hooks";
	struct writer w[WRITERS];
	pthread_t m[MUTATORS];
	unsigned long stale;
	double seconds = 2;
	unsigned int mask;
	int i, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	S.ops = (1U << NOPS) - 1;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sources") && i + 1 < argc)
			sources = argv[++i];
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
			S.ops = parse_ops(argv[++i]);
		else if (!strcmp(argv[i], "--direct"))
			S.direct = true;
		else if (!strcmp(argv[i], "--break"))
			S.brk = true;
		else {
			printf("usage: %s [--sources hooks|uffd|all] [--seconds N]"
			       " [--ops LIST] [--direct] [--break]\n",
			       argv[0]);
			return 1;
		}
	}
	mask = !strcmp(sources, "uffd")	 ? UMN_PROC_UFFD
	       : !strcmp(sources, "all") ? UMN_PROC_ALL
					 : UMN_PROC_HOOKS;
	/* Big blocks are mapped, so that free unmaps them; not all of them:
	 * a thread's arena serves its first blocks from its heap, which free
	 * keeps mapped, and malloc gives them to another buffer (moved()). */
	mallopt(M_MMAP_THRESHOLD, (int)(BUFLEN / 2));
	if (SANITIZED && (S.ops & (1U << OP_MALLOC))) {
		/* The sanitizers' allocators unmap with raw system calls. */
		printf("note: sanitizer build: its allocator maps and unmaps "
		       "with raw system calls: no free and malloc\n");
		S.ops &= ~(1U << OP_MALLOC);
	}
	ret = umn_proc_start(mask);
	if (ret == -ENOSYS || ret == -EPERM) {
		printf("skipped: source %s cannot start here: %s\n", sources,
		       strerror(-ret));
		return SKIP;
	}
	if (ret < 0)
		fail_errno("umn_proc_start", -ret);
	S.uffd_only = (unsigned int)ret == UMN_PROC_UFFD;
	open_file();
	start_buffers();
	pthread_barrier_init(&S.done, NULL, WRITERS + MUTATORS + 1);
	pthread_barrier_init(&S.leave, NULL, WRITERS + MUTATORS + 1);
	for (i = 0; i < WRITERS; i++)
		writer_init(&w[i], i);
	for (i = 0; i < WRITERS; i++)
		pthread_create(&w[i].thread_id, NULL, writer, &w[i]);
	for (i = 0; i < MUTATORS; i++)
		pthread_create(&m[i], NULL, mutator, (void *)(intptr_t)i);
	usleep((useconds_t)(seconds * 1e6));
	__atomic_store_n(&S.stop, true, __ATOMIC_RELAXED);
	/* The work done, the sources go off before the threads exit: glibc
	 * discards an exiting thread's stack with madvise, and a bracket
	 * then faults under TSan, whose state of the thread is gone
	 * (docs/proc.md). */
	pthread_barrier_wait(&S.done);
	umn_proc_stop(UMN_PROC_ALL);
	pthread_barrier_wait(&S.leave);
	for (i = 0; i < MUTATORS; i++)
		pthread_join(m[i], NULL);
	for (i = 0; i < WRITERS; i++) {
		struct umn_uring_stats st;

		pthread_join(w[i].thread_id, NULL);
		umn_uring_stats(w[i].cache, &st);
		printf("writer %d: %lu writes (%lu of a buffer that moved "
		       "away), %lu reads checked (%lu skipped: changed under "
		       "them), %lu refused with -EFAULT; cache: %lu hits, "
		       "%lu registrations, %lu retries, %lu invalidations\n",
		       i, w[i].writes, w[i].moved, w[i].reads,
		       w[i].skipped_reads, w[i].refused, st.hits,
		       st.registrations, st.retries, st.invalidations);
		S.writes += w[i].writes;
		S.reads += w[i].reads;
		S.stale_writes += w[i].stale_writes;
		S.stale_reads += w[i].stale_reads;
		ret = umn_uring_destroy(w[i].cache);
		if (ret)
			fail_errno("umn_uring_destroy", -ret);
		io_uring_queue_exit(&w[i].ring);
		free(w[i].check);
		free(w[i].token);
	}
	for (i = 0; i < NBUF; i++) {
		if (S.buf[i].malloced)
			free(S.buf[i].addr);
		else
			munmap(S.buf[i].addr, BUFLEN);
	}
	stale = S.stale_writes + S.stale_reads;
	printf("sources %s%s%s: %lu changes, %lu writes and %lu reads "
	       "checked\n",
	       sources, S.direct ? ", O_DIRECT" : "", S.brk ? ", break" : "",
	       S.changes, S.writes, S.reads);
	if (stale) {
		printf("the oracle found %lu stale (%lu writes, %lu reads)\n",
		       stale, S.stale_writes, S.stale_reads);
		return 3;
	}
	if (S.writes < 100 || S.changes < 50) {
		printf("error: too little happened to mean anything\n");
		return 1;
	}
	printf("100%%: Checks: %lu, Failures: 0, Errors: 0\n",
	       S.writes + S.reads);
	return 0;
}
