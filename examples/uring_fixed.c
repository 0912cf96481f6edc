// SPDX-License-Identifier: MIT
/*
 * examples/uring_fixed.c - io_uring fixed buffers that follow the memory.
 *
 * A program registers a buffer with io_uring to save the page pinning of
 * every I/O; the kernel pins the pages once.  Then it unmaps the buffer,
 * maps new memory at the same address and writes it to a file with
 * WRITE_FIXED: without umn the file gets the OLD pages, freed memory the
 * program no longer sees.  Through <umn/uring.h>, the slot is emptied
 * before the munmap reaches the kernel, the next umn_uring_get() registers
 * the new pages, and an index held across the change fails with -EFAULT
 * instead of writing what the address no longer holds.
 *
 * Built with -DEXAMPLE_BREAK, the cache hears nothing (its deliberate
 * break): the file gets the old data, and the program says so and ends
 * with status 3.
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

#ifdef EXAMPLE_BREAK /* a test's planted bug (examples/CMakeLists.txt) */
#include <umn-test/breaks.h>
#define FLAGS UMN_URING_BREAK_INVALIDATE
#else
#define FLAGS 0
#endif

#define LEN (1UL << 20) /* the buffer */
#define IO  4096UL	/* what each write sends */

static struct io_uring ring;
static int fd;

static void die(const char *what, int err)
{
	fprintf(stderr, "uring_fixed: %s: %s\n", what, strerror(-err));
	exit(1);
}

/* WRITE_FIXED @IO bytes of @buf from slot @index at offset 0; the result. */
static int write_fixed(void *buf, int index)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	struct io_uring_cqe *cqe;
	int ret;

	io_uring_prep_write_fixed(sqe, fd, buf, IO, 0, index);
	io_uring_submit(&ring);
	ret = io_uring_wait_cqe(&ring, &cqe);
	if (ret)
		die("io_uring_wait_cqe", ret);
	ret = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return ret;
}

/* The first byte of the file. */
static char file_byte(void)
{
	char c = 0;

	if (pread(fd, &c, 1, 0) != 1)
		die("pread", -errno);
	return c;
}

int main(void)
{
	char path[] = "/tmp/umn-uring-XXXXXX";
	struct umn_uring *cache;
	int ret, index, held;
	char *buf;

	ret = umn_proc_start(UMN_PROC_HOOKS);
	if (ret < 0)
		die("umn_proc_start", ret);
	ret = io_uring_queue_init(8, &ring, 0);
	if (ret)
		die("io_uring_queue_init", ret);
	ret = umn_uring_create(umn_proc_mm(), &ring, 16, FLAGS, &cache);
	if (ret)
		die("umn_uring_create", ret);
	fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp", -errno);
	unlink(path);

	/* 1 MiB of 'A', written through a fixed buffer. */
	buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap", -errno);
	memset(buf, 'A', LEN);
	index = umn_uring_get(cache, buf, LEN);
	if (index < 0)
		die("umn_uring_get", index);
	ret = write_fixed(buf, index);
	printf("slot %d over %p: write: %d, file: %c\n", index, (void *)buf,
	       ret, file_byte());
	held = umn_uring_get(cache, buf, IO); /* a second holder, kept */
	umn_uring_put(cache, index);

	/* New memory at the same address, full of 'B'. */
	if (munmap(buf, LEN) ||
	    mmap(buf, LEN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != buf)
		die("munmap, mmap", -errno);
	memset(buf, 'B', LEN);

	/* The index held across the change is refused... */
	ret = write_fixed(buf, held);
	printf("the held slot %d after munmap: write: %d (%s)\n", held, ret,
	       ret < 0 ? strerror(-ret) : "wrote");
	umn_uring_put(cache, held);
	/* ...and a get now registers the new pages. */
	index = umn_uring_get(cache, buf, LEN);
	if (index < 0)
		die("umn_uring_get", index);
	ret = write_fixed(buf, index);
	umn_uring_put(cache, index);
	printf("slot %d after munmap and mmap: write: %d, file: %c\n", index,
	       ret, file_byte());
	if (file_byte() != 'B') {
		printf("FAIL: the file got '%c', freed memory: the slot "
		       "outlived the munmap\n",
		       file_byte());
		return 3;
	}
	ret = umn_uring_destroy(cache);
	if (ret)
		die("umn_uring_destroy", ret);
	io_uring_queue_exit(&ring);
	printf("ok\n");
	return 0;
}
