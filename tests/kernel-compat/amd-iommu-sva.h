/* amd iommu: the protection domain and its per-device PASID data. */
#include "iommu.h"
struct iommu_dev_data {
	int x;
};
struct pdom_dev_data {
	struct list_head list;
	struct iommu_dev_data *dev_data;
	ioasid_t pasid;
};
struct protection_domain {
	struct iommu_domain domain;
	struct mmu_notifier mn;
	spinlock_t lock;
	struct list_head dev_data_list;
};
#define for_each_pdom_dev_data(p, d) \
	list_for_each_entry(p, &(d)->dev_data_list, list)
#define for_each_pdom_dev_data_safe(p, n, d) \
	list_for_each_entry_safe(p, n, &(d)->dev_data_list, list)
void amd_iommu_dev_flush_pasid_pages(struct iommu_dev_data *d, ioasid_t p,
				     u64 address, size_t size);
void remove_dev_pasid(struct pdom_dev_data *d);
struct protection_domain *to_pdomain(struct iommu_domain *d);
bool is_pasid_valid(struct iommu_dev_data *d, ioasid_t pasid);
bool is_pasid_enabled(struct iommu_dev_data *d);
int amd_iommu_set_gcr3(struct iommu_dev_data *d, ioasid_t pasid,
		       unsigned long gcr3);
unsigned long iommu_virt_to_phys(void *p);
void amd_iommu_domain_free(struct iommu_domain *d);
struct protection_domain *protection_domain_alloc(int type, int nid);
int dev_to_node(struct device *dev);
#define IOMMU_DOMAIN_SVA 4
static void iommu_sva_domain_free(struct iommu_domain *domain);
static const struct iommu_domain_ops amd_sva_domain_ops;
void protection_domain_free(struct protection_domain *d);
