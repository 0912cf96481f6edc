// SPDX-License-Identifier: MIT
/*
 * umn-watch-strace-prog: a program of tests/proc/watch-strace.sh that
 * invalidates its memory in every way, many of them behind libc's back.
 * Built twice: statically (umn-watch's preload never loads: only the
 * supervisor can see it) and dynamically (the hooks see the libc calls,
 * not the raw ones).
 *
 * malloc/free and realloc of large blocks, a libc munmap, madvise,
 * mmap MAP_FIXED and mremap, raw syscall()s and an inline syscall
 * instruction, sbrk down, System V shm (SHM_REMAP, shmdt),
 * process_madvise, on x86-64 an i386 munmap through int 0x80, a thread
 * and a forked child.  Prints "done" and exits 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL

static void *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	memset(p, 1, len);
	return p;
}

/* munmap with the instruction itself: no libc, no syscall(). */
static long inline_munmap(void *addr, size_t len)
{
#if defined(__x86_64__)
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_munmap), "D"(addr), "S"(len)
			 : "rcx", "r11", "memory");
	return ret;
#else
	return syscall(SYS_munmap, addr, len);
#endif
}

#if defined(__x86_64__)
static long int80(long nr, unsigned long a, unsigned long b, unsigned long c)
{
	long ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "0"(nr), "b"(a), "c"(b), "d"(c)
			 : "memory");
	return ret;
}
#endif

static void *thread_main(void *arg)
{
	char *p = map(8 * PG);

	(void)arg;
	munmap(p, 4 * PG);
	syscall(SYS_munmap, p + 4 * PG, 4 * PG);
	free(malloc(1 << 22));
	return NULL;
}

static void shm(void)
{
	int id = shmget(IPC_PRIVATE, 16 * PG, IPC_CREAT | 0600);
	char *a, *b;

	if (id < 0) {
		perror("shmget");
		return;
	}
	a = shmat(id, NULL, 0);
	if (a != (void *)-1) {
		memset(a, 2, 16 * PG);
		/* Again over itself: SHM_REMAP replaces the attachment. */
		b = shmat(id, a, SHM_REMAP);
		if (b != (void *)-1)
			syscall(SYS_shmdt, b);
	}
	shmctl(id, IPC_RMID, NULL);
}

int main(void)
{
	char *p, *q, *big;
	pthread_t t;
	pid_t pid;

	/* malloc's mmapped chunks: munmap at free, mremap at realloc. */
	big = malloc(4 << 20);
	memset(big, 3, 4 << 20);
	big = realloc(big, 8 << 20);
	free(big);

	/* libc's munmap, madvise, mmap MAP_FIXED, mremap. */
	p = map(16 * PG);
	madvise(p, 4 * PG, MADV_DONTNEED);
	mmap(p + 4 * PG, 4 * PG, PROT_READ | PROT_WRITE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	p = mremap(p, 16 * PG, 8 * PG, 0);
	munmap(p, 8 * PG);

	/* The same, raw. */
	p = map(16 * PG);
	syscall(SYS_madvise, p, 4 * PG, MADV_DONTNEED);
	syscall(SYS_madvise, p + 4 * PG, 4 * PG, MADV_FREE);
	syscall(SYS_mmap, p + 8 * PG, 4 * PG, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	q = (char *)syscall(SYS_mremap, p, 16 * PG, 32 * PG, MREMAP_MAYMOVE);
	if (q != MAP_FAILED)
		p = q;
	syscall(SYS_munmap, p, 32 * PG);
	p = map(4 * PG);
	inline_munmap(p, 4 * PG);

	/* The heap: grow, then give back with a lower break. */
	p = sbrk(64 * PG);
	if (p != (void *)-1) {
		memset(p, 4, 64 * PG);
		sbrk(-32 * (long)PG);
		syscall(SYS_brk, p + 16 * PG);
	}

	shm();

#ifdef SYS_process_madvise
#ifdef SYS_pidfd_open
	{
		int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		struct iovec iov;

		p = map(8 * PG);
		iov.iov_base = p;
		iov.iov_len = 8 * PG;
		if (fd >= 0)
			syscall(SYS_process_madvise, fd, &iov, 1,
				21 /* MADV_PAGEOUT */, 0);
		munmap(p, 8 * PG);
		if (fd >= 0)
			close(fd);
	}
#endif
#endif

#if defined(__x86_64__)
	/*
	 * The i386 ABI from a 64-bit process, int 0x80, below 4 GiB: madvise
	 * (219), the old mmap (90, its arguments in memory) with MAP_FIXED,
	 * munmap (91).
	 */
	p = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (p != MAP_FAILED) {
		unsigned int *args = (unsigned int *)(p + 7 * PG);

		memset(p, 5, 8 * PG);
		int80(219, (unsigned long)p, 2 * PG, MADV_DONTNEED);
		args[0] = (unsigned int)(unsigned long)(p + 2 * PG);
		args[1] = 2 * PG;
		args[2] = PROT_READ | PROT_WRITE;
		args[3] = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
		args[4] = (unsigned int)-1;
		args[5] = 0;
		int80(90, (unsigned long)args, 0, 0);
		int80(91, (unsigned long)p, 8 * PG, 0);
	}
#endif

	if (pthread_create(&t, NULL, thread_main, NULL) == 0)
		pthread_join(t, NULL);

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		p = map(8 * PG);
		syscall(SYS_munmap, p, 8 * PG);
		free(malloc(1 << 22));
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	puts("done");
	return 0;
}
