/* amdgpu: its device, buffer object and KFD eviction. */
#include "drm-ttm.h"
struct amdgpu_device {
	struct mutex notifier_lock;
};
struct kgd_mem;
struct amdgpu_bo {
	struct ttm_buffer_object tbo;
	struct mmu_interval_notifier notifier;
	struct kgd_mem *kfd_bo;
};
struct amdgpu_device *amdgpu_ttm_adev(struct ttm_device *bdev);
int amdgpu_amdkfd_evict_userptr(struct mmu_interval_notifier *mni,
				unsigned long cur_seq, struct kgd_mem *mem);
unsigned long amdgpu_bo_size(struct amdgpu_bo *bo);
