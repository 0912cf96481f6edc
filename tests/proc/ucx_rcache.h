/* SPDX-License-Identifier: MIT */
/*
 * tests/proc/ucx_rcache.h - UCX's rcache (ucs_rcache of libucs, loaded with
 * dlopen()) as a second cache under the stress's pagemap oracle, and the
 * stress options that struct opts does not hold.
 *
 * The rcache hears the process through UCM's memory hooks, which libucs
 * installs when the rcache asks for UCM_EVENT_VM_UNMAPPED.  Its mem_reg
 * pins with ref_ops (regcache_pin.c): page references held by vmsplice()
 * and the PFNs read from pagemap; mem_dereg unpins.  Each region carries
 * a struct umn_regcache_handle over those pages, so that stale_pages()
 * judges it as it judges umn's handles.
 */
#ifndef UMN_TESTS_PROC_UCX_RCACHE_H
#define UMN_TESTS_PROC_UCX_RCACHE_H

#include <stdbool.h>

#include "regcache_test.h"

/* The stress's options: --cache ucx, and --seed (0: from the clock). */
extern bool stress_ucx;
extern unsigned int stress_seed;

/*
 * Load libucs and create an rcache of at most @max_regions regions (the
 * least recently used idle ones are evicted beyond).  Return 0, or a
 * negative errno with *@why set to the reason it cannot run here.
 */
int ucx_rcache_open(unsigned long max_regions, const char **why);
/* Pin with @ops instead of ref_ops (before ucx_rcache_open()). */
void ucx_rcache_pin_with(const struct umn_regcache_ops *ops);
/* UCM's hook mode (UCX_MEM_MMAP_HOOK_MODE): "bistro", "reloc" or "none". */
const char *ucx_rcache_hook_mode(void);
/*
 * ucs_rcache_get() of [addr, addr + len), writable.  On success, *@h is
 * the region's handle (its pages as pinned) and *@hit says whether it was
 * served without a registration; release it with ucx_rcache_put().
 */
int ucx_rcache_get(unsigned long addr, unsigned long len,
		   const struct umn_regcache_handle **h, bool *hit);
void ucx_rcache_put(const struct umn_regcache_handle *h);
/* Registrations (mem_reg) and deregistrations (mem_dereg) so far. */
unsigned long ucx_rcache_regs(void);
unsigned long ucx_rcache_deregs(void);
void ucx_rcache_close(void);

#endif /* UMN_TESTS_PROC_UCX_RCACHE_H */
