/* DRM and TTM around a GPU buffer object with a user pointer. */
struct dma_resv;
struct drm_gem_object {
	struct dma_resv *resv;
};
struct ttm_tt;
struct ttm_device;
struct ttm_placement {
	int p;
};
struct ttm_buffer_object {
	struct drm_gem_object base;
	struct ttm_tt *ttm;
	struct ttm_device *bdev;
};
struct ttm_operation_ctx {
	bool interruptible, no_wait_gpu;
};
#define DMA_RESV_USAGE_BOOKKEEP 3
#define MAX_SCHEDULE_TIMEOUT	LONG_MAX
long dma_resv_wait_timeout(struct dma_resv *obj, int usage, bool intr,
			   unsigned long timeout);
int ttm_bo_validate(struct ttm_buffer_object *bo,
		    struct ttm_placement *placement,
		    struct ttm_operation_ctx *ctx);
#define DRM_ERROR(...) KC_USE(__VA_ARGS__)
