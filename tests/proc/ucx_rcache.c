// SPDX-License-Identifier: MIT
/*
 * tests/proc/ucx_rcache.c - UCX's rcache under the stress's oracle (see
 * ucx_rcache.h).  libucs is loaded with dlopen() only when the stress is
 * asked for it, so that every other test runs without UCM's hooks in its
 * process.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "ucx_rcache.h"

bool stress_ucx;
unsigned int stress_seed;
static const struct umn_regcache_ops *pin_ops = &ref_ops;

void ucx_rcache_pin_with(const struct umn_regcache_ops *ops)
{
	pin_ops = ops;
}

#if defined(UMN_TEST_UCS_LIB) && __has_include(<ucs/memory/rcache.h>)
#include <ucm/api/ucm.h>
#include <ucs/memory/rcache.h>
#include <umn-test/ucs.h>

/* A region, and the handle the oracle reads. */
struct region {
	ucs_rcache_region_t super;
	struct umn_regcache_handle h;
};

static struct umn_test_ucs ucx;
static ucs_rcache_t *the_rcache;
static unsigned long regs, deregs;

/* Set by mem_reg in the thread whose get missed. */
static __thread bool registered;

static ucs_status_t mem_reg(void *context, ucs_rcache_t *rcache, void *arg,
			    ucs_rcache_region_t *ur, uint16_t flags)
{
	struct region *r = (struct region *)ur;
	unsigned long npages = (ur->super.end - ur->super.start) / PAGE;
	struct umn_regcache_page *pages;

	(void)context;
	(void)rcache;
	(void)arg;
	(void)flags;
	registered = true;
	pages = calloc(npages, sizeof(*pages));
	if (!pages)
		return UCS_ERR_NO_MEMORY;
	if (pin_ops->pin(NULL, ur->super.start, npages, true, pages)) {
		free(pages);
		return UCS_ERR_IO_ERROR;
	}
	r->h = (struct umn_regcache_handle){ .addr = ur->super.start,
					     .len = npages * PAGE,
					     .write = true,
					     .pages = pages };
	__atomic_add_fetch(&regs, 1, __ATOMIC_RELAXED);
	return UCS_OK;
}

static void mem_dereg(void *context, ucs_rcache_t *rcache,
		      ucs_rcache_region_t *ur)
{
	struct region *r = (struct region *)ur;

	(void)context;
	(void)rcache;
	pin_ops->unpin(NULL, r->h.len / PAGE, r->h.pages);
	free((void *)r->h.pages);
	r->h.pages = NULL;
	__atomic_add_fetch(&deregs, 1, __ATOMIC_RELAXED);
}

static void dump_region(void *context, ucs_rcache_t *rcache,
			ucs_rcache_region_t *region, char *buf, size_t max)
{
	(void)context;
	(void)rcache;
	(void)region;
	if (max)
		buf[0] = '\0';
}

static const ucs_rcache_ops_t ops = {
	.mem_reg = mem_reg,
	.mem_dereg = mem_dereg,
	.dump_region = dump_region,
};

int ucx_rcache_open(unsigned long max_regions, const char **why)
{
	ucs_rcache_params_t params = {
		.region_struct_size = sizeof(struct region),
		.alignment = PAGE,
		.max_alignment = PAGE,
		.ucm_events = UCM_EVENT_VM_UNMAPPED,
		.ucm_event_priority = 1000,
		.ops = &ops,
		.flags = 0,
		.max_regions = max_regions,
		.max_size = SIZE_MAX,
		.max_unreleased = SIZE_MAX,
	};
	*why = umn_test_ucs_load(&ucx, UMN_TEST_UCS_LIB);
	if (*why)
		return -ENOENT;
	/* UCM installs its hooks here, and tests that they fire. */
	if (ucx.create(&params, "umn-proc-regcache", NULL, &the_rcache) !=
	    UCS_OK) {
		*why = "ucs_rcache_create failed (UCM's memory hooks could "
		       "not be installed)";
		return -EOPNOTSUPP;
	}
	return 0;
}

const char *ucx_rcache_hook_mode(void)
{
	static const char *const names[] = { "none", "reloc", "bistro" };
	int mode = (int)ucx.ucm_opts->mmap_hook_mode;

	return mode >= 0 && mode < 3 ? names[mode] : "?";
}

int ucx_rcache_get(unsigned long addr, unsigned long len,
		   const struct umn_regcache_handle **h, bool *hit)
{
	ucs_rcache_region_t *ur;

	registered = false;
	if (ucx.get(the_rcache, (void *)addr, len, PROT_READ | PROT_WRITE, NULL,
		    &ur) != UCS_OK)
		return -EIO;
	*h = &((struct region *)ur)->h;
	*hit = !registered;
	return 0;
}

void ucx_rcache_put(const struct umn_regcache_handle *h)
{
	struct region *r =
		(struct region *)((char *)h - offsetof(struct region, h));

	ucx.put(the_rcache, &r->super);
}

unsigned long ucx_rcache_regs(void)
{
	return __atomic_load_n(&regs, __ATOMIC_RELAXED);
}

unsigned long ucx_rcache_deregs(void)
{
	return __atomic_load_n(&deregs, __ATOMIC_RELAXED);
}

void ucx_rcache_close(void)
{
	ucx.destroy(the_rcache);
}

#else /* no UCX */

int ucx_rcache_open(unsigned long max_regions, const char **why)
{
	(void)max_regions;
	*why = "built without UCX's headers and libucs (libucx-dev)";
	return -ENOENT;
}

const char *ucx_rcache_hook_mode(void)
{
	return "none";
}

int ucx_rcache_get(unsigned long addr, unsigned long len,
		   const struct umn_regcache_handle **h, bool *hit)
{
	(void)addr;
	(void)len;
	(void)h;
	(void)hit;
	return -ENOSYS;
}

void ucx_rcache_put(const struct umn_regcache_handle *h)
{
	(void)h;
}

unsigned long ucx_rcache_regs(void)
{
	return 0;
}

unsigned long ucx_rcache_deregs(void)
{
	return 0;
}

void ucx_rcache_close(void)
{
}

#endif
