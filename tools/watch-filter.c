// SPDX-License-Identifier: MIT
/*
 * umn-watch's seccomp filter: the rules of the system calls it stops,
 * compiled to classic BPF, installed in the child before exec, and the
 * listener handed to the launcher.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "watch.h"

/*
 * The filter stops the system calls that can drop or replace pages, with
 * what BPF can test of their arguments (the advice, MAP_FIXED without
 * MAP_FIXED_NOREPLACE, SHM_REMAP, a brk that is not a query), and lets
 * every other call through.  On x86-64 it also knows the i386 calls a
 * 64-bit process can make with int 0x80, and masks the x32 bit (x32's
 * numbers for these calls are the 64-bit ones).
 */
#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define X32_BIT	    0x40000000u
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH AUDIT_ARCH_RISCV64
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#define ARG_HI(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#define ARG_HI(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#endif

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

#ifndef __NR_process_madvise
#define __NR_process_madvise 440
#endif

static const struct sc_rule native_rules[] = {
	{ __NR_munmap, SC_MUNMAP, T_ALWAYS, 0 },
	{ __NR_mremap, SC_MREMAP, T_ALWAYS, 0 },
	{ __NR_madvise, SC_MADVISE, T_ADVICE, 2 },
	{ __NR_mmap, SC_MMAP, T_FIXED, 3 },
	{ __NR_brk, SC_BRK, T_NONZERO, 0 },
	{ __NR_shmat, SC_SHMAT, T_REMAP, 2 },
	{ __NR_shmdt, SC_SHMDT, T_ALWAYS, 0 },
	{ __NR_process_madvise, SC_PMADVISE, T_ADVICE, 3 },
};

#ifdef __x86_64__
/* arch/x86/entry/syscalls/syscall_32.tbl */
static const struct sc_rule i386_rules[] = {
	{ 91, SC_MUNMAP, T_ALWAYS, 0 },	  { 163, SC_MREMAP, T_ALWAYS, 0 },
	{ 219, SC_MADVISE, T_ADVICE, 2 }, { 192, SC_MMAP, T_FIXED, 3 },
	{ 90, SC_OLD_MMAP, T_ALWAYS, 0 }, { 45, SC_BRK, T_NONZERO, 0 },
	{ 117, SC_IPC, T_ALWAYS, 0 },	  { 397, SC_SHMAT, T_REMAP, 2 },
	{ 398, SC_SHMDT, T_ALWAYS, 0 },	  { 440, SC_PMADVISE, T_ADVICE, 3 },
};
#endif

/* The advices umn's hooks bracket (primaries/proc/hooks.c). */
static const unsigned int advices[] = {
	MADV_DONTNEED,
	MADV_FREE,
	MADV_REMOVE,
	24 /* DONTNEED_LOCKED */,
	102 /* GUARD_INSTALL */,
	MADV_HWPOISON,
	21 /* PAGEOUT */,
	101 /* SOFT_OFFLINE */,
	25 /* COLLAPSE */,
};
#define NADVICES (sizeof(advices) / sizeof(advices[0]))

#define FILTER_MAX 512

static struct sock_filter filter[FILTER_MAX];
static unsigned int flen;

static void put(unsigned short code, unsigned int k, unsigned char jt,
		unsigned char jf)
{
	if (flen < FILTER_MAX)
		filter[flen++] = (struct sock_filter){ code, jt, jf, k };
}

#define RET(v) put(BPF_RET | BPF_K, (v), 0, 0)
#define NOTIFY SECCOMP_RET_USER_NOTIF
#define ALLOW  SECCOMP_RET_ALLOW

/* Length of a rule's test: what follows its "jeq nr". */
static unsigned int test_len(const struct sc_rule *r)
{
	switch (r->test) {
	case T_ALWAYS:
		return 1;
	case T_ADVICE:
		return 1 + NADVICES + 2;
	case T_FIXED:
		return 5;
	case T_REMAP:
		return 4;
	case T_NONZERO:
		return 6;
	}
	return 1;
}

/* Each rule ends in a return on every path: nothing falls through. */
static void put_rule(const struct sc_rule *r)
{
	unsigned int i;

	put(BPF_JMP | BPF_JEQ | BPF_K, r->nr, 0, test_len(r));
	switch (r->test) {
	case T_ALWAYS:
		RET(NOTIFY);
		break;
	case T_ADVICE:
		put(BPF_LD | BPF_W | BPF_ABS, ARG_LO(r->arg), 0, 0);
		for (i = 0; i < NADVICES; i++)
			put(BPF_JMP | BPF_JEQ | BPF_K, advices[i], NADVICES - i,
			    0);
		RET(ALLOW);
		RET(NOTIFY);
		break;
	case T_FIXED:
		put(BPF_LD | BPF_W | BPF_ABS, ARG_LO(r->arg), 0, 0);
		put(BPF_JMP | BPF_JSET | BPF_K, MAP_FIXED, 0, 2);
		put(BPF_JMP | BPF_JSET | BPF_K, MAP_FIXED_NOREPLACE, 1, 0);
		RET(NOTIFY);
		RET(ALLOW);
		break;
	case T_REMAP:
		put(BPF_LD | BPF_W | BPF_ABS, ARG_LO(r->arg), 0, 0);
		put(BPF_JMP | BPF_JSET | BPF_K, SHM_REMAP, 0, 1);
		RET(NOTIFY);
		RET(ALLOW);
		break;
	case T_NONZERO:
		put(BPF_LD | BPF_W | BPF_ABS, ARG_LO(r->arg), 0, 0);
		put(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2);
		put(BPF_LD | BPF_W | BPF_ABS, ARG_HI(r->arg), 0, 0);
		put(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
		RET(NOTIFY);
		RET(ALLOW);
		break;
	}
}

static unsigned int rules_len(const struct sc_rule *r, unsigned int n)
{
	unsigned int len = 2; /* load nr ... return ALLOW */

	while (n--)
		len += 1 + test_len(r++);
	return len;
}

/* A section for one ABI: A holds the arch when it starts. */
static void put_section(unsigned int arch, const struct sc_rule *r,
			unsigned int n, bool x32)
{
	unsigned int i;

	put(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, rules_len(r, n) + !!x32);
	put(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
#ifdef X32_BIT
	if (x32)
		put(BPF_ALU | BPF_AND | BPF_K, ~X32_BIT, 0, 0);
#endif
	for (i = 0; i < n; i++)
		put_rule(&r[i]);
	RET(ALLOW);
}

#define NRULES(a) (sizeof(a) / sizeof((a)[0]))

bool build_filter(void)
{
#ifdef NATIVE_ARCH
	put(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0,
	    0);
	put_section(NATIVE_ARCH, native_rules, NRULES(native_rules), true);
#ifdef __x86_64__
	put_section(AUDIT_ARCH_I386, i386_rules, NRULES(i386_rules), false);
#endif
	RET(ALLOW);
	return flen < FILTER_MAX;
#else
	return false;
#endif
}

/*
 * In the child, before exec: install the filter and return the listener,
 * or -errno.  Without CAP_SYS_ADMIN the kernel asks for no_new_privs.
 */
static long seccomp_install(struct sock_fprog *prog)
{
	long fd;

	/*
	 * Once umn-watch has received a stopped call, only a fatal signal
	 * interrupts it (Linux 5.19), as none interrupts an munmap: a signal
	 * would restart it, and one that comes faster than umn-watch answers
	 * would keep it from ever being made.
	 */
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		     SECCOMP_FILTER_FLAG_NEW_LISTENER |
			     SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
		     prog);
	if (fd < 0 && errno == EINVAL)
		fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			     SECCOMP_FILTER_FLAG_NEW_LISTENER, prog);
	return fd;
}

int install_filter(void)
{
	struct sock_fprog prog = { .len = (unsigned short)flen,
				   .filter = filter };
	long fd;

	fd = seccomp_install(&prog);
	if (fd < 0 && errno == EACCES) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
			return -errno;
		fd = seccomp_install(&prog);
	}
	return fd < 0 ? -errno : (int)fd;
}

void send_listener(int ctl, int fd, int err)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = &err, .iov_len = sizeof(err) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	while (sendmsg(ctl, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

int recv_listener(int ctl)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	int err = EPIPE, fd = -1;
	struct iovec iov = { .iov_base = &err, .iov_len = sizeof(err) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cmsg;
	ssize_t n;

	do
		n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < (ssize_t)sizeof(err))
		return -(n < 0 ? errno : EPIPE);
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg))
		if (cmsg->cmsg_level == SOL_SOCKET &&
		    cmsg->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd >= 0 ? fd : -(err ? err : EPROTO);
}

bool kernel_can_continue(void)
{
	struct utsname u;
	unsigned int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return false;
	return major > 5 || (major == 5 && minor >= 5);
}

static const struct sc_rule *find_rule(const struct sc_rule *r, unsigned int n,
				       unsigned int nr)
{
	while (n--) {
		if (r->nr == nr)
			return r;
		r++;
	}
	return NULL;
}

const struct sc_rule *rule_of(const struct seccomp_data *d, bool *compat)
{
	*compat = false;
#ifdef NATIVE_ARCH
	if (d->arch == NATIVE_ARCH) {
		unsigned int nr = d->nr;
#ifdef X32_BIT
		nr &= ~X32_BIT;
#endif
		return find_rule(native_rules, NRULES(native_rules), nr);
	}
#endif
#ifdef __x86_64__
	if (d->arch == AUDIT_ARCH_I386) {
		*compat = true;
		return find_rule(i386_rules, NRULES(i386_rules), d->nr);
	}
#endif
	return NULL;
}
