/* SPDX-License-Identifier: MIT */
/*
 * include/umn-test/ucs.h - UCX's rcache, the peer that umn's registration
 * cache is measured and judged against (bench/regcache-proc.c,
 * tests/proc/ucx_rcache.c): its entry points, resolved with dlopen() in
 * the one process that runs it, so that no other carries UCM's hooks.
 * Not installed.  Include it after <ucm/api/ucm.h> and
 * <ucs/memory/rcache.h>.
 */
#ifndef UMN_TEST_UCS_H
#define UMN_TEST_UCS_H

#include <dlfcn.h>

struct umn_test_ucs {
	ucs_status_t (*create)(const ucs_rcache_params_t *params,
			       const char *name, ucs_stats_node_t *stats,
			       ucs_rcache_t **rcache_p);
	void (*destroy)(ucs_rcache_t *rcache);
	ucs_status_t (*get)(ucs_rcache_t *rcache, void *address, size_t length,
			    int prot, void *arg,
			    ucs_rcache_region_t **region_p);
	void (*put)(ucs_rcache_t *rcache, ucs_rcache_region_t *region);
	void (*invalidate)(ucs_rcache_t *rcache, ucs_rcache_region_t *region,
			   ucs_rcache_invalidate_comp_func_t cb, void *arg);
	const ucm_global_config_t *ucm_opts;
};

/* Load @lib (libucs) and fill @u: NULL, or why it cannot be. */
static inline const char *umn_test_ucs_load(struct umn_test_ucs *u,
					    const char *lib)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);

	if (!h)
		return "libucs cannot be loaded";
	*(void **)&u->create = dlsym(h, "ucs_rcache_create");
	*(void **)&u->destroy = dlsym(h, "ucs_rcache_destroy");
	*(void **)&u->get = dlsym(h, "ucs_rcache_get");
	*(void **)&u->put = dlsym(h, "ucs_rcache_region_put");
	*(void **)&u->invalidate = dlsym(h, "ucs_rcache_region_invalidate");
	u->ucm_opts = (const ucm_global_config_t *)dlsym(h, "ucm_global_opts");
	if (!u->create || !u->destroy || !u->get || !u->put || !u->invalidate ||
	    !u->ucm_opts)
		return "libucs lacks ucs_rcache_create, _get, _region_put, "
		       "_region_invalidate, _destroy or ucm_global_opts";
	return NULL;
}

#endif
