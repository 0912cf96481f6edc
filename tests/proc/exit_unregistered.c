// SPDX-License-Identifier: MIT
/*
 * tests/proc/exit_unregistered.c - a process whose every thread left
 * liburcu-bp's registry exits.
 *
 * liburcu-bp counts its registered threads; at exit, when none is left,
 * its destructor unmaps its registry with its init lock held.  That munmap
 * reaches the hook, whose read lock registers the exiting thread, which
 * needs the same lock: without umn's exit handler (primaries/proc/proc.c,
 * docs/proc.md, "Limits") the process hangs there for ever, with every
 * signal but SIGKILL blocked.
 *
 * A child starts the hooks; one thread, on a stack of its own (so that
 * glibc does not release it with a hooked madvise after the thread left
 * the registry), makes one hooked munmap, which registers it, and exits,
 * which unregisters it; then the child returns from main.  The parent
 * waits 20 s for it.  Built twice: against liburcu-bp as a shared library
 * and linked into the program, where destructors run in link order.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <umn/proc.h>

#define STACK (1UL << 20)

static void *one_munmap(void *arg)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)arg;
	if (p == MAP_FAILED || munmap(p, 4096))
		_exit(3);
	return NULL;
}

static int child(void)
{
	pthread_attr_t attr;
	pthread_t t;
	void *stack;
	int ret = umn_proc_start(UMN_PROC_HOOKS);

	if (ret < 0 || !(ret & UMN_PROC_HOOKS)) {
		printf("skipped: the hooks do not start here (%d)\n", ret);
		return 77;
	}
	stack = mmap(NULL, STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED || pthread_attr_init(&attr) ||
	    pthread_attr_setstack(&attr, stack, STACK) ||
	    pthread_create(&t, &attr, one_munmap, NULL) ||
	    pthread_join(t, NULL))
		return 2;
	fflush(stdout);
	return 0; /* exit(): the handlers, then the destructors */
}

int main(void)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	int status, i;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 2;
	if (!pid)
		exit(child());
	for (i = 0; i < 2000; i++) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid) {
			if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
				return 77;
			if (WIFEXITED(status) && !WEXITSTATUS(status)) {
				printf("the child exited\n");
				return 0;
			}
			printf("FAIL: the child ended with status %#x\n",
			       status);
			return 1;
		}
		if (w < 0 && errno != EINTR)
			return 2;
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	printf("FAIL: the child was still exiting after 20 s (killed): "
	       "liburcu-bp's destructor waits in the munmap hook\n");
	return 1;
}
