// SPDX-License-Identifier: MIT
/*
 * tests/fuzz/replay.c - run inputs through the fuzz harness without
 * libFuzzer, for the normal builds' ctest: each file named on the command
 * line (each file of a folder named, in name order; dotfiles and README*
 * skipped) runs in a child process of its own, so that an input that
 * aborts counts as one failure and the others still run.
 *
 * The oracle's verdict ends a child with status 3 (fuzz_oracle_exit);
 * any other end of a child that is not 0 (a signal, a sanitizer's status,
 * the harness's own abort()) is another kind of failure.
 *
 * With --min-inputs N, fewer than N inputs replayed is a failure:
 * ctest gives the number of files git tracks under corpus/ and
 * regressions/, so that every committed input is seen to run.
 *
 * Prints each failure, then "replay: N passed, N failed" and the same as a
 * Check summary line (for tests/summary.sh; not with --no-summary, for a
 * run that is meant to fail under tests/expect-status.sh).  Exits 0 if
 * every input passed, 3 if some failed and every failure was the oracle's
 * verdict, 1 otherwise.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern int fuzz_oracle_exit; /* fuzz_soft.c */

#define ORACLE_EXIT 3

static int passed, failed, verdicts;

static int run_file(const char *path)
{
	unsigned char *buf;
	size_t n = 0, cap = 4096, got;
	FILE *f = fopen(path, "rb");

	if (!f) {
		perror(path);
		return 1;
	}
	buf = malloc(cap);
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	if (!buf)
		return 1;
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static void replay(const char *path)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0)
		exit(run_file(path)); /* atexit: leak checks, profiles */
	if (waitpid(pid, &status, 0) < 0) {
		perror("waitpid");
		exit(2);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		passed++;
		return;
	}
	failed++;
	if (WIFEXITED(status) && WEXITSTATUS(status) == ORACLE_EXIT) {
		verdicts++;
		printf("replay: %s: FAILED (the oracle's verdict, exit status "
		       "%d)\n",
		       path, ORACLE_EXIT);
	} else if (WIFSIGNALED(status))
		printf("replay: %s: FAILED (signal %d)\n", path,
		       WTERMSIG(status));
	else
		printf("replay: %s: FAILED (exit status %d)\n", path,
		       WEXITSTATUS(status));
}

static int skip(const struct dirent *d)
{
	return d->d_name[0] != '.' && strncmp(d->d_name, "README", 6);
}

int main(int argc, char **argv)
{
	struct dirent **names;
	char path[4096];
	bool summary = true;
	struct stat st;
	int i, j, n, min_inputs = 0;

	fuzz_oracle_exit = ORACLE_EXIT;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-summary")) {
			summary = false;
			continue;
		}
		if (!strcmp(argv[i], "--min-inputs") && i + 1 < argc) {
			min_inputs = atoi(argv[++i]);
			continue;
		}
		if (stat(argv[i], &st)) {
			perror(argv[i]);
			failed++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			replay(argv[i]);
			continue;
		}
		n = scandir(argv[i], &names, skip, alphasort);
		if (n < 0) {
			perror(argv[i]);
			failed++;
			continue;
		}
		for (j = 0; j < n; j++) {
			snprintf(path, sizeof(path), "%s/%s", argv[i],
				 names[j]->d_name);
			replay(path);
			free(names[j]);
		}
		free(names);
	}
	if (passed + failed < min_inputs) {
		printf("replay: FAILED: %d inputs replayed, fewer than the %d "
		       "committed\n",
		       passed + failed, min_inputs);
		failed += min_inputs - (passed + failed);
	}
	printf("replay: %d passed, %d failed\n", passed, failed);
	if (summary)
		printf("%d%%: Checks: %d, Failures: %d, Errors: 0\n",
		       passed + failed ? 100 * passed / (passed + failed) : 100,
		       passed + failed, failed);
	if (!failed)
		return 0;
	return failed == verdicts ? ORACLE_EXIT : 1;
}
