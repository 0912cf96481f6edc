// SPDX-License-Identifier: MIT
/*
 * primaries/soft/frames.c - the frame pool: allocation with a budget,
 * reference counts, generations, lazily allocated data, the reverse map,
 * and the swap store that reclaim writes to.
 *
 * A frame is free when its reference count is 0.  Each mapping entry
 * holds one reference, each pin one more.  When the last reference goes,
 * the free hook (umn-torture's oracle) sees the frame with its old
 * generation, the generation is bumped, the data is freed and the frame
 * goes back to the free list.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "soft.h"

/* frames->lock and the rmap locks, recorded (core/lockdep.h). */
static void frames_lock(struct umn_soft_frames *fs)
{
	umn__mutex_lock(&fs->lock, "frames->lock");
}

static void frames_unlock(struct umn_soft_frames *fs)
{
	umn__mutex_unlock(&fs->lock, "frames->lock");
}

static pthread_mutex_t *rmap_lockptr(struct umn_soft_frames *fs,
				     unsigned long frame)
{
	return &fs->rmap_lock[frame % RMAP_LOCKS];
}

static void rmap_lock(struct umn_soft_frames *fs, unsigned long frame)
{
	umn__mutex_lock(rmap_lockptr(fs, frame), "rmap_lock");
}

static void rmap_unlock(struct umn_soft_frames *fs, unsigned long frame)
{
	umn__mutex_unlock(rmap_lockptr(fs, frame), "rmap_lock");
}

/* Initialise @fs's locks: 0, or -1 with none left initialised. */
static int init_locks(struct umn_soft_frames *fs)
{
	int i = 0;

	if (pthread_mutex_init(&fs->lock, NULL))
		return -1;
	if (pthread_cond_init(&fs->swap_cv, NULL))
		goto err_lock;
	for (; i < RMAP_LOCKS; i++)
		if (pthread_mutex_init(&fs->rmap_lock[i], NULL))
			goto err_rmap;
	return 0;

err_rmap:
	while (i--)
		pthread_mutex_destroy(&fs->rmap_lock[i]);
	pthread_cond_destroy(&fs->swap_cv);
err_lock:
	pthread_mutex_destroy(&fs->lock);
	return -1;
}

int umn_soft_frames_create(const struct umn_soft_frames_config *cfg,
			   struct umn_soft_frames **framesp)
{
	struct umn_soft_frames *fs;

	if (!framesp)
		return -EINVAL;
	fs = umn__calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	if (cfg)
		fs->cfg = *cfg;
	if (!fs->cfg.max_pages)
		fs->cfg.max_pages = 1UL << 22;
	if (!fs->cfg.max_frames)
		fs->cfg.max_frames = 1UL << 18;
	fs->frame = umn__calloc(fs->cfg.max_frames, sizeof(*fs->frame));
	if (!fs->frame) {
		free(fs);
		return -ENOMEM;
	}
	if (init_locks(fs)) {
		free(fs->frame);
		free(fs);
		return -ENOMEM;
	}
	fs->next_unused = 1; /* frame 0 means "none" */
	*framesp = fs;
	return 0;
}

int umn_soft_frames_destroy(struct umn_soft_frames *fs)
{
	unsigned long i;

	if (!fs)
		return -EINVAL;
	if (fs->pages_used || atomic_load(&fs->nr_mms))
		return -EBUSY;
	free(fs->swap); /* no mm: no swap entry, every slot is free */
	for (i = 0; i < RMAP_LOCKS; i++)
		pthread_mutex_destroy(&fs->rmap_lock[i]);
	pthread_cond_destroy(&fs->swap_cv);
	pthread_mutex_destroy(&fs->lock);
	free(fs->frame);
	free(fs);
	return 0;
}

int umn__soft_frame_alloc(struct umn_soft_frames *fs, unsigned int order,
			  unsigned long *framep)
{
	unsigned long pages = 1UL << order, n;
	unsigned char **data;
	struct frame *f;

	data = umn__calloc(pages, sizeof(*data));
	if (!data)
		return -ENOMEM;
	frames_lock(fs);
	if (fs->pages_used + pages > fs->cfg.max_pages)
		goto full;
	if (fs->free_head) {
		n = fs->free_head;
		fs->free_head = fs->frame[n].next_free;
	} else if (fs->next_unused < fs->cfg.max_frames) {
		n = fs->next_unused++;
	} else {
		goto full;
	}
	fs->pages_used += pages;
	frames_unlock(fs);

	f = &fs->frame[n];
	f->order = order;
	f->ksm = false;
	f->data = data;
	f->rmap = NULL;
	atomic_store(&f->pins, 0);
	atomic_store_explicit(&f->refs, 1, memory_order_release);
	*framep = n;
	return 0;

full:
	frames_unlock(fs);
	free(data);
	return -ENOMEM;
}

void umn__soft_frame_get(struct umn_soft_frames *fs, unsigned long frame)
{
	atomic_fetch_add_explicit(&fs->frame[frame].refs, 1,
				  memory_order_relaxed);
}

void umn__soft_frame_put(struct umn_soft_frames *fs, unsigned long frame)
{
	struct frame *f = &fs->frame[frame];
	unsigned long i, pages = 1UL << f->order;

	if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (fs->cfg.free_hook)
		fs->cfg.free_hook(fs->cfg.hook_arg, frame,
				  atomic_load(&f->gen));
	atomic_fetch_add_explicit(&f->gen, 1, memory_order_release);
	if (f->data) {
		for (i = 0; i < pages; i++)
			free(f->data[i]);
		free(f->data);
		f->data = NULL;
	}
	__atomic_fetch_add(&fs->stats.frames_freed, 1, __ATOMIC_RELAXED);
	frames_lock(fs);
	fs->pages_used -= pages;
	f->next_free = fs->free_head;
	fs->free_head = frame;
	frames_unlock(fs);
}

/*
 * The 4 KiB of data at @sub, allocated on a write; NULL for a read of a
 * page never written (it reads as zeros), or for a write when no memory is
 * left (the caller fails with -ENOMEM).  The data array is published with
 * a compare-and-swap, so that racing writers agree on one page.
 */
unsigned char *umn__soft_page(struct umn_soft_frames *fs, unsigned long frame,
			      unsigned long sub, bool write)
{
	unsigned char **slot = &fs->frame[frame].data[sub];
	unsigned char *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE), *old;

	if (p || !write)
		return p;
	p = umn__calloc(1, PAGE);
	if (!p)
		return NULL;
	old = NULL;
	if (!__atomic_compare_exchange_n(slot, &old, p, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		free(p);
		p = old;
	}
	return p;
}

int umn__soft_frame_copy(struct umn_soft_frames *fs, unsigned long dst,
			 unsigned long src)
{
	unsigned long i, pages = 1UL << fs->frame[src].order;
	unsigned char *s;

	for (i = 0; i < pages; i++) {
		s = umn__soft_page(fs, src, i, false);
		if (s && umn__soft_copy_page(fs, dst, i, s))
			return -ENOMEM;
	}
	return 0;
}

int umn__soft_copy_page(struct umn_soft_frames *fs, unsigned long frame,
			unsigned long sub, const unsigned char *src)
{
	unsigned char *dst = umn__soft_page(fs, frame, sub, true);

	if (!dst)
		return -ENOMEM;
	memcpy(dst, src, PAGE);
	return 0;
}

bool umn__soft_frame_same(struct umn_soft_frames *fs, unsigned long a,
			  unsigned long b)
{
	static const unsigned char zero[PAGE];
	unsigned char *pa = umn__soft_page(fs, a, 0, false);
	unsigned char *pb = umn__soft_page(fs, b, 0, false);

	return !memcmp(pa ? pa : zero, pb ? pb : zero, PAGE);
}

void umn_soft_frame_read(struct umn_soft_frames *fs, unsigned long frame,
			 unsigned long subpage, unsigned long offset, void *buf,
			 unsigned long len)
{
	unsigned char *p = umn__soft_page(fs, frame, subpage, false);

	if (p)
		memcpy(buf, p + offset, len);
	else
		memset(buf, 0, len);
}

int umn_soft_frame_write(struct umn_soft_frames *fs, unsigned long frame,
			 unsigned long subpage, unsigned long offset,
			 const void *buf, unsigned long len)
{
	unsigned char *p = umn__soft_page(fs, frame, subpage, true);

	if (!p)
		return -ENOMEM;
	memcpy(p + offset, buf, len);
	return 0;
}

unsigned long umn_soft_frame_gen(struct umn_soft_frames *fs,
				 unsigned long frame)
{
	return atomic_load_explicit(&fs->frame[frame].gen,
				    memory_order_acquire);
}

void umn_soft_unpin(struct umn_soft_frames *fs, unsigned long frame)
{
	atomic_fetch_sub(&fs->frame[frame].pins, 1);
	umn__soft_frame_put(fs, frame);
}

int umn__soft_rmap_add(struct umn_soft_frames *fs, unsigned long frame,
		       struct umn_soft_mm *sm, unsigned long addr)
{
	struct rmap *r = umn__malloc(sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->sm = sm;
	r->addr = addr;
	rmap_lock(fs, frame);
	r->next = fs->frame[frame].rmap;
	fs->frame[frame].rmap = r;
	rmap_unlock(fs, frame);
	return 0;
}

void umn__soft_rmap_del(struct umn_soft_frames *fs, unsigned long frame,
			struct umn_soft_mm *sm, unsigned long addr)
{
	struct rmap **pp, *r = NULL;

	rmap_lock(fs, frame);
	for (pp = &fs->frame[frame].rmap; *pp; pp = &(*pp)->next) {
		if ((*pp)->sm == sm && (*pp)->addr == addr) {
			r = *pp;
			*pp = r->next;
			break;
		}
	}
	rmap_unlock(fs, frame);
	free(r);
}

void umn__soft_rmap_move(struct umn_soft_frames *fs, unsigned long frame,
			 struct umn_soft_mm *sm, unsigned long old,
			 unsigned long new)
{
	struct rmap *r;

	rmap_lock(fs, frame);
	for (r = fs->frame[frame].rmap; r; r = r->next) {
		if (r->sm == sm && r->addr == old) {
			r->addr = new;
			break;
		}
	}
	rmap_unlock(fs, frame);
}

/* A private copy of @frame's mappings, each holding a reference on its
 * mm.  Returns how many; -ENOMEM. */
int umn__soft_rmap_snapshot(struct umn_soft_frames *fs, unsigned long frame,
			    struct rmap **list)
{
	struct rmap *r, *c;
	int n = 0;

	*list = NULL;
	rmap_lock(fs, frame);
	for (r = fs->frame[frame].rmap; r; r = r->next) {
		c = umn__malloc(sizeof(*c));
		if (!c) {
			rmap_unlock(fs, frame);
			umn__soft_rmap_snapshot_free(fs, *list);
			*list = NULL;
			return -ENOMEM;
		}
		*c = *r;
		umn__soft_mm_get(c->sm);
		c->next = *list;
		*list = c;
		n++;
	}
	rmap_unlock(fs, frame);
	return n;
}

void umn__soft_rmap_snapshot_free(struct umn_soft_frames *fs, struct rmap *list)
{
	struct rmap *next;

	(void)fs;
	for (; list; list = next) {
		next = list->next;
		umn__soft_mm_put(list->sm);
		free(list);
	}
}

/*
 * Swap.  Reclaim takes a slot (pending), replaces every mapping of the
 * frame with a swap entry holding a reference on the slot, then fills the
 * slot with a copy of the frame's data; a fault on a swap entry waits
 * while the slot is pending, then copies the data into a new frame.  The
 * slot's buffers are allocated with it, before any mapping changes: once
 * the mappings are gone there is no way back, so the copy cannot fail.
 */
static void free_buffers(unsigned char **data, unsigned long pages)
{
	if (!data)
		return;
	for (unsigned long i = 0; i < pages; i++)
		free(data[i]);
	free(data);
}

static unsigned char **alloc_buffers(unsigned long pages)
{
	unsigned char **data = umn__calloc(pages, sizeof(*data));

	for (unsigned long i = 0; data && i < pages; i++) {
		data[i] = umn__malloc(UMN_PAGE_SIZE);
		if (!data[i]) {
			free_buffers(data, pages);
			return NULL;
		}
	}
	return data;
}

int umn__soft_swap_alloc(struct umn_soft_frames *fs, unsigned int order,
			 unsigned long *slotp)
{
	unsigned char **data = alloc_buffers(1UL << order);
	struct swap_slot *s;
	unsigned long n;

	if (!data)
		return -ENOMEM;
	frames_lock(fs);
	if (fs->swap_free_head) {
		n = fs->swap_free_head - 1;
		fs->swap_free_head = fs->swap[n].next_free;
	} else {
		if (fs->nr_swap == fs->swap_cap) {
			unsigned long cap =
				fs->swap_cap ? 2 * fs->swap_cap : 64;

			s = umn__realloc(fs->swap, cap * sizeof(*s));
			if (!s) {
				frames_unlock(fs);
				free_buffers(data, 1UL << order);
				return -ENOMEM;
			}
			fs->swap = s;
			fs->swap_cap = cap;
		}
		n = fs->nr_swap++;
	}
	s = &fs->swap[n];
	s->order = order;
	s->data = data;
	s->refs = 1; /* the reclaimer's, until it fills the slot */
	s->pending = true;
	frames_unlock(fs);
	*slotp = n;
	return 0;
}

void umn__soft_swap_get(struct umn_soft_frames *fs, unsigned long slot)
{
	frames_lock(fs);
	fs->swap[slot].refs++;
	frames_unlock(fs);
}

static void swap_put_locked(struct umn_soft_frames *fs, unsigned long slot)
{
	struct swap_slot *s = &fs->swap[slot];

	if (--s->refs)
		return;
	free_buffers(s->data, 1UL << s->order);
	s->data = NULL;
	s->next_free = fs->swap_free_head;
	fs->swap_free_head = slot + 1;
}

void umn__soft_swap_put(struct umn_soft_frames *fs, unsigned long slot)
{
	frames_lock(fs);
	swap_put_locked(fs, slot);
	frames_unlock(fs);
}

/* Copy @frame's data into the slot, wake the faults, drop our ref. */
int umn__soft_swap_fill(struct umn_soft_frames *fs, unsigned long slot,
			unsigned long frame)
{
	unsigned long i, pages = 1UL << frame_of(fs, frame)->order;
	unsigned char **data;
	unsigned char *src;

	/* No mapping was swapped out (a pinned or shared frame stayed
	 * mapped, and may be written): there is nothing to copy. */
	frames_lock(fs);
	if (fs->swap[slot].refs == 1) {
		fs->swap[slot].pending = false;
		swap_put_locked(fs, slot);
		frames_unlock(fs);
		return 0;
	}
	data = fs->swap[slot].data; /* pending: only we touch the buffers */
	frames_unlock(fs);
	for (i = 0; i < pages; i++) {
		src = umn__soft_page(fs, frame, i, false);
		if (src) {
			memcpy(data[i], src, UMN_PAGE_SIZE);
		} else {
			free(data[i]); /* never written: reads as zeros */
			data[i] = NULL;
		}
	}
	frames_lock(fs);
	fs->swap[slot].pending = false;
	pthread_cond_broadcast(&fs->swap_cv);
	swap_put_locked(fs, slot);
	frames_unlock(fs);
	return 0;
}

int umn__soft_swap_in(struct umn_soft_frames *fs, unsigned long slot,
		      unsigned int order, unsigned long sub,
		      unsigned long *framep)
{
	unsigned long i, pages = 1UL << order;
	struct swap_slot *s;
	int ret;

	ret = umn__soft_frame_alloc(fs, order, framep);
	if (ret)
		return ret;
	frames_lock(fs);
	while (fs->swap[slot].pending)
		pthread_cond_wait(&fs->swap_cv, &fs->lock);
	s = &fs->swap[slot];
	for (i = 0; i < pages && !ret; i++)
		if (s->data[sub + i])
			ret = umn__soft_copy_page(fs, *framep, i,
						  s->data[sub + i]);
	frames_unlock(fs);
	if (ret)
		umn__soft_frame_put(fs, *framep);
	return ret;
}

void umn__soft_gather_add(struct gather *g, unsigned long frame)
{
	unsigned long *v;

	ptl_assert_some_held();
	if (g->n == g->cap) {
		v = umn__realloc(g->frame,
				 (g->cap ? 2 * g->cap : 64) * sizeof(*v));
		if (!v) { /* flush early: see struct gather */
			umn_invalidate_range(g->mm, g->start, g->end);
			umn__soft_frame_put(g->fs, frame);
			return;
		}
		g->frame = v;
		g->cap = g->cap ? 2 * g->cap : 64;
	}
	g->frame[g->n++] = frame;
}

void umn__soft_gather_flush(struct umn_soft_frames *fs, struct gather *g)
{
	unsigned long i;

	for (i = 0; i < g->n; i++)
		umn__soft_frame_put(fs, g->frame[i]);
	free(g->frame);
	g->frame = NULL;
	g->n = g->cap = 0;
}

void umn__soft_stat_op(struct umn_soft_frames *fs, enum umn_soft_op op)
{
	__atomic_fetch_add(&fs->stats.ops[op], 1, __ATOMIC_RELAXED);
}

void umn_soft_stats(struct umn_soft_frames *fs, struct umn_soft_stats *stats)
{
	unsigned int i;

	for (i = 0; i < UMN_SOFT_OP_COUNT; i++)
		stats->ops[i] +=
			__atomic_load_n(&fs->stats.ops[i], __ATOMIC_RELAXED);
	for (i = 0; i < UMN_EVENT_COUNT; i++)
		stats->events[i] +=
			__atomic_load_n(&fs->stats.events[i], __ATOMIC_RELAXED);
	stats->huge_ranges +=
		__atomic_load_n(&fs->stats.huge_ranges, __ATOMIC_RELAXED);
	stats->frames_freed +=
		__atomic_load_n(&fs->stats.frames_freed, __ATOMIC_RELAXED);
}
