// SPDX-License-Identifier: MIT
/*
 * primaries/proc/signals.c - see every signal handler the program
 * installs, so that holding signals costs nothing while it has none
 * (core/signals.c has the protocol).
 *
 * libc's sigaction is patched like the hooked calls (x86-64; every
 * sigaction, signal, sigset and bsd_signal of glibc goes through its
 * entry).  The hook refuses what glibc refuses (a bad number, glibc's
 * own signals), tells the core before a handler goes in, and installs
 * with glibc's __libc_sigaction.  Once the hook is in, start looks at
 * every signal's action: a handler installed before, other than glibc's
 * own (cancellation and setxid, which run no hooked call), keeps holds
 * masking.  The hook is optional: where it cannot be patched, where
 * __libc_sigaction is not found, or under a glibc whose __sigaction was
 * not checked (it replaces that function whole), holds mask, as before.
 */
#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <signal.h>
#include <string.h>

#include "../../core/primary.h"
#include "proc.h"

#define SIGNALS 65 /* 1..64 */

/* The glibc whose __sigaction the hook was checked against (its code
 * read): elsewhere the hook is left out, and holds mask. */
#define GLIBC_CHECKED "2.36"

static int (*libc_sigaction)(int, const struct sigaction *, struct sigaction *);

/* glibc's own: SIGCANCEL and SIGSETXID (it refuses them to programs). */
static bool glibcs(int sig)
{
	return sig == 32 || sig == 33;
}

static bool runs_a_handler(const struct sigaction *act)
{
	return act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
}

bool umn__proc_signals_usable(void)
{
	void *libc;

	if (libc_sigaction)
		return true;
	/* The hook replaces glibc's __sigaction whole: only where its body
	 * is known to be the checks above and a call of __libc_sigaction. */
	if (strcmp(gnu_get_libc_version(), GLIBC_CHECKED))
		return false;
	libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	if (!libc)
		return false;
	*(void **)&libc_sigaction =
		dlvsym(libc, "__libc_sigaction", "GLIBC_PRIVATE");
	dlclose(libc);
	return libc_sigaction;
}

int umn__proc_hook_sigaction(int sig, const struct sigaction *act,
			     struct sigaction *old)
{
	if (sig <= 0 || sig >= SIGNALS || glibcs(sig)) {
		errno = EINVAL;
		return -1;
	}
	if (act && runs_a_handler(act))
		umn__signals_expect_handler();
	return libc_sigaction(sig, act, old);
}

void umn__proc_signals_start(void)
{
	struct sigaction cur;

	for (int sig = 1; sig < SIGNALS; sig++)
		if (!glibcs(sig) && !libc_sigaction(sig, NULL, &cur) &&
		    runs_a_handler(&cur))
			return;
	umn__signals_none_installed();
}
