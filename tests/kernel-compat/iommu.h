/* The IOMMU core's types that SVA drivers share. */
typedef unsigned int ioasid_t;
struct iommu_domain_ops;
struct iommu_domain {
	unsigned int type;
	const struct iommu_domain_ops *ops;
	unsigned long pgsize_bitmap;
	struct mm_struct *mm;
};
struct iommu_domain_ops {
	int (*set_dev_pasid)(struct iommu_domain *d, struct device *dev,
			     ioasid_t pasid, struct iommu_domain *old);
	void (*free)(struct iommu_domain *d);
};
void *dev_iommu_priv_get(struct device *dev);
