/* arm-smmu-v3: the SMMU, its domains and context descriptors, the ASID
 * allocator. */
#include "iommu.h"
struct arm_smmu_device {
	u32 features;
	unsigned int asid_bits;
};
struct arm_smmu_master {
	struct arm_smmu_device *smmu;
};
struct arm_smmu_master_domain {
	struct list_head devices_elm;
	struct arm_smmu_master *master;
	ioasid_t ssid;
};
struct arm_smmu_cd {
	u64 data[8];
};
struct arm_smmu_ctx_desc {
	u16 asid;
};
struct arm_smmu_domain {
	struct arm_smmu_device *smmu;
	struct iommu_domain domain;
	struct arm_smmu_ctx_desc cd;
	struct list_head devices;
	spinlock_t devices_lock;
	struct mmu_notifier mmu_notifier;
};
struct xarray {
	int x;
};
struct xa_limit {
	u32 min, max;
};
#define XA_LIMIT(a, b) ((struct xa_limit){ (a), (b) })
extern struct xarray arm_smmu_asid_xa;
void *xa_erase(struct xarray *xa, unsigned long index);
int xa_alloc(struct xarray *xa, u32 *id, void *entry, struct xa_limit l,
	     gfp_t gfp);
#define ARM_SMMU_FEAT_RANGE_INV (1 << 15)
#define CMDQ_MAX_TLBI_OPS	(1 << (PAGE_SHIFT - 3))
#define IOMMU_DOMAIN_SVA	4
void arm_smmu_tlb_inv_asid(struct arm_smmu_device *smmu, u16 asid);
void arm_smmu_tlb_inv_range_asid(unsigned long iova, size_t size, int asid,
				 size_t granule, bool leaf,
				 struct arm_smmu_domain *smmu_domain);
int arm_smmu_atc_inv_domain(struct arm_smmu_domain *d, unsigned long iova,
			    size_t size);
struct arm_smmu_cd *arm_smmu_get_cd_ptr(struct arm_smmu_master *m, u32 ssid);
void arm_smmu_make_sva_cd(struct arm_smmu_cd *target,
			  struct arm_smmu_master *master, struct mm_struct *mm,
			  u16 asid);
void arm_smmu_write_cd_entry(struct arm_smmu_master *master, int ssid,
			     struct arm_smmu_cd *cdptr,
			     const struct arm_smmu_cd *target);
struct arm_smmu_domain *to_smmu_domain(struct iommu_domain *d);
int arm_smmu_set_pasid(struct arm_smmu_master *master,
		       struct arm_smmu_domain *smmu_domain, ioasid_t pasid,
		       struct arm_smmu_cd *cd);
struct arm_smmu_domain *arm_smmu_domain_alloc(void);
static const struct iommu_domain_ops arm_smmu_sva_domain_ops;
