// SPDX-License-Identifier: MIT
/*
 * bench/uring.c - io_uring writes through libumn-uring's fixed-buffer
 * cache, beside plain writes and registering per I/O.
 *
 * Each thread has its own file (O_DIRECT in the working folder when its
 * file system allows it, else buffered: the report says which), or writes
 * to $UMN_BENCH_URING_TARGET (a file or a block device, O_DIRECT if it
 * allows it) from its own offset (thread i at i MiB); its own rings and
 * two buffers of the size measured, written whole, one I/O in flight
 * (submit, wait).  Variants, interleaved over the
 * repetitions, all in one process with umn_proc_start(UMN_PROC_HOOKS):
 *
 *   plain	 IORING_OP_WRITE: the kernel pins the pages per I/O (with
 *		 O_DIRECT; buffered, it copies from user memory)
 *   fixed	 WRITE_FIXED on a slot registered once, no cache: the floor
 *   reg-per-io	 register the buffer in a slot, WRITE_FIXED, empty the slot
 *   cache-hit	 umn_uring_get() (a hit) + WRITE_FIXED + umn_uring_put()
 *   cache-miss	 the same with two buffers in turn and a cache of one slot:
 *		 every get evicts the other buffer and registers (the
 *		 pinning, an interval notifier removed and one inserted)
 *
 * Sizes 4 KiB, 64 KiB, 1 MiB (4 KiB and 1 MiB with --quick); 1 and 2
 * threads (each its own rings and caches).  Two metrics: us per I/O of one
 * thread (the wall time of the batch, all threads, over its I/Os per
 * thread: the device's latency is in it), and the CPU time of the
 * submitting thread per I/O (CLOCK_THREAD_CPUTIME_ID: io_uring issues a
 * write, and pins a plain one's pages, in the thread that submits it;
 * the completion runs elsewhere).
 *
 * The cache alone: umn_uring_get() + umn_uring_put() with no I/O, a hit
 * and a miss (which registers, so pins), 4 KiB and 1 MiB, ns per pair.
 *
 * The cost of an invalidation: munmap of a buffer that a valid slot
 * covers (the hook's ->invalidate empties it with one io_uring_register),
 * beside munmap of a buffer no slot covers, 1 thread, us per munmap; the
 * buffer is mapped, written and registered again untimed.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <umn/proc.h>
#include <umn/uring.h>

#include "bench.h"

#define NAME	"uring"
#define MAX_LEN (1UL << 20)
#define THREADS 2

enum { V_PLAIN, V_FIXED, V_REG, V_HIT, V_MISS, NVARIANTS };

static const char *const variant_names[NVARIANTS] = { "plain", "fixed",
						      "reg-per-io", "cache-hit",
						      "cache-miss" };

static const unsigned long sizes_full[] = { 4096, 65536, MAX_LEN };
static const unsigned long sizes_quick[] = { 4096, MAX_LEN };

struct ctx {
	pthread_t thread;
	struct io_uring raw;  /* plain, fixed, reg-per-io: a table of 2 */
	struct io_uring hit;  /* owned by cache */
	struct io_uring miss; /* owned by one_slot */
	struct umn_uring *cache, *one_slot;
	char *buf[2];
	int fd;
	unsigned long off; /* where this thread writes */
	/* The batch to run. */
	int variant;
	unsigned long len, n;
	pthread_barrier_t *start;
	double cpu_ns; /* the thread's CPU time over the batch */
};

static bool direct;

static void die(const char *what)
{
	bench_die(NAME, what);
}

static void wait_one(struct io_uring *ring, unsigned long len)
{
	struct io_uring_cqe *cqe;

	if (io_uring_submit(ring) != 1 || io_uring_wait_cqe(ring, &cqe))
		die("io_uring submit or wait");
	if (cqe->res != (int)len)
		die("a write");
	io_uring_cqe_seen(ring, cqe);
}

static void write_fixed(struct io_uring *ring, int fd, char *buf,
			unsigned long len, unsigned long off, int index)
{
	io_uring_prep_write_fixed(io_uring_get_sqe(ring), fd, buf,
				  (unsigned int)len, off, index);
	wait_one(ring, len);
}

static void update(struct io_uring *ring, unsigned int index, char *buf,
		   unsigned long len)
{
	struct iovec iov = { buf, len };

	if (io_uring_register_buffers_update_tag(ring, index, &iov, NULL, 1) <
	    0)
		die("io_uring_register_buffers_update_tag");
}

static void one_io(struct ctx *c, unsigned long k)
{
	char *buf = c->buf[k & 1];
	int index;

	switch (c->variant) {
	case V_PLAIN:
		io_uring_prep_write(io_uring_get_sqe(&c->raw), c->fd, c->buf[0],
				    (unsigned int)c->len, c->off);
		wait_one(&c->raw, c->len);
		break;
	case V_FIXED:
		write_fixed(&c->raw, c->fd, c->buf[0], c->len, c->off, 0);
		break;
	case V_REG:
		update(&c->raw, 1, c->buf[0], c->len);
		write_fixed(&c->raw, c->fd, c->buf[0], c->len, c->off, 1);
		update(&c->raw, 1, NULL, 0);
		break;
	case V_HIT:
	case V_MISS:
		if (c->variant == V_HIT)
			buf = c->buf[0];
		index = umn_uring_get(c->variant == V_HIT ? c->cache
							  : c->one_slot,
				      buf, c->len);
		if (index < 0)
			die("umn_uring_get");
		write_fixed(c->variant == V_HIT ? &c->hit : &c->miss, c->fd,
			    buf, c->len, c->off, index);
		umn_uring_put(c->variant == V_HIT ? c->cache : c->one_slot,
			      index);
		break;
	}
}

static double thread_cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void *run(void *arg)
{
	struct ctx *c = arg;
	double t0;

	pthread_barrier_wait(c->start);
	t0 = thread_cpu_ns();
	for (unsigned long k = 0; k < c->n; k++)
		one_io(c, k);
	c->cpu_ns = thread_cpu_ns() - t0;
	return NULL;
}

static char *map_buf(void)
{
	char *p = mmap(NULL, MAX_LEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	memset(p, 'u', MAX_LEN);
	return p;
}

static void ring_init(struct io_uring *ring)
{
	if (io_uring_queue_init(4, ring, 0))
		die("io_uring_queue_init");
}

static int open_file(int i)
{
	const char *target = getenv("UMN_BENCH_URING_TARGET");
	char path[64];
	int fd;

	if (target) {
		fd = open(target, O_RDWR | O_DIRECT);
		direct = fd >= 0;
		if (fd < 0)
			fd = open(target, O_RDWR);
		if (fd < 0)
			die("open $UMN_BENCH_URING_TARGET");
		return fd;
	}

	snprintf(path, sizeof(path), "umn-bench-uring-%d-XXXXXX", i);
	fd = mkostemp(path, O_DIRECT);
	direct = fd >= 0;
	if (fd < 0) {
		snprintf(path, sizeof(path), "umn-bench-uring-%d-XXXXXX", i);
		fd = mkstemp(path);
	}
	if (fd < 0)
		die("a file in the working folder");
	unlink(path);
	return fd;
}

static void ctx_init(struct ctx *c, int i)
{
	ring_init(&c->raw);
	ring_init(&c->hit);
	ring_init(&c->miss);
	if (io_uring_register_buffers_sparse(&c->raw, 2))
		die("io_uring_register_buffers_sparse");
	if (umn_uring_create(umn_proc_mm(), &c->hit, 4, 0, &c->cache) ||
	    umn_uring_create(umn_proc_mm(), &c->miss, 1, 0, &c->one_slot))
		die("umn_uring_create");
	c->buf[0] = map_buf();
	c->buf[1] = map_buf();
	update(&c->raw, 0, c->buf[0], MAX_LEN);
	c->fd = open_file(i);
	c->off = (unsigned long)i * MAX_LEN;
}

static void ctx_fini(struct ctx *c)
{
	if (umn_uring_destroy(c->cache) || umn_uring_destroy(c->one_slot))
		die("umn_uring_destroy");
	io_uring_queue_exit(&c->raw);
	io_uring_queue_exit(&c->hit);
	io_uring_queue_exit(&c->miss);
	munmap(c->buf[0], MAX_LEN);
	munmap(c->buf[1], MAX_LEN);
	close(c->fd);
}

/* One batch of @variant on @nthreads threads: us per I/O of a thread;
 * *@cpu: the submitting threads' CPU time per I/O, us. */
static double batch(struct ctx *ctx, int nthreads, int variant,
		    unsigned long len, unsigned long n, double *cpu)
{
	pthread_barrier_t start;
	double t0;
	int i;

	pthread_barrier_init(&start, NULL, (unsigned int)nthreads + 1);
	for (i = 0; i < nthreads; i++) {
		ctx[i].variant = variant;
		ctx[i].len = len;
		ctx[i].n = n;
		ctx[i].start = &start;
		/* Untimed: the first I/O (a miss fills the slot). */
		one_io(&ctx[i], 1);
		if (pthread_create(&ctx[i].thread, NULL, run, &ctx[i]))
			die("pthread_create");
	}
	pthread_barrier_wait(&start);
	t0 = bench_now_ns();
	for (i = 0; i < nthreads; i++)
		pthread_join(ctx[i].thread, NULL);
	t0 = bench_now_ns() - t0;
	pthread_barrier_destroy(&start);
	*cpu = 0;
	for (i = 0; i < nthreads; i++)
		*cpu += ctx[i].cpu_ns / 1e3 / (double)n / nthreads;
	return t0 / 1e3 / (double)n;
}

static void bench_writes(struct ctx *ctx, int reps)
{
	const unsigned long *sizes = bench_quick ? sizes_quick : sizes_full;
	int nsizes = bench_quick ? 2 : 3;
	double v[NVARIANTS][16], cpu[NVARIANTS][16];
	char param[32];

	for (int threads = 1; threads <= THREADS; threads++) {
		for (int s = 0; s < nsizes; s++) {
			unsigned long len = sizes[s];
			unsigned long n = len >= MAX_LEN ? 64 : 512;

			for (int r = 0; r < reps; r++)
				for (int var = 0; var < NVARIANTS; var++)
					v[var][r] = batch(ctx, threads, var,
							  len, n, &cpu[var][r]);
			snprintf(param, sizeof(param), "%luK:threads=%d",
				 len >> 10, threads);
			for (int var = 0; var < NVARIANTS; var++)
				bench_report(NAME, variant_names[var], param,
					     "us_per_io", v[var], reps);
			for (int var = 0; var < NVARIANTS; var++)
				bench_report(NAME, variant_names[var], param,
					     "cpu_us_per_io", cpu[var], reps);
		}
	}
}

/* munmap of @len bytes at c->buf[0], covered by a slot or not: us. */
static double one_munmap(struct ctx *c, unsigned long len, bool cached)
{
	double t0;
	int index;

	if (cached) {
		index = umn_uring_get(c->cache, c->buf[0], len);
		if (index < 0)
			die("umn_uring_get");
		umn_uring_put(c->cache, index);
	}
	t0 = bench_now_ns();
	if (munmap(c->buf[0], len))
		die("munmap");
	t0 = bench_now_ns() - t0;
	if (mmap(c->buf[0], len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != c->buf[0])
		die("mmap");
	memset(c->buf[0], 'u', len);
	return t0 / 1e3;
}

static void bench_invalidation(struct ctx *c, int reps)
{
	static const unsigned long lens[] = { 4096, 65536, MAX_LEN };
	double v[2][16], sum[2];
	char param[32];
	int k, n = 64;

	for (int s = 0; s < 3; s++) {
		for (int r = 0; r < reps; r++) {
			sum[0] = sum[1] = 0;
			for (k = 0; k < 2 * n; k++)
				sum[k & 1] += one_munmap(c, lens[s], k & 1);
			v[0][r] = sum[0] / n;
			v[1][r] = sum[1] / n;
		}
		snprintf(param, sizeof(param), "%luK", lens[s] >> 10);
		bench_report(NAME, "munmap-uncached", param, "us_per_munmap",
			     v[0], reps);
		bench_report(NAME, "munmap-cached", param, "us_per_munmap",
			     v[1], reps);
	}
	/* What the other variants left mapped in the slots' range: fresh. */
	update(&c->raw, 0, c->buf[0], MAX_LEN);
}

/* umn_uring_get() + umn_uring_put() alone, no I/O: a hit (one buffer, 4
 * slots) and a miss (two buffers in turn, one slot), ns per pair. */
static void bench_get_put(struct ctx *c, int reps)
{
	static const unsigned long lens[] = { 4096, MAX_LEN };
	double v[2][16], t0;
	int index, n;
	char param[32];

	for (int s = 0; s < 2; s++) {
		for (int r = 0; r < reps; r++) {
			for (int miss = 0; miss < 2; miss++) {
				n = miss ? 256 : 20000;
				t0 = bench_now_ns();
				for (int k = 0; k < n; k++) {
					struct umn_uring *u =
						miss ? c->one_slot : c->cache;

					index = umn_uring_get(
						u, c->buf[miss & k], lens[s]);
					if (index < 0)
						die("umn_uring_get");
					umn_uring_put(u, index);
				}
				v[miss][r] = (bench_now_ns() - t0) / n;
			}
		}
		snprintf(param, sizeof(param), "%luK", lens[s] >> 10);
		bench_report(NAME, "get-put-hit", param, "ns_per_op", v[0],
			     reps);
		bench_report(NAME, "get-put-miss", param, "ns_per_op", v[1],
			     reps);
	}
}

void bench_uring(void)
{
	struct ctx ctx[THREADS] = { 0 };
	int reps = bench_quick ? 3 : 11, ret;

	ret = umn_proc_start(UMN_PROC_HOOKS);
	if (ret < 0) {
		printf("%s: left out: umn_proc_start(UMN_PROC_HOOKS): %s\n",
		       NAME, strerror(-ret));
		return;
	}
	for (int i = 0; i < THREADS; i++)
		ctx_init(&ctx[i], i);
	printf("%s: the files are %s\n", NAME,
	       direct ? "O_DIRECT (the kernel pins per plain write)"
		      : "buffered (no O_DIRECT here: plain writes copy)");
	bench_writes(ctx, reps);
	bench_get_put(&ctx[0], reps);
	bench_invalidation(&ctx[0], reps);
	for (int i = 0; i < THREADS; i++)
		ctx_fini(&ctx[i]);
}
