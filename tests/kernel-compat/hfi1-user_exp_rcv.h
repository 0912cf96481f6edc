/* hfi1 user_exp_rcv: the file's and context's data, the TID nodes and
 * buffers, the receive array and DMA calls. */
struct pci_dev {
	struct device *dev_p;
	int dev;
};
struct hfi1_devdata {
	struct pci_dev *pcidev;
	unsigned long *events;
};
struct hfi1_ctxtdata {
	struct hfi1_devdata *dd;
	u16 ctxt;
	u16 expected_count, expected_base;
};
struct tid_group;
struct tid_rb_node;
struct hfi1_filedata {
	struct hfi1_ctxtdata *uctxt;
	u16 subctxt;
	spinlock_t invalid_lock;
	u32 *invalid_tids;
	u32 invalid_tid_idx;
	bool use_mn;
	struct tid_rb_node **entry_to_rb;
};
struct tid_rb_node {
	struct mmu_interval_notifier notifier;
	struct hfi1_filedata *fdata;
	struct mutex invalidate_mutex;
	unsigned long phys;
	struct tid_group *grp;
	u32 rcventry;
	dma_addr_t dma_addr;
	bool freed;
	unsigned int npages;
	struct page *pages[];
};
struct tid_user_buf {
	struct mmu_interval_notifier notifier;
	struct mutex cover_mutex;
	unsigned long vaddr;
	unsigned long length;
	unsigned int npages;
	struct page **pages;
};
#define trace_hfi1_exp_tid_inval(...)  KC_USE(__VA_ARGS__)
#define trace_hfi1_exp_tid_reg(...)    KC_USE(__VA_ARGS__)
#define hfi1_cdbg(which, ...)	       KC_USE(__VA_ARGS__)
#define dd_dev_err(...)		       KC_USE(__VA_ARGS__)
#define _HFI1_EVENT_TID_MMU_NOTIFY_BIT 1
#define PT_EXPECTED		       0
#define DMA_FROM_DEVICE		       2
#define struct_size(p, m, n)	       (sizeof(*(p)) + (n) * sizeof(*(p)->m))
#define flex_array_size(p, m, n)       ((n) * sizeof(*(p)->m))
#define __va(x)			       ((void *)(unsigned long)(x))
#define ilog2(n)		       (63 - __builtin_clzl(n))
void __clear_tid_node(struct hfi1_filedata *fd, struct tid_rb_node *node);
u32 create_tid(u32 rcventry, u32 npages);
unsigned long uctxt_offset(struct hfi1_ctxtdata *uctxt);
void set_bit(long nr, volatile unsigned long *addr);
phys_addr_t page_to_phys(struct page *page);
dma_addr_t dma_map_single(int *dev, void *ptr, size_t size, int dir);
void dma_unmap_single(int *dev, dma_addr_t a, size_t size, int dir);
int dma_mapping_error(int *dev, dma_addr_t a);
void hfi1_put_tid(struct hfi1_devdata *dd, u32 index, u32 type,
		  unsigned long pa, u16 order);
static bool tid_rb_invalidate(struct mmu_interval_notifier *mni,
			      const struct mmu_notifier_range *range,
			      unsigned long cur_seq);
static bool tid_cover_invalidate(struct mmu_interval_notifier *mni,
				 const struct mmu_notifier_range *range,
				 unsigned long cur_seq);
