/* KVM: the VM, its memslot walk (__kvm_handle_hva_range and friends,
 * which the notifier callbacks call), SRCU, tracing. */
struct srcu_struct {
	int s;
};
struct rcuwait {
	int w;
};
struct kvm {
	struct mmu_notifier mmu_notifier;
	spinlock_t mn_invalidate_lock;
	unsigned long mn_active_invalidate_count;
	struct rcuwait mn_memslots_update_rcuwait;
	struct srcu_struct srcu;
};
struct kvm_gfn_range;
typedef bool (*gfn_handler_t)(struct kvm *kvm, struct kvm_gfn_range *range);
typedef void (*on_lock_fn_t)(struct kvm *kvm);
struct kvm_mmu_notifier_range {
	u64 start, end;
	union {
		pte_t pte;
		unsigned long attributes;
		u64 raw;
	} arg;
	gfn_handler_t handler;
	on_lock_fn_t on_lock;
	bool flush_on_ret;
	bool may_block;
};
typedef struct {
	bool ret;
	bool found_memslot;
} kvm_mn_ret_t;
bool kvm_mmu_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range);
bool kvm_age_gfn(struct kvm *kvm, struct kvm_gfn_range *range);
bool kvm_test_age_gfn(struct kvm *kvm, struct kvm_gfn_range *range);
void kvm_mmu_invalidate_begin(struct kvm *kvm);
void kvm_mmu_invalidate_end(struct kvm *kvm);
void kvm_null_fn(void);
kvm_mn_ret_t __kvm_handle_hva_range(struct kvm *kvm,
				    const struct kvm_mmu_notifier_range *r);
int kvm_handle_hva_range(struct mmu_notifier *mn, unsigned long start,
			 unsigned long end, gfn_handler_t handler);
int kvm_handle_hva_range_no_flush(struct mmu_notifier *mn, unsigned long start,
				  unsigned long end, gfn_handler_t handler);
void gfn_to_pfn_cache_invalidate_start(struct kvm *kvm, unsigned long start,
				       unsigned long end);
void kvm_arch_guest_memory_reclaimed(struct kvm *kvm);
void rcuwait_wake_up(struct rcuwait *w);
int srcu_read_lock(struct srcu_struct *s);
void srcu_read_unlock(struct srcu_struct *s, int idx);
void kvm_flush_shadow_all(struct kvm *kvm);
#define trace_kvm_unmap_hva_range(s, e) KC_USE(s, e)
#define trace_kvm_age_hva(s, e)		KC_USE(s, e)
#define trace_kvm_test_age_hva(a)	KC_USE(a)
