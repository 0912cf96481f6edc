/* nouveau: the client, its VMM and SVM state, the nvif object calls. */
struct drm_device;
struct drm_file;
struct work_struct {
	int w;
};
void flush_work(struct work_struct *w);
struct nvif_object {
	s32 oclass;
};
struct nvif_vmm {
	struct nvif_object object;
};
struct nvif_mmu {
	int m;
};
struct nouveau_cli;
struct nouveau_svmm;
struct nouveau_vmm {
	struct nouveau_cli *cli;
	struct nvif_vmm vmm;
	struct nouveau_svmm *svmm;
};
struct nouveau_svm_fault_buffer {
	struct work_struct work;
};
struct nouveau_svm {
	struct nouveau_svm_fault_buffer buffer[1];
};
struct nouveau_drm {
	struct drm_device *dev;
	struct nouveau_svm *svm;
};
struct nouveau_cli {
	struct nouveau_drm *drm;
	struct mutex mutex;
	struct nvif_mmu mmu;
	struct nouveau_vmm vmm;
	struct nouveau_vmm svm;
};
struct nouveau_svmm {
	struct mmu_notifier notifier;
	struct nouveau_vmm *vmm;
	struct {
		unsigned long start;
		unsigned long limit;
	} unmanaged;
	struct mutex mutex;
};
struct svm_notifier {
	struct mmu_interval_notifier notifier;
	struct nouveau_svmm *svmm;
};
struct nouveau_pfnmap_args {
	struct {
		u64 addr, size;
	} p;
};
struct drm_nouveau_svm_init {
	u64 unmanaged_addr, unmanaged_size;
};
struct nvif_vmm_pfnclr_v0 {
	u64 addr, size;
};
struct gp100_vmm_v0 {
	u8 fault_replay;
};
#define NVIF_VMM_V0_PFNCLR 0x0b
#define MANAGED		   1
#define SVMM_DBG(s, ...)   KC_USE(s, __VA_ARGS__)
int nvif_object_mthd(struct nvif_object *o, u32 mthd, void *data, u32 size);
int nvif_object_ioctl(struct nvif_object *o, void *data, u32 size, void **hack);
struct nouveau_cli *nouveau_cli(struct drm_file *f);
int nvif_vmm_ctor(struct nvif_mmu *mmu, const char *name, s32 oclass, int type,
		  u64 addr, u64 size, void *argv, u32 argc,
		  struct nvif_vmm *vmm);
void nouveau_hmm_convert_pfn(struct nouveau_drm *drm, struct hmm_range *r,
			     struct nouveau_pfnmap_args *args);
void nouveau_svmm_invalidate(struct nouveau_svmm *svmm, u64 start, u64 limit);
