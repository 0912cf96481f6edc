// SPDX-License-Identifier: MIT
/*
 * primaries/proc/patch-aarch64.c - the aarch64 patcher (patch.h).
 *
 * What may be rewritten while other threads run it.  Instructions are 4
 * bytes, aligned, and an aligned 4-byte store is single-copy atomic; but
 * the architecture promises that a thread running code as it is changed
 * executes either the old or the new instruction only when both are one
 * of B, BL, BRK, HVC, ISB, NOP, SMC and SVC (Arm ARM, "Concurrent
 * modification and execution of instructions").  glibc's entry points
 * begin with anything (mmap with tst, mremap with sub sp), so we patch
 * none of them.  Each of the functions we hook makes exactly one system
 * call, "mov x8, #nr; svc #0": that SVC becomes a B to a slot of our
 * trampoline page, which is SVC -> B, an allowed pair.  Every path of the
 * function to the kernel passes the SVC; what ran before it (argument
 * checks, sign extensions) ran as before.
 *
 * So the hook is not the libc function but the system call: it gets x0 to
 * x5 as the kernel would, and returns in x0 what the kernel would have
 * (-errno on failure); everything else is as the SVC leaves it, which is
 * every other register, the flags and the SIMD registers unchanged.  The
 * code after the SVC, glibc's own, then sets errno and __curbrk.
 *
 * A function is recognised only if, within its symbol's extent, it holds
 * exactly one "svc #0" and the instruction before it is "mov x8, #nr" with
 * the number of the call we hook.  Anything else is refused (-ENOSYS,
 * with the reason on the report channel): we never guess.
 *
 * The slot, within B's reach (+-128 MiB) of every site, is a literal-load
 * veneer to the hook, wherever libumn is:
 *
 *	 0  stp  x16, x17, [sp, #-16]!	free two registers
 *	 4  adr  x16, 32		x16 = this slot's words
 *	 8  ldr  x17, 56		the common routine
 *	12  br   x17
 *	16  ldp  x16, x17, [sp], #16	back here from it
 *	20  b    site + 4		(B: no register is spent)
 *	32  .quad hook, slot + 16, site + 4, common
 *
 * The common routine (asm below) saves what the AAPCS lets a C function
 * change and the kernel does not (x1-x18, x30, NZCV, q0-q7, q16-q31),
 * calls the hook with x0-x5 untouched, restores, and returns through the
 * slot.  Its frame record names site + 4, so that a backtrace from a
 * callback walks into the patched function and on to its caller.  No
 * data is kept below sp (a signal handler may use the stack any time).
 *
 * After the store, __builtin___clear_cache cleans the data cache and
 * invalidates the instruction cache to the point of unification for the
 * site; the driver's membarrier then makes every running thread take an
 * exception, whose return is a context synchronization event.
 */
#if defined(__aarch64__)

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "../../core/debug.h"
#include "../../core/fail.h"
#include "patch.h"

#define INSN_SVC0    0xd4000001U /* svc #0 */
#define INSN_MOVZ_X8 0xd2800008U /* movz x8, #imm16 (imm16 << 5) */
#define MOVZ_X8_MASK 0xffe0001fU
#define INSN_B	     0x14000000U /* b imm26 */
#define INSN_BR_X17  0xd61f0220U
#define INSN_STP_X16 0xa9bf47f0U /* stp x16, x17, [sp, #-16]! */
#define INSN_LDP_X16 0xa8c147f0U /* ldp x16, x17, [sp], #16 */
#define INSN_UDF     0x00000000U /* udf #0: never run */
#define SLOT_WORDS   32		 /* the four .quad words */
#define SLOT_STUB    16		 /* the way back */

_Static_assert(SLOT_WORDS + 32 <= UMN_PROC_PATCH_SLOT,
	       "an aarch64 trampoline slot does not fit");

void umn__proc_svc_common(void); /* asm, below */

/* The common routine: see the top.  Frame, from sp: x29 and site + 4 (a
 * frame record), x30 and NZCV, x1-x15 and x18, the slot's words, q0-q7,
 * q16-q31; 560 bytes. */
__asm__(".text\n"
	".p2align 4\n"
	".globl umn__proc_svc_common\n"
	".hidden umn__proc_svc_common\n"
	".type umn__proc_svc_common, %function\n"
	"umn__proc_svc_common:\n"
	"	hint	#34\n" /* bti c: a no-op where BTI is off */
	"	sub	sp, sp, #560\n"
	"	ldr	x17, [x16, #16]\n"
	"	stp	x29, x17, [sp, #0]\n"
	"	mov	x29, sp\n"
	"	mrs	x17, nzcv\n"
	"	stp	x30, x17, [sp, #16]\n"
	"	stp	x1, x2, [sp, #32]\n"
	"	stp	x3, x4, [sp, #48]\n"
	"	stp	x5, x6, [sp, #64]\n"
	"	stp	x7, x8, [sp, #80]\n"
	"	stp	x9, x10, [sp, #96]\n"
	"	stp	x11, x12, [sp, #112]\n"
	"	stp	x13, x14, [sp, #128]\n"
	"	stp	x15, x18, [sp, #144]\n"
	"	str	x16, [sp, #160]\n"
	"	stp	q0, q1, [sp, #176]\n"
	"	stp	q2, q3, [sp, #208]\n"
	"	stp	q4, q5, [sp, #240]\n"
	"	stp	q6, q7, [sp, #272]\n"
	"	stp	q16, q17, [sp, #304]\n"
	"	stp	q18, q19, [sp, #336]\n"
	"	stp	q20, q21, [sp, #368]\n"
	"	stp	q22, q23, [sp, #400]\n"
	"	stp	q24, q25, [sp, #432]\n"
	"	stp	q26, q27, [sp, #464]\n"
	"	stp	q28, q29, [sp, #496]\n"
	"	stp	q30, q31, [sp, #528]\n"
	"	ldr	x17, [x16]\n"
	"	blr	x17\n"
	"	ldp	q0, q1, [sp, #176]\n"
	"	ldp	q2, q3, [sp, #208]\n"
	"	ldp	q4, q5, [sp, #240]\n"
	"	ldp	q6, q7, [sp, #272]\n"
	"	ldp	q16, q17, [sp, #304]\n"
	"	ldp	q18, q19, [sp, #336]\n"
	"	ldp	q20, q21, [sp, #368]\n"
	"	ldp	q22, q23, [sp, #400]\n"
	"	ldp	q24, q25, [sp, #432]\n"
	"	ldp	q26, q27, [sp, #464]\n"
	"	ldp	q28, q29, [sp, #496]\n"
	"	ldp	q30, q31, [sp, #528]\n"
	"	ldp	x1, x2, [sp, #32]\n"
	"	ldp	x3, x4, [sp, #48]\n"
	"	ldp	x5, x6, [sp, #64]\n"
	"	ldp	x7, x8, [sp, #80]\n"
	"	ldp	x9, x10, [sp, #96]\n"
	"	ldp	x11, x12, [sp, #112]\n"
	"	ldp	x13, x14, [sp, #128]\n"
	"	ldp	x15, x18, [sp, #144]\n"
	"	ldp	x30, x17, [sp, #16]\n"
	"	msr	nzcv, x17\n"
	"	ldr	x16, [sp, #160]\n"
	"	ldr	x16, [x16, #8]\n"
	"	ldr	x29, [sp, #0]\n"
	"	add	sp, sp, #560\n"
	"	br	x16\n"
	".size umn__proc_svc_common, . - umn__proc_svc_common\n");

static uint32_t insn_at(const unsigned char *p)
{
	uint32_t insn;

	memcpy(&insn, p, 4);
	return insn;
}

/* "b to", written at @from, if @to is within reach; else 0. */
static uint32_t branch(const unsigned char *from, const unsigned char *to)
{
	long off = to - from;

	if (off < -UMN_PROC_PATCH_REACH || off >= UMN_PROC_PATCH_REACH ||
	    (off & 3))
		return 0;
	return INSN_B | ((uint32_t)(off >> 2) & 0x3ffffffU);
}

int umn__proc_patch_plan(void *libc, const struct proc_hook *h,
			 struct patch_plan *pl)
{
	unsigned char *entry = dlsym(libc, h->name), *site = NULL, *p;
	const ElfW(Sym) *sym = NULL;
	unsigned int svcs = 0;
	Dl_info info;

	if (!entry)
		return -ENOSYS;
	if (!dladdr1(entry, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym ||
	    sym->st_size < 8 || ((uintptr_t)entry & 3)) {
		umn__report("proc: libc's %s has no size in its symbol table: "
			    "the hooks stay off",
			    h->name);
		return -ENOSYS;
	}
	for (p = entry; p + 4 <= entry + sym->st_size; p += 4) {
		if (insn_at(p) != INSN_SVC0)
			continue;
		svcs++;
		site = p;
	}
	if (svcs != 1 || site == entry ||
	    (insn_at(site - 4) & MOVZ_X8_MASK) != INSN_MOVZ_X8 ||
	    ((insn_at(site - 4) >> 5) & 0xffff) != (uint32_t)h->nr) {
		umn__report("proc: libc's %s is not one \"mov x8, #%ld; svc "
			    "#0\" (%u svc in its %lu bytes): umn cannot patch "
			    "it safely, the hooks stay off",
			    h->name, h->nr, svcs, (unsigned long)sym->st_size);
		return -ENOSYS;
	}
	pl->entry = entry;
	pl->site = site;
	pl->padded = false;
	return 0;
}

void umn__proc_patch_fill(unsigned char *slot, const struct patch_plan *pl,
			  const struct proc_hook *h)
{
	const uint32_t code[8] = {
		INSN_STP_X16,
		0x10000000U | (((SLOT_WORDS - 4) & 3U) << 29) | /* adr x16 */
			((((SLOT_WORDS - 4) >> 2) & 0x7ffffU) << 5) | 16,
		0x58000000U | /* ldr x17, literal */
			((((SLOT_WORDS + 24 - 8) >> 2) & 0x7ffffU) << 5) | 17,
		INSN_BR_X17,
		INSN_LDP_X16,
		branch(slot + 20, pl->site + 4),
		INSN_UDF,
		INSN_UDF,
	};
	const uint64_t words[4] = {
		(uintptr_t)h->raw,
		(uintptr_t)(slot + SLOT_STUB),
		(uintptr_t)(pl->site + 4),
		(uintptr_t)umn__proc_svc_common,
	};

	memcpy(slot, code, sizeof(code));
	memcpy(slot + SLOT_WORDS, words, sizeof(words));
}

/*
 * The one write to libc: a 4-byte store, aligned, in asm (a sanitizer must
 * not shadow libc's text), then the caches to the point of unification.
 */
static void store_insn(unsigned char *site, uint32_t insn)
{
	__asm__ volatile("str %w1, [%0]" : : "r"(site), "r"(insn) : "memory");
	__builtin___clear_cache((char *)site, (char *)site + 4);
}

int umn__proc_patch_apply(const struct patch_plan *pl)
{
	uint32_t b = branch(pl->site, pl->slot);
	int ret;

	if (!b) /* the driver mapped the page within reach */
		return -ENOMEM;
	ret = umn__fail_here() ? -ENOMEM
			       : umn__proc_patch_protect(
					 pl->site, pl->site + 4,
					 PROT_READ | PROT_WRITE | PROT_EXEC);
	if (ret)
		return ret;
	store_insn(pl->site, b);
	/* Patched either way; at worst the page stays writable. */
	umn__proc_patch_protect(pl->site, pl->site + 4, PROT_READ | PROT_EXEC);
	return 0;
}

#endif /* __aarch64__ */
