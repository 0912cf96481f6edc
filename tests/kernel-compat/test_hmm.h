/* test_hmm: the dmirror device, its xarray page table, its ioctl command,
 * struct page and the device-memory helpers it asks about. */
#include <string.h>
struct cdev {
	int c;
};
struct inode {
	struct cdev *i_cdev;
};
struct page;
struct xarray {
	void *xa;
};
struct dev_pagemap {
	int p;
};
#define GFP_ATOMIC 4U
void xa_init(struct xarray *xa);
void xa_destroy(struct xarray *xa);
void *xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp);
void *xa_load(struct xarray *xa, unsigned long index);
void *xa_erase(struct xarray *xa, unsigned long index);
void *xa_find(struct xarray *xa, unsigned long *index, unsigned long max,
	      unsigned int filter);
void *xa_find_after(struct xarray *xa, unsigned long *index, unsigned long max,
		    unsigned int filter);
#define XA_PRESENT 8U
#define xa_for_each_range(xa, index, entry, start, last)                     \
	for (index = (start), entry = xa_find(xa, &index, last, XA_PRESENT); \
	     entry; entry = xa_find_after(xa, &index, last, XA_PRESENT))
static inline bool xa_is_err(const void *e)
{
	return IS_ERR(e);
}
static inline int xa_err(void *e)
{
	return (int)PTR_ERR(e);
}
static inline void *xa_tag_pointer(void *p, unsigned long tag)
{
	return (void *)((unsigned long)p | tag);
}
static inline void *xa_untag_pointer(void *e)
{
	return (void *)((unsigned long)e & ~3UL);
}
void memcpy_from_page(void *to, struct page *page, size_t off, size_t len);
bool is_device_private_page(const struct page *page);
bool is_device_coherent_page(const struct page *page);
bool is_zero_pfn(unsigned long pfn);
struct dev_pagemap *page_pgmap(struct page *page);
#define PMD_SHIFT	   21
#define PUD_SHIFT	   30
#define u64_to_user_ptr(x) ((void *)(uintptr_t)(x))
unsigned long copy_to_user(void *to, const void *from, unsigned long n);

/* The device, as uapi/test_hmm.h and test_hmm.c declare it. */
struct hmm_dmirror_cmd {
	u64 addr, ptr, npages, cpages, faults;
};
enum {
	HMM_DMIRROR_PROT_ERROR = 0xFF,
	HMM_DMIRROR_PROT_NONE = 0x00,
	HMM_DMIRROR_PROT_READ = 0x01,
	HMM_DMIRROR_PROT_WRITE = 0x02,
	HMM_DMIRROR_PROT_PMD = 0x04,
	HMM_DMIRROR_PROT_PUD = 0x08,
	HMM_DMIRROR_PROT_ZERO = 0x10,
	HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL = 0x20,
	HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE = 0x30,
	HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL = 0x40,
	HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE = 0x50,
};
struct dmirror_bounce {
	void *ptr;
	unsigned long size, addr, cpages;
};
#define DPT_XA_TAG_WRITE 3UL
struct dmirror_device;
struct dmirror_interval {
	struct mmu_interval_notifier notifier;
	struct dmirror *dmirror;
};
struct dmirror {
	struct dmirror_device *mdevice;
	struct xarray pt;
	struct mmu_interval_notifier notifier;
	struct mutex mutex;
};
struct dmirror_chunk {
	struct dev_pagemap pagemap;
	struct dmirror_device *mdevice;
};
struct dmirror_device {
	struct cdev cdevice;
	unsigned int devmem_count;
	struct dmirror_chunk **devmem_chunks;
};
static const struct mmu_interval_notifier_ops dmirror_min_ops;
void dmirror_device_evict_chunk(struct dmirror_chunk *chunk);
struct dmirror_device *dmirror_page_to_device(struct page *page);

/* test_hmm-run.c's deliberate breaks (negative controls): the driver
 * loses its mmu_interval_set_seq() or its mmu_interval_read_retry(). */
#if defined(KC_BREAK) && KC_BREAK == 1
#define mmu_interval_set_seq(sub, seq) ((void)(sub), (void)(seq))
#elif defined(KC_BREAK) && KC_BREAK == 2
#define mmu_interval_read_retry(sub, seq) ((void)(sub), (void)(seq), false)
#endif
