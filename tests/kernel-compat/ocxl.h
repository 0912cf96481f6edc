/* ocxl: the link, its shared process area and powerpc's registers. */
struct radix_tree_root {
	void *r;
};
struct ocxl_process_element {
	u64 config_state, amr;
	u32 pasid, lpid, pid, tid, software_state;
	u16 bdf;
	u8 pad[128 - 40];
};
struct spa {
	struct ocxl_process_element *spa_mem;
	struct mutex spa_lock;
	struct radix_tree_root pe_tree;
};
struct ocxl_link {
	struct spa *spa;
	spinlock_t atsd_lock;
	void *arva;
};
struct pe_data {
	struct mm_struct *mm;
	void (*xsl_err_cb)(void *data, u64 addr, u64 dsisr);
	void *xsl_err_data;
	struct rcu_head rcu;
	struct ocxl_link *link;
	struct mmu_notifier mmu_notifier;
};
#define trace_ocxl_mmu_notifier_range(s, e, p) KC_USE(s, e, p)
#define trace_ocxl_init_mmu_notifier(p, i)     KC_USE(p, i)
#define BUILD_BUG_ON(c)			       _Static_assert(!(c), #c)
#define SPA_PASID_MAX			       ((1 << 20) - 1)
#define SPA_PE_MASK			       4095
#define SPA_PE_VALID			       0x80000000
#define SPRN_LPID			       0x13f
#define cpu_to_be64(x)			       (x)
#define cpu_to_be32(x)			       (x)
#define cpu_to_be16(x)			       (x)
unsigned long mfspr(int reg);
void pnv_ocxl_tlb_invalidate(void *arva, unsigned long pid, unsigned long addr,
			     unsigned long size);
void mm_context_add_copro(struct mm_struct *mm);
static u64 calculate_cfg_state(bool kernel);
int radix_tree_insert(struct radix_tree_root *r, unsigned long i, void *p);
#define mb()			    __sync_synchronize()
#define trace_ocxl_context_add(...) KC_USE(__VA_ARGS__)
