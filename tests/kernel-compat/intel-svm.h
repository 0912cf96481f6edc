/* intel svm: the domain, the PASID setup and the cache tags. */
#include "iommu.h"
struct intel_iommu {
	int x;
};
struct device_domain_info {
	struct intel_iommu *iommu;
};
struct dev_pasid_info {
	struct list_head link_domain;
	struct device *dev;
	ioasid_t pasid;
};
struct dmar_domain {
	struct iommu_domain domain;
	struct mmu_notifier notifier;
	spinlock_t lock, cache_lock;
	struct list_head dev_pasids, cache_tags;
	bool use_first_level;
	void *qi_batch;
};
struct dmar_domain *to_dmar_domain(struct iommu_domain *d);
void cache_tag_flush_all(struct dmar_domain *d);
void cache_tag_flush_range(struct dmar_domain *d, unsigned long start,
			   unsigned long end, int ih);
int cache_tag_assign_domain(struct dmar_domain *d, struct device *dev,
			    ioasid_t pasid);
void cache_tag_unassign_domain(struct dmar_domain *d, struct device *dev,
			       ioasid_t pasid);
void intel_pasid_tear_down_entry(struct intel_iommu *iommu, struct device *dev,
				 u32 pasid, bool fault);
int intel_pasid_setup_first_level(struct intel_iommu *iommu, struct device *dev,
				  void *pgd, u32 pasid, u16 did, int flags);
#define cpu_feature_enabled(f) 0
#define PASID_FLAG_FL5LP       1
#define FLPT_DEFAULT_DID       1
static void intel_svm_domain_free(struct iommu_domain *domain);
static const struct iommu_domain_ops intel_svm_domain_ops;
