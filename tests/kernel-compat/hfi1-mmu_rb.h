/* hfi1 mmu_rb: its handler and node, its work queue, its interval tree. */
struct kref {
	int r;
};
struct work_struct {
	int w;
};
struct workqueue_struct;
struct mmu_rb_ops;
struct mmu_rb_node {
	unsigned long addr, len, __last;
	struct rb_node node;
	struct list_head list;
	struct kref refcount;
};
struct mmu_rb_handler {
	struct mmu_notifier mn;
	struct rb_root_cached root;
	void *ops_arg;
	spinlock_t lock;
	const struct mmu_rb_ops *ops;
	struct list_head lru_list;
	struct work_struct del_work;
	struct list_head del_list;
	struct workqueue_struct *wq;
	void *free_ptr;
};
static int mmu_notifier_range_start(struct mmu_notifier *,
				    const struct mmu_notifier_range *);
static void handle_remove(struct work_struct *work);
void release_nolock(struct kref *k);
int kref_put(struct kref *k, void (*release)(struct kref *));
struct mmu_rb_node *__mmu_int_rb_iter_first(struct rb_root_cached *root,
					    unsigned long start,
					    unsigned long last);
struct mmu_rb_node *__mmu_int_rb_iter_next(struct mmu_rb_node *node,
					   unsigned long start,
					   unsigned long last);
void __mmu_int_rb_remove(struct mmu_rb_node *node, struct rb_root_cached *r);
#define trace_hfi1_mmu_mem_invalidate(n) ((void)(n))
int cache_line_size(void);
#define PTR_ALIGN(p, a) ((__typeof__(p))ALIGN((unsigned long)(p), (a)))
#define INIT_WORK(w, f) ((void)(w), (void)(f))
