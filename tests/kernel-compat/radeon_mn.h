/* radeon: its buffer object and TTM glue. */
#include "drm-ttm.h"
struct radeon_bo {
	struct ttm_buffer_object tbo;
	struct ttm_placement placement;
	struct mmu_interval_notifier notifier;
};
#define RADEON_GEM_DOMAIN_CPU 1
bool radeon_ttm_tt_is_bound(struct ttm_device *bdev, struct ttm_tt *ttm);
int radeon_bo_reserve(struct radeon_bo *bo, bool no_intr);
void radeon_bo_unreserve(struct radeon_bo *bo);
void radeon_ttm_placement_from_domain(struct radeon_bo *rbo, u32 domain);
unsigned long radeon_bo_size(struct radeon_bo *bo);
