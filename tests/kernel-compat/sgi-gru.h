/* sgi-gru: the driver's own struct, its statistics and TLB flush. */
struct gru_mm_struct {
	struct mmu_notifier ms_notifier;
	spinlock_t ms_asid_lock;
	atomic_t ms_range_active;
	wait_queue_head_t ms_wait_queue;
};
extern struct device *grudev;
#define STAT(id)	  ((void)0)
#define gru_dbg(dev, ...) KC_USE(dev, __VA_ARGS__)
void gru_flush_tlb_range(struct gru_mm_struct *gms, unsigned long start,
			 unsigned long len);
