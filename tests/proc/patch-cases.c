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
	FN(brk, "svc #0\n ret\n")
	/* For the trampoline's test: a system call to patch, and a caller
	 * that fills every register it can with a known value, calls it,
	 * and stores what the registers hold after it into out[]: x0-x18,
	 * NZCV, then q0, q7, q16 and q31 (umn_cases_regs(uint64_t out[28])). */
	/* clang-format off */
	FN(umn_cases_syscall,
	   ".Lcases_syscall:\n mov x8, #215\n svc #0\n ret\n")
	FN(umn_cases_regs,
	   "stp x29, x30, [sp, #-32]!\n mov x29, sp\n str x19, [sp, #16]\n"
	   "mov x19, x0\n"
	   "mov x9, #0x51\n fmov d0, x9\n mov x9, #0x52\n mov v0.d[1], x9\n"
	   "mov x9, #0x71\n fmov d7, x9\n mov x9, #0x72\n mov v7.d[1], x9\n"
	   "mov x9, #0x161\n fmov d16, x9\n mov x9, #0x162\n"
	   "mov v16.d[1], x9\n"
	   "mov x9, #0x311\n fmov d31, x9\n mov x9, #0x312\n"
	   "mov v31.d[1], x9\n"
	   "movz x9, #0x9000, lsl #16\n msr nzcv, x9\n"
	   "mov x0, #0x100\n mov x1, #0x101\n mov x2, #0x102\n"
	   "mov x3, #0x103\n mov x4, #0x104\n mov x5, #0x105\n"
	   "mov x6, #0x106\n mov x7, #0x107\n mov x8, #0x108\n"
	   "mov x9, #0x109\n mov x10, #0x10a\n mov x11, #0x10b\n"
	   "mov x12, #0x10c\n mov x13, #0x10d\n mov x14, #0x10e\n"
	   "mov x15, #0x10f\n mov x16, #0x110\n mov x17, #0x111\n"
	   "mov x18, #0x112\n"
	   /* a direct call: a PLT stub may change x16 and x17 */
	   "bl .Lcases_syscall\n"
	   "stp x0, x1, [x19, #0]\n stp x2, x3, [x19, #16]\n"
	   "stp x4, x5, [x19, #32]\n stp x6, x7, [x19, #48]\n"
	   "stp x8, x9, [x19, #64]\n stp x10, x11, [x19, #80]\n"
	   "stp x12, x13, [x19, #96]\n stp x14, x15, [x19, #112]\n"
	   "stp x16, x17, [x19, #128]\n str x18, [x19, #144]\n"
	   "mrs x9, nzcv\n str x9, [x19, #152]\n"
	   "str q0, [x19, #160]\n str q7, [x19, #176]\n"
	   "str q16, [x19, #192]\n str q31, [x19, #208]\n"
	   "ldr x19, [sp, #16]\n ldp x29, x30, [sp], #32\n ret\n"));
/* clang-format on */
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
