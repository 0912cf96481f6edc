// SPDX-License-Identifier: MIT
/*
 * libumn-proc-patch-cases.so - functions named as the libc calls umn
 * hooks, with code that the patcher of this architecture must accept or
 * refuse (check_patch.c).  Only code: nothing calls them.
 */
#if defined(__aarch64__)
#define FN(name, body)                                   \
	".globl " #name "\n.type " #name ", %function\n" \
	".p2align 4\n" #name ":\n" body ".size " #name ", . - " #name "\n"
__asm__(".text\n"
	/* one "mov x8, #215; svc #0": munmap's number: accepted */
	FN(munmap, "mov x8, #215\n svc #0\n ret\n")
	/* the same, but madvise is 233: refused */
	FN(madvise, "mov x8, #215\n svc #0\n ret\n")
	/* two system calls: refused */
	FN(mmap, "mov x8, #222\n svc #0\n mov x8, #222\n svc #0\n ret\n")
	/* none: refused */
	FN(mremap, "nop\n ret\n")
	/* an svc with no "mov x8" before it: refused */
	FN(brk, "svc #0\n ret\n"));
#elif defined(__x86_64__)
#define FN(name, body)                                   \
	".globl " #name "\n.type " #name ", @function\n" \
	".p2align 4\n" #name ":\n" body ".size " #name ", . - " #name "\n"
__asm__(".text\n"
	/* "mov $11, %eax" (5 bytes): accepted, patched in place */
	FN(munmap, "mov $11, %eax\n syscall\n ret\n")
	/* "xor %eax, %eax": not an instruction it knows: refused */
	FN(madvise, "xor %eax, %eax\n syscall\n ret\n")
	/* "ret": refused */
	FN(mremap, "ret\n"));
#endif
