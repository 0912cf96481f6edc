/* SPDX-License-Identifier: MIT */
/*
 * primaries/proc/patch.h - what patch.c, the driver, asks of each
 * architecture's patcher (patch-x86_64.c, patch-aarch64.c).  Not
 * installed.
 *
 * The driver finds libc, asks the patcher for a plan per hook (where the
 * branch goes, or a refusal), maps one trampoline page within the
 * branch's reach of every site, has the patcher fill one slot per hook,
 * then has it write each branch.  Nothing is written to libc until every
 * plan is made: an entry point not recognised leaves libc untouched.
 */
#ifndef UMN_PROC_PATCH_H
#define UMN_PROC_PATCH_H

#include <stdbool.h>

#include "proc.h"

#if defined(__x86_64__)
#define UMN_PROC_PATCH	     1
#define UMN_PROC_PATCH_SLOT  16		/* bytes per trampoline slot */
#define UMN_PROC_PATCH_REACH (1L << 31) /* jmp rel32 */
#define UMN_PROC_PATCH_STEP  (16L << 20)
#elif defined(__aarch64__)
#define UMN_PROC_PATCH	     1
#define UMN_PROC_PATCH_SLOT  64		/* see patch-aarch64.c */
#define UMN_PROC_PATCH_REACH (1L << 27) /* b imm26: +-128 MiB */
#define UMN_PROC_PATCH_STEP  (1L << 20)
#endif

struct patch_plan {
	unsigned char *entry; /* libc's function */
	unsigned char *site;  /* the instruction that becomes a branch */
	unsigned char *slot;  /* its trampoline slot */
	bool padded;	      /* x86-64: through the padding before entry */
};

/* Plan @h's patch in @libc (a dlopen handle): 0, or -ENOSYS after saying
 * why on the report channel. */
int umn__proc_patch_plan(void *libc, const struct proc_hook *h,
			 struct patch_plan *pl);
/* Write @pl's slot (the page is writable) to reach @h's hook. */
void umn__proc_patch_fill(unsigned char *slot, const struct patch_plan *pl,
			  const struct proc_hook *h);
/* Route @pl's site to its slot, safely while threads run: 0 or -errno. */
int umn__proc_patch_apply(const struct patch_plan *pl);

/* mprotect the pages of [from, to): 0 or -errno. */
int umn__proc_patch_protect(const unsigned char *from, const unsigned char *to,
			    int prot);

#endif /* UMN_PROC_PATCH_H */
