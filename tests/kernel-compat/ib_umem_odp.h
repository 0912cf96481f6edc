/* RDMA: the umem and its ODP part (include/rdma/ib_umem_odp.h's struct;
 * its inline helpers are extracted with the driver), the DMA mapping. */
struct ib_device;
struct pid;
struct ib_umem {
	struct ib_device *ibdev;
	struct mm_struct *owning_mm;
	u64 iova;
	size_t length;
	unsigned long address;
	u32 writable : 1;
	u32 is_odp : 1;
};
struct ib_umem_odp {
	struct ib_umem umem;
	struct mmu_interval_notifier notifier;
	struct pid *tgid;
	unsigned long *pfn_list;
	dma_addr_t *dma_list;
	struct mutex umem_mutex;
	void *private;
	int npages;
	bool is_implicit_odp;
	unsigned int page_shift;
};
#define ODP_READ_ALLOWED_BIT	    (1 << 0ULL)
#define ODP_WRITE_ALLOWED_BIT	    (1 << 1ULL)
#define PIDTYPE_PID		    0
#define check_add_overflow(a, b, d) __builtin_add_overflow(a, b, d)
#define ibdev_dbg(d, ...)	    KC_USE(d, __VA_ARGS__)
void ib_umem_odp_unmap_dma_pages(struct ib_umem_odp *umem_odp, u64 start,
				 u64 end);
void put_pid(struct pid *pid);
struct task_struct *get_pid_task(struct pid *pid, int type);
static int ib_umem_odp_map_dma_single_page(struct ib_umem_odp *umem_odp,
					   unsigned int dma_index,
					   struct page *page, u64 access_mask);
