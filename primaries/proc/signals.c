// SPDX-License-Identifier: MIT
/*
 * primaries/proc/signals.c - every handler the program installs runs
 * under a wrapper, so that holding the thread's signals costs no system
 * call (core/signals.c has the protocol: the wrapper defers a signal that
 * finds its thread inside a hold).
 *
 * libc's sigaction is patched like the hooked calls (x86-64; every
 * sigaction, signal, sigset and bsd_signal of glibc goes through its
 * entry).  The hook refuses what glibc refuses (a bad number, glibc's own
 * signals) and installs with glibc's __libc_sigaction: a handler goes in
 * as wrapper(), with every signal blocked while it runs, SA_SIGINFO set
 * and SA_NODEFER and SA_RESETHAND cleared; the program's action is kept
 * as it set it (sigaction() returns it), and the wrapper gives its
 * handler the mask and the once-only run the kernel would have.  That
 * costs the wrapper a system call per signal it hands on (the mask);
 * holds cost none.  Once the hook is in, the start wraps every handler
 * installed before, then lets holds stop masking.
 *
 * The hook is optional: where it cannot be patched, where
 * __libc_sigaction is not found, under a glibc whose __sigaction was not
 * checked (it replaces that function whole), or under a sanitizer (its
 * runtime installs handlers with raw system calls), holds mask.  A
 * handler installed with a raw rt_sigaction system call after the start
 * is not wrapped (docs/proc.md lists the limits).
 */
#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../core/primary.h"
#include "../../core/rcu.h" /* UMN__TSAN, UMN__ASAN */
#include "proc.h"

#define SIGNALS 65 /* 1..64 */

/* The glibc whose __sigaction the hook was checked against (its code
 * read): elsewhere the hook is left out, and holds mask. */
#define GLIBC_CHECKED "2.36"

/* The program's action for each signal, as it set it, if wrapper() runs
 * it in the kernel's place; a sequence count, odd while it is written
 * (under install_lock), lets the wrapper read it without a lock. */
struct action {
	bool wrapped;
	struct sigaction act;
};
static struct {
	unsigned long seq;				      /* atomic */
	unsigned long words[(sizeof(struct action) + 7) / 8]; /* atomic */
} actions[SIGNALS];

/* Serialises the hook's changes of actions[] and of the kernel's actions,
 * so that the two change together.  Taken with the thread's signals
 * blocked (by the hook, and in the wrapper, which runs with every signal
 * blocked), so that no handler on top of its holder waits for it.  Not
 * held across fork: a child reinitialises it
 * (umn__proc_signals_forget_in_child). */
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

/* The program's action for @sig, whatever the hook writes meanwhile. */
static void read_action(int sig, struct action *out)
{
	unsigned long s, w[sizeof(actions[0].words) / 8];

	for (;;) {
		s = __atomic_load_n(&actions[sig].seq, __ATOMIC_ACQUIRE);
		if (s & 1) { /* another thread is writing it: short */
			sched_yield();
			continue;
		}
		for (size_t i = 0; i < sizeof(w) / 8; i++)
			w[i] = __atomic_load_n(&actions[sig].words[i],
					       __ATOMIC_RELAXED);
		/* A read-modify-write with release: the loads above cannot
		 * move after it (no fence: TSan has none). */
		if (__atomic_fetch_add(&actions[sig].seq, 0,
				       __ATOMIC_ACQ_REL) == s)
			break;
	}
	memcpy(out, w, sizeof(*out));
}

/* The write in progress, whole, for a child forked in its middle
 * (umn__proc_signals_forget_in_child finishes it). */
static struct {
	int sig;
	unsigned long words[sizeof(actions[0].words) / 8];
} staged;

/* Under install_lock. */
static void write_action(int sig, const struct action *a)
{
	unsigned long s = __atomic_load_n(&actions[sig].seq, __ATOMIC_RELAXED),
		      w[sizeof(actions[0].words) / 8];

	memset(w, 0, sizeof(w));
	memcpy(w, a, sizeof(*a));
	memcpy(staged.words, w, sizeof(w));
	__atomic_store_n(&staged.sig, sig, __ATOMIC_RELEASE);
	/* Acquire: the stores below cannot move before it. */
	__atomic_exchange_n(&actions[sig].seq, s + 1, __ATOMIC_ACQ_REL);
	for (size_t i = 0; i < sizeof(w) / 8; i++)
		__atomic_store_n(&actions[sig].words[i], w[i],
				 __ATOMIC_RELAXED);
	__atomic_store_n(&actions[sig].seq, s + 2, __ATOMIC_RELEASE);
}

static int (*libc_sigaction)(int, const struct sigaction *, struct sigaction *);

/* The process whose actions the table keeps: a vfork() child's sigaction
 * does not write it. */
static pid_t owner;

/* glibc's own: SIGCANCEL and SIGSETXID (it refuses them to programs). */
static bool glibcs(int sig)
{
	return sig == 32 || sig == 33;
}

static bool runs_a_handler(const struct sigaction *act)
{
	return act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
}

/* A fault of the instruction the thread was running, which cannot wait
 * (it would fault again), or abort() (it blocks the signal after the
 * first raise, and would end in a fault instead). */
static bool synchronous(int sig, const siginfo_t *info)
{
	switch (sig) {
	case SIGSEGV:
	case SIGBUS:
	case SIGILL:
	case SIGFPE:
	case SIGTRAP:
	case SIGSYS:
		return info->si_code > 0;
	case SIGABRT:
		return info->si_code == SI_TKILL && info->si_pid == getpid();
	}
	return false;
}

static int install_locked(int sig, const struct sigaction *act,
			  struct sigaction *old);

/*
 * What the kernel runs for every wrapped signal, with every signal
 * blocked (so nothing interleaves with its check of the depth) and
 * SA_SIGINFO.  It defers, or it runs the program's handler as the
 * kernel would have: with the interrupted context's mask, the action's
 * and the signal itself (unless SA_NODEFER) blocked, once if
 * SA_RESETHAND.
 */
static void wrapper(int sig, siginfo_t *info, void *uc)
{
	int saved_errno = errno;
	struct sigaction dfl = { .sa_handler = SIG_DFL }, cur;
	struct umn__deferred_aside aside;
	struct umn__held_signals *h;
	struct action a, now;
	sigset_t mask;

	h = umn__signals_of_thread();
	if (h && h->depth && !synchronous(sig, info) &&
	    umn__signals_defer(h, sig, info, uc))
		goto out;
	read_action(sig, &a);
	if (!a.wrapped || (a.act.sa_flags & SA_RESETHAND)) {
		/* Only if the action is still the one read: another thread
		 * may have installed one since, which must stay. */
		pthread_mutex_lock(&install_lock);
		read_action(sig, &now);
		if (memcmp(&now, &a, sizeof(a))) {
			; /* changed meanwhile: leave it */
		} else if (a.wrapped) {
			install_locked(sig, &dfl,
				       NULL); /* once, as the kernel */
		} else if (!libc_sigaction(sig, NULL, &cur) &&
			   cur.sa_sigaction == wrapper) {
			/* Restored behind libc's back (a raw rt_sigaction
			 * of a copy): what the program set goes back in. */
			libc_sigaction(sig, &a.act, NULL);
		}
		pthread_mutex_unlock(&install_lock);
	}
	if (!a.wrapped) {
		/* Made the default or ignored since the kernel chose us: its
		 * action is that now, and gets the signal again (pending
		 * until we return). */
		umn__signals_queue_again(sig, info);
		goto out;
	}
	sigorset(&mask, &((ucontext_t *)uc)->uc_sigmask, &a.act.sa_mask);
	if (!(a.act.sa_flags & SA_NODEFER))
		sigaddset(&mask, sig);
	aside = umn__signals_set_aside(h);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	errno = saved_errno;
	if (a.act.sa_flags & SA_SIGINFO)
		a.act.sa_sigaction(sig, info, uc);
	else
		a.act.sa_handler(sig);
	umn__signals_put_back(h, aside);
	return;
out:
	errno = saved_errno;
}

/* A signal the last release could not queue again: run the program's
 * handler for it now, as the kernel would have (core/signals.c). */
static void run_late(int sig, siginfo_t *info)
{
	sigset_t all, old;
	ucontext_t uc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	getcontext(&uc);
	uc.uc_sigmask = old;
	wrapper(sig, info, &uc);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Under the lock: make @act (may be NULL) @sig's action, and return the
 * program's old one in @old (may be NULL), as it set it. */
static int install_locked(int sig, const struct sigaction *act,
			  struct sigaction *old)
{
	struct sigaction in, prev;
	int ret;

	if (act && runs_a_handler(act)) {
		in = *act;
		in.sa_sigaction = wrapper;
		in.sa_flags = (act->sa_flags | SA_SIGINFO) &
			      ~(SA_NODEFER | SA_RESETHAND);
		sigfillset(&in.sa_mask);
		ret = libc_sigaction(sig, &in, &prev);
	} else {
		ret = libc_sigaction(sig, act, &prev);
	}
	if (ret)
		return ret;
	if (old) {
		struct action cur;

		read_action(sig, &cur);
		*old = cur.wrapped ? cur.act : prev;
	}
	if (act)
		write_action(sig,
			     &(struct action){ runs_a_handler(act), *act });
	return 0;
}

static void lock_install(sigset_t *saved)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, saved);
	pthread_mutex_lock(&install_lock);
}

static void unlock_install(const sigset_t *saved)
{
	pthread_mutex_unlock(&install_lock);
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

int umn__proc_hook_sigaction(int sig, const struct sigaction *act,
			     struct sigaction *old)
{
	sigset_t saved;
	int ret;

	if (sig <= 0 || sig >= SIGNALS || glibcs(sig)) {
		errno = EINVAL;
		return -1;
	}
	/* SIGKILL and SIGSTOP take no handler; a vfork() child shares the
	 * parent's memory, and its actions must not become the parent's. */
	if (sig == SIGKILL || sig == SIGSTOP || getpid() != owner)
		return libc_sigaction(sig, act, old);
	lock_install(&saved);
	ret = install_locked(sig, act, old);
	unlock_install(&saved);
	return ret;
}

void umn__proc_signals_forget_in_child(void)
{
	/* Another thread may have held it, or been writing an action:
	 * finish that write from its staged copy. */
	install_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	for (int sig = 1; sig < SIGNALS; sig++) {
		if (!(actions[sig].seq & 1))
			continue;
		if (staged.sig == sig)
			memcpy(actions[sig].words, staged.words,
			       sizeof(staged.words));
		actions[sig].seq++;
	}
	owner = getpid();
}

bool umn__proc_signals_usable(void)
{
	void *libc;

#if defined(UMN__TSAN) || defined(UMN__ASAN)
	/* Their runtimes install handlers with raw system calls. */
	return false;
#endif
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

void umn__proc_signals_start(void)
{
	struct sigaction cur;
	sigset_t saved;

	if (__atomic_load_n(&umn__signals_deferrable, __ATOMIC_ACQUIRE))
		return;
	owner = getpid();
	lock_install(&saved);
	for (int sig = 1; sig < SIGNALS; sig++)
		if (!glibcs(sig) && sig != SIGKILL && sig != SIGSTOP &&
		    !libc_sigaction(sig, NULL, &cur) && runs_a_handler(&cur) &&
		    cur.sa_sigaction != wrapper)
			install_locked(sig, &cur, NULL);
	unlock_install(&saved);
	umn__signals_run_late = run_late;
	umn__signals_start_deferring();
}
