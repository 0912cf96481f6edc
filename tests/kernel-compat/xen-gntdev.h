/* xen gntdev: the grant map, the device's private data, the VMA flags and
 * the grant-table calls. */
struct gntdev_priv {
	struct mutex lock;
};
struct gntdev_grant_map {
	atomic_t in_use;
	struct mmu_interval_notifier notifier;
	bool notifier_init;
	int index, count, flags;
	refcount_t users;
	struct page **pages;
	unsigned long pages_vm_start;
};
struct vm_operations_struct {
	int v;
};
extern const struct vm_operations_struct gntdev_vmops;
extern bool use_ptemod;
#define VM_WRITE	0x2UL
#define VM_SHARED	0x8UL
#define VM_MAYWRITE	0x20UL
#define VM_DONTEXPAND	0x40000UL
#define VM_DONTDUMP	0x4000000UL
#define VM_MIXEDMAP	0x10000000UL
#define VM_DONTCOPY	0x20000UL
#define GNTMAP_host_map 2
#define GNTMAP_readonly 4
unsigned long vma_pages(struct vm_area_struct *vma);
void vm_flags_clear(struct vm_area_struct *vma, unsigned long f);
void vm_flags_set(struct vm_area_struct *vma, unsigned long f);
struct gntdev_grant_map *gntdev_find_map_index(struct gntdev_priv *priv,
					       int index, int count);
bool atomic_add_unless(atomic_t *a, int add, int unless);
int find_grant_ptes(void *pte, unsigned long addr, void *data);
int apply_to_page_range(struct mm_struct *mm, unsigned long addr,
			unsigned long size,
			int (*fn)(void *, unsigned long, void *), void *data);
int gntdev_map_grant_pages(struct gntdev_grant_map *map);
int vm_map_pages_zero(struct vm_area_struct *vma, struct page **pages,
		      unsigned long num);
void unmap_grant_pages(struct gntdev_grant_map *map, int offset, int pages);
void gntdev_put_map(struct gntdev_priv *priv, struct gntdev_grant_map *map);
