/* SPDX-License-Identifier: MIT */
/*
 * tests/kernel-compat/kernel.h - the kernel environment that driver code
 * uses besides the notifier API, declared just enough for the compiler:
 * types, locks, allocation, lists, printing.  Written for these tests;
 * the notifier API itself comes from <umn/linux/hmm.h> (which includes
 * <umn/linux/mmu_notifier.h>), unchanged.  Nothing here is linked or run.
 */
#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <umn/linux/hmm.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef int64_t s64;
typedef unsigned long dma_addr_t;
typedef unsigned int gfp_t;
typedef unsigned long pgoff_t;
#define __user
#define __rcu
#define __must_check
#define __acquires(x)
#define __releases(x)
#undef __always_inline
#define __always_inline	     inline __attribute__((always_inline))
#define noinline	     __attribute__((noinline))
#define GFP_KERNEL	     1U
#define __GFP_NOWARN	     2U
#define EXPORT_SYMBOL(x)     extern int kc_export_##x
#define EXPORT_SYMBOL_GPL(x) extern int kc_export_gpl_##x
/* Type-check what a dropped call (a print, a trace point) was given. */
#define KC_USE(...)		 ((void)sizeof((__VA_ARGS__, 0)))
#define likely(x)		 __builtin_expect(!!(x), 1)
#define unlikely(x)		 __builtin_expect(!!(x), 0)
#define READ_ONCE(x)		 (*(volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v)	 (*(volatile __typeof__(x) *)&(x) = (v))
#define container_of(p, type, m) ((type *)((char *)(p)-offsetof(type, m)))
#define ARRAY_SIZE(a)		 (sizeof(a) / sizeof((a)[0]))
#define min(a, b)		 ((a) < (b) ? (a) : (b))
#define max(a, b)		 ((a) > (b) ? (a) : (b))
#define min_t(t, a, b)		 ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b)		 ((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define ALIGN(x, a)		 (((x) + (a)-1) & ~((__typeof__(x))(a)-1))
#define ALIGN_DOWN(x, a)	 ((x) & ~((__typeof__(x))(a)-1))
#define BIT(n)			 (1UL << (n))
#define WARN_ON(c)                 \
	({                         \
		bool kc_c = !!(c); \
		kc_c;              \
	})
#define WARN_ON_ONCE(c)		     WARN_ON(c)
#define WARN(c, ...)		     WARN_ON(c)
#define BUG_ON(c)		     ((void)(c))
#define BUG()			     abort()
#define might_sleep()		     ((void)0)
#define lockdep_assert_held(l)	     ((void)(l))
#define lockdep_assert_held_write(l) ((void)(l))
#define pr_debug(...)		     KC_USE(__VA_ARGS__)
#define pr_info(...)		     KC_USE(__VA_ARGS__)
#define pr_warn(...)		     KC_USE(__VA_ARGS__)
#define pr_err(...)		     KC_USE(__VA_ARGS__)
#define pr_warn_ratelimited(...)     KC_USE(__VA_ARGS__)
#define dev_dbg(d, ...)		     KC_USE(d, __VA_ARGS__)
#define dev_err(d, ...)		     KC_USE(d, __VA_ARGS__)
#define dev_warn(d, ...)	     KC_USE(d, __VA_ARGS__)
#define trace_printk(...)	     KC_USE(__VA_ARGS__)
#define PAGE_SHIFT		     UMN_PAGE_SHIFT
#define PAGE_SIZE		     UMN_PAGE_SIZE
#define PAGE_MASK		     (~(PAGE_SIZE - 1))
#define MAX_ERRNO		     4095
#define IS_ERR_VALUE(x)		     ((unsigned long)(x) >= (unsigned long)-MAX_ERRNO)
static inline void *ERR_PTR(long e)
{
	return (void *)e;
}
static inline long PTR_ERR(const void *p)
{
	return (long)p;
}
static inline bool IS_ERR(const void *p)
{
	return IS_ERR_VALUE(p);
}
static inline bool IS_ERR_OR_NULL(const void *p)
{
	return !p || IS_ERR(p);
}
static inline void *ERR_CAST(const void *p)
{
	return (void *)p;
}

void *kmalloc(size_t size, gfp_t gfp);
void *kzalloc(size_t size, gfp_t gfp);
void *kcalloc(size_t n, size_t size, gfp_t gfp);
void *kvcalloc(size_t n, size_t size, gfp_t gfp);
void *kvmalloc_array(size_t n, size_t size, gfp_t gfp);
void kfree(const void *p);
void kvfree(const void *p);

typedef struct {
	int counter;
} atomic_t;
typedef struct {
	long counter;
} atomic64_t;
int atomic_read(const atomic_t *a);
void atomic_set(atomic_t *a, int v);
void atomic_inc(atomic_t *a);
void atomic_dec(atomic_t *a);
bool atomic_dec_and_test(atomic_t *a);
int atomic_inc_return(atomic_t *a);
typedef struct {
	int refs;
} refcount_t;
void refcount_set(refcount_t *r, int n);
void refcount_inc(refcount_t *r);
bool refcount_dec_and_test(refcount_t *r);

typedef struct {
	int lock;
} spinlock_t;
typedef struct {
	int lock;
} rwlock_t;
void spin_lock_init(spinlock_t *l);
void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
void spin_lock_irq(spinlock_t *l);
void spin_unlock_irq(spinlock_t *l);
#define spin_lock_irqsave(l, f)	     ((void)(f), spin_lock(l))
#define spin_unlock_irqrestore(l, f) ((void)(f), spin_unlock(l))
struct mutex {
	pthread_mutex_t m;
};
void mutex_init(struct mutex *m);
void mutex_lock(struct mutex *m);
int mutex_trylock(struct mutex *m);
void mutex_unlock(struct mutex *m);
void mutex_destroy(struct mutex *m);
struct rw_semaphore {
	int s;
};
typedef struct {
	int w;
} wait_queue_head_t;
void init_waitqueue_head(wait_queue_head_t *w);
void wake_up_all(wait_queue_head_t *w);
void wake_up(wait_queue_head_t *w);
#define wait_event(w, c) ((void)(w), (void)(c))
void rcu_read_lock(void);
void rcu_read_unlock(void);
void synchronize_rcu(void);
void cond_resched(void);
void schedule(void);
unsigned long msecs_to_jiffies(unsigned int ms);
extern unsigned long jiffies;
#define time_after(a, b) ((long)((b) - (a)) < 0)

struct list_head {
	struct list_head *next, *prev;
};
#define LIST_HEAD(n) struct list_head n = { &(n), &(n) }
void INIT_LIST_HEAD(struct list_head *l);
void list_add(struct list_head *n, struct list_head *h);
void list_add_tail(struct list_head *n, struct list_head *h);
void list_del(struct list_head *e);
void list_del_init(struct list_head *e);
bool list_empty(const struct list_head *h);
void list_move(struct list_head *e, struct list_head *h);
#define list_entry(p, t, m)	  container_of(p, t, m)
#define list_first_entry(h, t, m) list_entry((h)->next, t, m)
#define list_for_each_entry(pos, h, m)                                         \
	for (pos = list_entry((h)->next, __typeof__(*pos), m); &pos->m != (h); \
	     pos = list_entry(pos->m.next, __typeof__(*pos), m))
#define list_for_each_entry_safe(pos, n, h, m)                 \
	for (pos = list_entry((h)->next, __typeof__(*pos), m), \
	    n = list_entry(pos->m.next, __typeof__(*pos), m);  \
	     &pos->m != (h);                                   \
	     pos = n, n = list_entry(n->m.next, __typeof__(*n), m))
struct hlist_head {
	struct hlist_node *first;
};
static inline void INIT_HLIST_NODE(struct hlist_node *h)
{
	h->next = NULL;
	h->pprev = NULL;
}

struct rb_node {
	unsigned long c;
	struct rb_node *r, *l;
};
struct rb_root {
	struct rb_node *rb_node;
};
struct rb_root_cached {
	struct rb_root rb_root;
	struct rb_node *left;
};
#define RB_ROOT_CACHED ((struct rb_root_cached){ { NULL }, NULL })

struct page;
struct device;
struct file {
	void *private_data;
};
struct inode;
struct vm_area_struct {
	unsigned long vm_start, vm_end, vm_flags, vm_pgoff;
	struct mm_struct *vm_mm;
	void *vm_private_data;
	const struct vm_operations_struct *vm_ops;
};
struct vm_area_struct *find_vma(struct mm_struct *mm, unsigned long addr);
struct vm_area_struct *vma_lookup(struct mm_struct *mm, unsigned long addr);
struct page *pfn_to_page(unsigned long pfn);
unsigned long page_to_pfn(struct page *p);
void put_page(struct page *p);
void get_page(struct page *p);
void *page_address(struct page *p);
struct task_struct *get_task_struct(struct task_struct *t);
void put_task_struct(struct task_struct *t);
bool access_ok(const void __user *p, unsigned long n);
#define untagged_addr(a) (a)
#define PAGE_ALIGN(a)	 ALIGN(a, PAGE_SIZE)
typedef u64 phys_addr_t;
phys_addr_t virt_to_phys(const void *p);
