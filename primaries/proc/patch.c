// SPDX-License-Identifier: MIT
/*
 * primaries/proc/patch.c - route libc's entry points to the hooks, while
 * other threads may be running them: the driver, the same on every
 * architecture (patch.h); each architecture's patcher says what it
 * patches and how (patch-x86_64.c, patch-aarch64.c).
 *
 * The trampoline page is mapped within a branch's reach of libc's patched
 * sites; each hook gets a slot of it.  An entry point whose code the
 * patcher does not recognise is not patched and the source refuses to
 * start: we never guess.  Bytes are never restored; the hooks are switched
 * off by a flag.  Once patched, libumn is pinned (RTLD_NODELETE), since
 * libc now jumps into it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../core/debug.h"
#include "../../core/fail.h"
#include "patch.h"

extern void **umn__proc_curbrk;

#if defined(UMN_PROC_PATCH)

/*
 * A page below @lo from which a branch reaches every address up to @hi:
 * tried at every UMN_PROC_PATCH_STEP down from 1 MiB below @lo, as far as
 * the reach allows.  NULL if none is free.
 */
static unsigned char *map_near(const unsigned char *lo, const unsigned char *hi)
{
	const long page = sysconf(_SC_PAGESIZE);
	uintptr_t base = ((uintptr_t)lo & ~(uintptr_t)0xffff) - (1UL << 20);

	if (umn__fail_here())
		return NULL;
	for (long i = 0; i < UMN_PROC_PATCH_REACH / UMN_PROC_PATCH_STEP / 2;
	     i++, base -= UMN_PROC_PATCH_STEP) {
		long p = syscall(SYS_mmap, base, page, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS |
					 MAP_FIXED_NOREPLACE,
				 -1, 0);
		if (p == -1) /* glibc's syscall(): -1 and errno */
			continue;
		/* Every site within the branch's reach of the page. */
		if ((uintptr_t)p + UMN_PROC_PATCH_REACH - page >
			    (uintptr_t)hi &&
		    (uintptr_t)p < (uintptr_t)lo + UMN_PROC_PATCH_REACH - page)
			return (unsigned char *)p;
		syscall(SYS_munmap, p, page);
	}
	return NULL;
}

int umn__proc_patch_protect(const unsigned char *from, const unsigned char *to,
			    int prot)
{
	const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)from & ~(page - 1);
	uintptr_t hi = ((uintptr_t)to + page - 1) & ~(page - 1);

	return syscall(SYS_mprotect, lo, hi - lo, prot) ? -errno : 0;
}

static void pin_ourselves(void)
{
	Dl_info info;

	if (dladdr((void *)umn__proc_patch_libc, &info) && info.dli_fname)
		dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

/*
 * Make every thread of the process serialise before it runs user code
 * again, so that none runs an instruction it fetched before the patch.
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED interrupts the threads that are
 * running, and the return from that interrupt serialises (x86's iret;
 * arm64's exception return is a context synchronization event, the
 * effect of an isb); the _SYNC_CORE variant says so explicitly but its
 * registration waits for an RCU grace period (10 ms here) once the
 * process has several threads.  Registration is cheap if liburcu or we
 * did it before.  Best effort: x86 keeps instruction fetch coherent with
 * stores, and on aarch64 the patcher cleaned the caches to the point of
 * unification (__builtin___clear_cache) before; what remains is a core
 * that already fetched the old instruction, for a call that began before
 * the patch.
 */
static void sync_cores(void)
{
	if (!syscall(SYS_membarrier, 1 << 4, 0, 0)) /* REGISTER_PRIVATE_EXP. */
		syscall(SYS_membarrier, 1 << 3, 0, 0); /* PRIVATE_EXPEDITED */
}

/*
 * Under umn_proc_start()'s lock.  A failure leaves the functions patched
 * so far patched (their hooks pass through while the source is off), and
 * a later call goes on from there.
 */
static struct patch_plan plans[16];
static bool planned, applied[16];

static int plan_all(void)
{
	unsigned char *lo = NULL, *hi = NULL, *page, *slot;
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	unsigned int i;
	int ret = 0;

	if (!libc)
		return -ENOSYS; /* static binary, or not glibc */
	umn__proc_curbrk = dlsym(libc, "__curbrk");
	for (i = 0; i < umn__proc_nhooks && !ret; i++) {
		const struct proc_hook *h = &umn__proc_hooks[i];

		plans[i].site = NULL;
		if (h->usable && !h->usable())
			continue; /* optional, and it cannot work here */
		ret = umn__proc_patch_plan(libc, h, &plans[i]);
		if (ret && h->usable) {
			plans[i].site = NULL;
			ret = 0;
			continue;
		}
		if (!lo || plans[i].site < lo)
			lo = plans[i].site;
		if (!hi || plans[i].site > hi)
			hi = plans[i].site;
	}
	dlclose(libc);
	if (!ret && !umn__proc_curbrk)
		ret = -ENOSYS;
	if (ret)
		return ret;
	page = map_near(lo, hi);
	if (!page)
		return -ENOMEM;
	for (i = 0, slot = page; i < umn__proc_nhooks;
	     i++, slot += UMN_PROC_PATCH_SLOT) {
		plans[i].slot = slot;
		umn__proc_patch_fill(slot, &plans[i], &umn__proc_hooks[i]);
	}
	__builtin___clear_cache((char *)page, (char *)slot);
	ret = umn__proc_patch_protect(page, page + 1, PROT_READ | PROT_EXEC);
	if (ret) {
		syscall(SYS_munmap, page, sysconf(_SC_PAGESIZE));
		return ret;
	}
	pin_ourselves();
	planned = true;
	return 0;
}

int umn__proc_patch_libc(void)
{
	unsigned int i;
	int ret;

	umn__proc_assert_start_held();
	ret = planned ? 0 : plan_all();

	for (i = 0; i < umn__proc_nhooks && !ret; i++) {
		if (applied[i] || !plans[i].site)
			continue;
		ret = umn__proc_patch_apply(&plans[i]);
		applied[i] = !ret;
		if (umn__proc_hooks[i].usable)
			ret = 0; /* optional: left out */
	}
	sync_cores();
	return ret;
}

bool umn__proc_patched(const void *hook)
{
	for (unsigned int i = 0; i < umn__proc_nhooks; i++)
		if (umn__proc_hooks[i].hook == hook)
			return applied[i];
	return false;
}

#else /* no patcher for this architecture */

int umn__proc_patch_libc(void)
{
	return -ENOSYS;
}

bool umn__proc_patched(const void *hook)
{
	(void)hook;
	return false;
}

#endif
