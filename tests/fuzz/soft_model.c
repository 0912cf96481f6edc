// SPDX-License-Identifier: MIT
/*
 * tests/fuzz/soft_model.c - the fuzz harness's reference model of the soft
 * MMU (soft_model.h says what it keeps).
 */
#include <stdlib.h>
#include <string.h>

#include "../../primaries/soft/soft.h"
#include "soft_model.h"

/* The next object number of a shared extent. */
static unsigned long sobj_next;

void model_reset(void)
{
	sobj_next = 1;
}

static unsigned long align_up(unsigned long x, unsigned long a)
{
	return (x + a - 1) & ~(a - 1);
}

/* Model: mpages. */

static struct mpage *mpage_new(void)
{
	struct mpage *p = calloc(1, sizeof(*p));

	if (!p)
		abort();
	p->refs = 1;
	return p;
}

static void mpage_put(struct mpage *p)
{
	if (!--p->refs)
		free(p);
}

/* Model: VMAs, sorted, alike neighbours merged. */

NO_COVERAGE struct mvma *vma_at(struct model *m, unsigned long a)
{
	int i;

	for (i = 0; i < m->nvma; i++)
		if (m->vma[i].start <= a && a < m->vma[i].end)
			return &m->vma[i];
	return NULL;
}

void vmas_remove(struct model *m, unsigned long s, unsigned long e)
{
	struct mvma out[MAX_VMAS];
	int i, n = 0;

	if (s >= e)
		return;
	for (i = 0; i < m->nvma; i++) {
		struct mvma v = m->vma[i];

		if (v.end <= s || v.start >= e) {
			out[n++] = v;
			continue;
		}
		if (v.start < s) {
			out[n] = v;
			out[n++].end = s;
		}
		if (v.end > e) {
			out[n] = v;
			out[n++].start = e;
		}
		if (n >= MAX_VMAS - 1)
			harness_fail("model: too many VMAs");
	}
	memcpy(m->vma, out, n * sizeof(out[0]));
	m->nvma = n;
}

void vmas_insert(struct model *m, unsigned long s, unsigned long e, int prot,
		 int flags)
{
	int i, j, n;

	vmas_remove(m, s, e);
	if (m->nvma >= MAX_VMAS - 1)
		harness_fail("model: too many VMAs");
	for (i = 0; i < m->nvma && m->vma[i].start < s; i++)
		;
	memmove(&m->vma[i + 1], &m->vma[i], (m->nvma - i) * sizeof(m->vma[0]));
	m->vma[i] = (struct mvma){ s, e, prot, flags };
	m->nvma++;
	/* Merge alike neighbours. */
	for (i = 0, n = 0; i < m->nvma; i++) {
		j = n - 1;
		if (n && m->vma[j].end == m->vma[i].start &&
		    m->vma[j].prot == m->vma[i].prot &&
		    m->vma[j].flags == m->vma[i].flags)
			m->vma[j].end = m->vma[i].end;
		else
			m->vma[n++] = m->vma[i];
	}
	m->nvma = n;
}

bool model_mapped(struct model *m, unsigned long s, unsigned long e)
{
	struct mvma *v;

	while (s < e) {
		v = vma_at(m, s);
		if (!v)
			return false;
		s = v->end;
	}
	return true;
}

NO_COVERAGE bool model_free(struct model *m, unsigned long s, unsigned long e)
{
	int i;

	for (i = 0; i < m->nvma; i++)
		if (m->vma[i].start < e && s < m->vma[i].end)
			return false;
	return true;
}

/* As the soft MMU's huge_1g_aligned(): 1 GiB mappings cut at 1 GiB. */
NO_COVERAGE bool model_1g_ok(struct model *m, unsigned long s, unsigned long e)
{
	int i;

	for (i = 0; i < m->nvma; i++) {
		struct mvma *v = &m->vma[i];

		if (v->end <= s || v->start >= e ||
		    !(v->flags & UMN_SOFT_MAP_HUGE_1G))
			continue;
		if ((s > v->start && (s & (PUD - 1))) ||
		    (e < v->end && (e & (PUD - 1))))
			return false;
	}
	return true;
}

/* First fit at or after @hint (BASE if 0), aligned: as the soft MMU. */
unsigned long model_room(struct model *m, unsigned long hint, unsigned long len,
			 unsigned long align)
{
	unsigned long a = align_up(hint ? hint : BASE, align);
	int i;

	for (;;) {
		for (i = 0; i < m->nvma; i++)
			if (m->vma[i].end > a)
				break;
		if (i == m->nvma || m->vma[i].start >= a + len)
			return a;
		a = align_up(m->vma[i].end, align);
	}
}

/* Model: contents and shared extents. */

NO_COVERAGE static int pg_find(struct model *m, unsigned long a)
{
	int i;

	for (i = 0; i < m->npg; i++)
		if (m->pg[i].addr == a)
			return i;
	return -1;
}

static void pg_add(struct model *m, unsigned long a, struct mpage *p)
{
	if (m->npg == m->cappg) {
		m->cappg = m->cappg ? 2 * m->cappg : 64;
		m->pg = realloc(m->pg, m->cappg * sizeof(m->pg[0]));
		if (!m->pg)
			abort();
	}
	m->pg[m->npg++] = (struct mentry){ a, p };
}

NO_COVERAGE static void pg_drop(struct model *m, unsigned long s,
				unsigned long e)
{
	int i;

	for (i = 0; i < m->npg;) {
		if (m->pg[i].addr >= s && m->pg[i].addr < e) {
			mpage_put(m->pg[i].p);
			m->pg[i] = m->pg[--m->npg];
		} else {
			i++;
		}
	}
}

static void ext_add(struct model *m, struct mext x)
{
	if (m->next == m->capext) {
		m->capext = m->capext ? 2 * m->capext : 16;
		m->ext = realloc(m->ext, m->capext * sizeof(m->ext[0]));
		if (!m->ext)
			abort();
	}
	m->ext[m->next++] = x;
}

/* Take [s, e) out of the extents. */
static void ext_cut(struct model *m, unsigned long s, unsigned long e)
{
	int i, n = m->next;

	for (i = 0; i < n;) {
		struct mext x = m->ext[i];

		if (x.end <= s || x.start >= e) {
			i++;
			continue;
		}
		m->ext[i] = m->ext[--n];
		m->next = n;
		if (x.start < s)
			ext_add(m, (struct mext){ x.start, s, x.sobj, x.off });
		if (x.end > e)
			ext_add(m, (struct mext){ e, x.end, x.sobj,
						  x.off + (e - x.start) });
		n = m->next;
	}
}

NO_COVERAGE static struct mext *ext_at(struct model *m, unsigned long a)
{
	int i;

	for (i = 0; i < m->next; i++)
		if (m->ext[i].start <= a && a < m->ext[i].end)
			return &m->ext[i];
	return NULL;
}

/* [s, e) is gone from @m: unmapped, or its pages discarded. */
void model_discard(struct model *m, unsigned long s, unsigned long e)
{
	pg_drop(m, s, e);
	ext_cut(m, s, e);
}

void model_unmap(struct model *m, unsigned long s, unsigned long e)
{
	model_discard(m, s, e);
	vmas_remove(m, s, e);
}

/* What @m holds at the page of @a: NULL for zeros. */
struct mpage *model_page(struct model *m, unsigned long a)
{
	int i = pg_find(m, a & ~(PAGE - 1));

	return i < 0 ? NULL : m->pg[i].p;
}

/* The page of @a, made writable in the model: a page of a shared extent
 * appears in every address space of @all that shares it. */
static struct mpage *model_page_w(struct model *m, unsigned long a,
				  struct model *const *all, int n)
{
	unsigned long page = a & ~(PAGE - 1), off;
	struct mpage *p = model_page(m, page);
	struct mext *x;
	int i, j;

	if (p)
		return p;
	p = mpage_new();
	x = ext_at(m, page);
	if (!x) {
		pg_add(m, page, p);
		return p;
	}
	off = x->off + (page - x->start);
	p->refs = 0;
	for (i = 0; i < n; i++) {
		struct model *o = all[i];

		for (j = 0; j < o->next; j++) {
			struct mext *y = &o->ext[j];
			unsigned long at;

			if (y->sobj != x->sobj || off < y->off ||
			    off - y->off >= y->end - y->start)
				continue;
			at = y->start + (off - y->off);
			if (pg_find(o, at) >= 0)
				fail("model: shared page %#lx already there",
				     at);
			p->refs++;
			pg_add(o, at, p);
		}
	}
	return p;
}

void model_write(struct model *m, unsigned long a, const void *buf,
		 unsigned long len, struct model *const *all, int n)
{
	memcpy(model_page_w(m, a, all, n)->data + (a & (PAGE - 1)), buf, len);
}

/* Move [s, e) of @m by @delta (mremap). */
void model_move(struct model *m, unsigned long s, unsigned long e,
		unsigned long delta)
{
	int i;

	/* Split the extents at the edges, then move what is inside. */
	for (i = 0; i < m->next; i++) {
		struct mext *x = &m->ext[i];

		if ((x->start < s && s < x->end) ||
		    (x->start < e && e < x->end)) {
			struct mext c = *x;

			ext_cut(m, c.start, c.end);
			if (c.start < s)
				ext_add(m, (struct mext){ c.start, s, c.sobj,
							  c.off });
			ext_add(m,
				(struct mext){
					s > c.start ? s : c.start,
					e < c.end ? e : c.end, c.sobj,
					c.off + ((s > c.start ? s : c.start) -
						 c.start) });
			if (c.end > e)
				ext_add(m,
					(struct mext){ e, c.end, c.sobj,
						       c.off + (e - c.start) });
			i = -1; /* start over: the array changed */
		}
	}
	for (i = 0; i < m->next; i++)
		if (m->ext[i].start >= s && m->ext[i].end <= e) {
			m->ext[i].start += delta;
			m->ext[i].end += delta;
		}
	for (i = 0; i < m->npg; i++)
		if (m->pg[i].addr >= s && m->pg[i].addr < e)
			m->pg[i].addr += delta;
}

/* The pages the soft MMU has populated in [s, e), as runs. */
struct runs {
	unsigned long start[4096], end[4096];
	int n;
	bool overflow;
};

static void runs_add(struct runs *r, unsigned long s, unsigned long e)
{
	if (r->n && r->end[r->n - 1] == s) {
		r->end[r->n - 1] = e;
		return;
	}
	if (r->n == 4096) {
		r->overflow = true;
		return;
	}
	r->start[r->n] = s;
	r->end[r->n++] = e;
}

struct populated {
	struct runs *r;
	unsigned long s, e;
};

NO_COVERAGE static void populated_run(struct umn_soft_mm *sm, struct pt *t,
				      unsigned int level, unsigned int first,
				      unsigned int last, unsigned long base,
				      void *ctx)
{
	struct populated *p = ctx;
	unsigned long size = LEVEL_SIZE(level), a, lo, hi;
	unsigned int i;

	(void)sm;
	for (i = first; i <= last; i++) {
		if (e_type(t->e[i]) != E_LEAF)
			continue;
		a = base + (i - first) * size;
		lo = a > p->s ? a : p->s;
		hi = a + size < p->e ? a + size : p->e;
		runs_add(p->r, lo, hi);
	}
}

static struct runs fork_runs;

/*
 * New extents for the pages of @pm's shared mappings that the soft MMU
 * (@parent) has populated and no extent covers yet.
 */
static void share_populated(struct model *pm, struct umn_soft_mm *parent)
{
	struct populated pop = { &fork_runs, 0, 0 };
	unsigned long a, b;
	int i, k;

	fork_runs.n = 0;
	fork_runs.overflow = false;
	for (i = 0; i < pm->nvma; i++) {
		if (!(pm->vma[i].flags & UMN_SOFT_MAP_SHARED))
			continue;
		pop.s = pm->vma[i].start;
		pop.e = pm->vma[i].end;
		umn__soft_walk_range(parent, pop.s, pop.e, populated_run, &pop);
	}
	if (fork_runs.overflow)
		harness_fail("model: too many populated runs at fork");
	for (k = 0; k < fork_runs.n; k++) {
		a = fork_runs.start[k];
		while (a < fork_runs.end[k]) {
			struct mext *x = ext_at(pm, a);

			if (x) {
				a = x->end;
				continue;
			}
			for (b = a; b < fork_runs.end[k] && !ext_at(pm, b);
			     b += PAGE)
				;
			ext_add(pm, (struct mext){ a, b, sobj_next++, 0 });
			a = b;
		}
	}
}

/* The pages @pm holds, into @cm: shared ones shared, private ones copied. */
static void fork_pages(struct model *pm, struct model *cm)
{
	int i;

	for (i = 0; i < pm->npg; i++) {
		struct mentry *e = &pm->pg[i];
		struct mvma *v = vma_at(pm, e->addr);
		struct mpage *c;

		if (!v)
			fail("model: a page outside the mappings");
		if (v->flags & UMN_SOFT_MAP_SHARED) {
			if (!ext_at(pm, e->addr))
				fail("model: shared page %#lx written but "
				     "not populated at fork",
				     e->addr);
			e->p->refs++;
			pg_add(cm, e->addr, e->p);
			continue;
		}
		c = mpage_new();
		memcpy(c->data, e->p->data, PAGE);
		pg_add(cm, e->addr, c);
	}
}

/*
 * fork, in the model: private memory is copied; of a shared mapping, the
 * pages populated at fork are shared from now on (the child maps the same
 * frames), and the others are not (each side populates its own).  This is
 * what the soft MMU does: it has no shmem object behind a shared mapping,
 * unlike Linux.  Which pages are populated is the one thing the model
 * reads from the soft MMU's page table.
 */
void model_fork(struct model *pm, struct umn_soft_mm *parent, struct model *cm)
{
	int i;

	memcpy(cm->vma, pm->vma, pm->nvma * sizeof(pm->vma[0]));
	cm->nvma = pm->nvma;
	share_populated(pm, parent);
	for (i = 0; i < pm->next; i++)
		ext_add(cm, pm->ext[i]);
	fork_pages(pm, cm);
}

void model_free_all(struct model *m)
{
	pg_drop(m, 0, ~0UL);
	free(m->pg);
	free(m->ext);
	memset(m, 0, sizeof(*m));
}
