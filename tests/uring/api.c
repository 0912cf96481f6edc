// SPDX-License-Identifier: MIT
/*
 * tests/uring/api.c - <umn/uring.h> call by call: each error of
 * umn_uring(3) (bad input changes nothing), hits, eviction, an index held
 * across an munmap, and a registration that an invalidation collides
 * with.
 *
 * The collision is made, not waited for: this program is linked with
 * -Wl,--wrap=io_uring_register_buffers_update_tag, so the cache's
 * registration goes through wrap_update() below, which, when armed, lets
 * the kernel pin the old pages and then replaces the memory (munmap, mmap
 * again, new data) before returning, while the cache's get has not yet
 * checked umn_interval_read_retry().  The cache must retry and register
 * the new pages; with UMN_URING_BREAK_RETRY (--break-retry) it publishes
 * the old ones, the file gets the old data, and the program says STALE
 * and ends with the oracle's status, 3.
 *
 *	api [--break-retry]
 * Exit: 0; 3 the collision went stale; 1 another check failed; 77 no
 * io_uring or no hooks here.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <umn/proc.h>
#include <umn/uring.h>
#include <umn-test/breaks.h>

#include "../proc/sanitized.h"

#define PAGE 4096UL
#define LEN  (4 * PAGE)

static int failures, checks, stale;

#define check(cond, ...)                                             \
	do {                                                         \
		checks++;                                            \
		if (!(cond)) {                                       \
			failures++;                                  \
			printf("%s:%d: FAIL: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__);                         \
			printf("\n");                                \
		}                                                    \
	} while (0)

/* --- the wrap: a collision on demand --- */

int __real_io_uring_register_buffers_update_tag(struct io_uring *ring,
						unsigned int off,
						const struct iovec *iov,
						const __u64 *tags,
						unsigned int nr);
int __wrap_io_uring_register_buffers_update_tag(struct io_uring *ring,
						unsigned int off,
						const struct iovec *iov,
						const __u64 *tags,
						unsigned int nr);

static char *collide_at; /* armed: replace this buffer after one pin */
static char collide_fill;

static char *map(char *addr, int prot)
{
	char *p = mmap(addr, LEN, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | (addr ? MAP_FIXED : 0), -1,
		       0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

int __wrap_io_uring_register_buffers_update_tag(struct io_uring *ring,
						unsigned int off,
						const struct iovec *iov,
						const __u64 *tags,
						unsigned int nr)
{
	int ret = __real_io_uring_register_buffers_update_tag(ring, off, iov,
							      tags, nr);
	char *p = collide_at;

	if (p && iov->iov_base == p) {
		/* Pinned the old pages; now the memory changes, before the
		 * cache checks for a collision. */
		collide_at = NULL;
		if (munmap(p, LEN))
			exit(1);
		map(p, PROT_READ | PROT_WRITE);
		memset(p, collide_fill, LEN);
	}
	return ret;
}

/* --- helpers --- */

static struct io_uring ring;
static int fd;

static int write_fixed(void *buf, size_t len, int index)
{
	struct io_uring_cqe *cqe;
	int ret;

	io_uring_prep_write_fixed(io_uring_get_sqe(&ring), fd, buf,
				  (unsigned int)len, 0, index);
	io_uring_submit(&ring);
	if (io_uring_wait_cqe(&ring, &cqe))
		exit(1);
	ret = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return ret;
}

static char file_byte(void)
{
	char c = 0;

	if (pread(fd, &c, 1, 0) != 1)
		exit(1);
	return c;
}

static struct umn_uring *create(unsigned int nslots, unsigned int flags)
{
	struct umn_uring *c = NULL;
	int ret = umn_uring_create(umn_proc_mm(), &ring, nslots, flags, &c);

	check(ret == 0, "umn_uring_create: %d", ret);
	if (ret)
		exit(1);
	return c;
}

static void destroy(struct umn_uring *c)
{
	int ret = umn_uring_destroy(c);

	check(ret == 0, "umn_uring_destroy: %d", ret);
}

/* --- the cases --- */

static void case_create_errors(void)
{
	struct umn_uring *c = (struct umn_uring *)&c;
	struct io_uring single, other;
	struct iovec iov = { map(NULL, PROT_READ | PROT_WRITE), LEN };
	struct umn_mm *mm;

	check(umn_uring_create(NULL, &ring, 4, 0, &c) == -EINVAL, "NULL mm");
	check(umn_mm_create(NULL, NULL, &mm) == 0, "umn_mm_create");
	check(umn_uring_create(mm, &ring, 4, 0, &c) == -EINVAL,
	      "an mm that is not the process's");
	umn_mm_put(mm);
	check(umn_uring_create(umn_proc_mm(), NULL, 4, 0, &c) == -EINVAL,
	      "NULL ring");
	check(umn_uring_create(umn_proc_mm(), &ring, 4, 0, NULL) == -EINVAL,
	      "NULL cp");
	check(umn_uring_create(umn_proc_mm(), &ring, 0, 0, &c) == -EINVAL,
	      "0 slots");
	check(umn_uring_create(umn_proc_mm(), &ring, UMN_URING_MAX_SLOTS + 1, 0,
			       &c) == -EINVAL,
	      "too many slots");
	check(umn_uring_create(umn_proc_mm(), &ring, 4, 1U << 30, &c) ==
		      -EINVAL,
	      "an unknown flag");
	if (io_uring_queue_init(4, &single, IORING_SETUP_SINGLE_ISSUER) == 0) {
		check(umn_uring_create(umn_proc_mm(), &single, 4, 0, &c) ==
			      -EINVAL,
		      "a single-issuer ring");
		io_uring_queue_exit(&single);
	}
	if (io_uring_queue_init(4, &other, 0) == 0) {
		check(io_uring_register_buffers(&other, &iov, 1) == 0,
		      "io_uring_register_buffers");
		check(umn_uring_create(umn_proc_mm(), &other, 4, 0, &c) ==
			      -EBUSY,
		      "a ring with buffers");
		io_uring_queue_exit(&other);
	}
	check(c == (struct umn_uring *)&c, "a failed create wrote *cp");
	munmap(iov.iov_base, LEN);
}

static void case_get_put_errors(void)
{
	struct umn_uring *c = create(2, 0);
	char *a = map(NULL, PROT_READ | PROT_WRITE);
	char *b = map(NULL, PROT_READ | PROT_WRITE);
	char *ro = map(NULL, PROT_READ);
	char *gone = map(NULL, PROT_READ | PROT_WRITE);
	struct umn_uring_stats st;
	int i, j;

	munmap(gone, LEN);
	check(umn_uring_get(NULL, a, LEN) == -EINVAL, "get: NULL cache");
	check(umn_uring_get(c, a, 0) == -EINVAL, "get: len 0");
	check(umn_uring_get(c, (void *)-PAGE, 2 * PAGE) == -EINVAL,
	      "get: a range that wraps");
	check(umn_uring_get(c, a, (1UL << 30) + 1) == -EINVAL,
	      "get: over 1 GiB");
	check(umn_uring_get(c, gone, LEN) == -EFAULT, "get: unmapped");
	check(umn_uring_get(c, ro, LEN) == -EFAULT, "get: read only");
	check(umn_uring_put(c, 0) == -EINVAL, "put: no holder");
	check(umn_uring_put(c, -1) == -EINVAL, "put: index -1");
	check(umn_uring_put(c, 2) == -EINVAL, "put: index out of range");
	check(umn_uring_put(NULL, 0) == -EINVAL, "put: NULL cache");
	check(!umn_uring_valid(c, 0) && !umn_uring_valid(c, 7) &&
		      !umn_uring_valid(NULL, 0),
	      "valid: a free slot, a bad index, no cache");
	i = umn_uring_get(c, a, LEN);
	j = umn_uring_get(c, b, LEN);
	check(i >= 0 && j >= 0 && i != j, "get: two slots: %d %d", i, j);
	check(umn_uring_get(c, ro, PAGE) == -ENOSPC ||
		      umn_uring_get(c, gone, PAGE) == -ENOSPC,
	      "get: every slot held");
	check(umn_uring_get(c, a + PAGE, PAGE) == i, "get: a hit inside");
	check(umn_uring_destroy(c) == -EBUSY, "destroy: a holder");
	check(umn_uring_valid(c, i), "valid after a refused destroy");
	umn_uring_put(c, i);
	umn_uring_put(c, i);
	umn_uring_put(c, j);
	umn_uring_stats(c, &st);
	check(st.hits == 1 && st.registrations == 2,
	      "stats: %lu hits, %lu "
	      "registrations",
	      st.hits, st.registrations);
	destroy(c);
	check(umn_uring_destroy(NULL) == -EINVAL, "destroy: NULL");
	munmap(a, LEN);
	munmap(b, LEN);
	munmap(ro, LEN);
}

static void case_held_across_munmap(void)
{
	struct umn_uring *c = create(4, 0);
	char *a = map(NULL, PROT_READ | PROT_WRITE);
	struct umn_uring_stats st;
	int i, k, ret;

	memset(a, 'A', LEN);
	i = umn_uring_get(c, a, LEN);
	check(i >= 0 && write_fixed(a, PAGE, i) == (int)PAGE &&
		      file_byte() == 'A',
	      "a write through the cache");
	munmap(a, LEN);
	map(a, PROT_READ | PROT_WRITE);
	memset(a, 'B', LEN);
	ret = write_fixed(a, PAGE, i);
	check(ret == -EFAULT, "an index held across munmap: %d", ret);
	check(!umn_uring_valid(c, i), "valid after munmap");
	umn_uring_put(c, i);
	k = umn_uring_get(c, a, LEN);
	check(k >= 0 && write_fixed(a, PAGE, k) == (int)PAGE &&
		      file_byte() == 'B',
	      "a get after munmap registers the new pages");
	umn_uring_put(c, k);
	umn_uring_stats(c, &st);
	check(st.invalidations == 1, "%lu invalidations", st.invalidations);
	destroy(c);
	munmap(a, LEN);
}

static void case_eviction(void)
{
	struct umn_uring *c = create(1, 0);
	char *a = map(NULL, PROT_READ | PROT_WRITE);
	char *b = map(NULL, PROT_READ | PROT_WRITE);
	struct umn_uring_stats st;
	int n;

	memset(a, 'a', LEN);
	memset(b, 'b', LEN);
	for (n = 0; n < 4; n++) {
		char *p = n & 1 ? b : a;
		int i = umn_uring_get(c, p, LEN);

		check(i == 0 && write_fixed(p, PAGE, i) == (int)PAGE &&
			      file_byte() == *p,
		      "one slot, two buffers: round %d", n);
		umn_uring_put(c, i);
	}
	umn_uring_stats(c, &st);
	check(st.evictions == 3 && st.registrations == 4,
	      "%lu evictions, %lu registrations", st.evictions,
	      st.registrations);
	destroy(c);
	munmap(a, LEN);
	munmap(b, LEN);
}

static void case_collision(unsigned int flags)
{
	struct umn_uring *c = create(4, flags);
	char *a = map(NULL, PROT_READ | PROT_WRITE);
	struct umn_uring_stats st;
	int i;

	memset(a, 'O', LEN); /* old */
	collide_fill = 'N';  /* new */
	collide_at = a;
	i = umn_uring_get(c, a, LEN);
	check(i >= 0 && !collide_at, "the collision happened: get %d", i);
	check(write_fixed(a, PAGE, i) == (int)PAGE, "a write");
	if (file_byte() != 'N') {
		stale++;
		printf("STALE: the file got '%c' from a registration of the "
		       "pages the address held before the collision\n",
		       file_byte());
	}
	umn_uring_put(c, i);
	umn_uring_stats(c, &st);
	if (!(flags & UMN_URING_BREAK_RETRY))
		check(st.retries == 1, "%lu retries", st.retries);
	destroy(c);
	munmap(a, LEN);
}

int main(int argc, char **argv)
{
	char path[] = "umn-uring-api-XXXXXX";
	bool brk = argc > 1 && !strcmp(argv[1], "--break-retry");
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = umn_proc_start(UMN_PROC_HOOKS);
	if (ret == -ENOSYS) {
		printf("skipped: the hooks cannot start here\n");
		return SKIP;
	}
	ret = io_uring_queue_init(8, &ring, 0);
	if (ret) {
		printf("skipped: io_uring: %s\n", strerror(-ret));
		return SKIP;
	}
	fd = mkstemp(path);
	if (fd < 0)
		return 1;
	unlink(path);
	if (!brk) {
		case_create_errors();
		case_get_put_errors();
		case_held_across_munmap();
		case_eviction();
	}
	case_collision(brk ? UMN_URING_BREAK_RETRY : 0);
	io_uring_queue_exit(&ring);
	close(fd);
	printf("%d%%: Checks: %d, Failures: %d, Errors: 0\n",
	       checks ? (checks - failures) * 100 / checks : 0, checks,
	       failures);
	if (failures)
		return 1;
	if (stale) {
		printf("the collision went stale\n");
		return 3;
	}
	return 0;
}
