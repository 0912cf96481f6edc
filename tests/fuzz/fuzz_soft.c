// SPDX-License-Identifier: MIT
/*
 * tests/fuzz/fuzz_soft.c - the libFuzzer harness of the soft MMU, its
 * reference secondaries and the core's notifiers.
 *
 * An input is a sequence of operations (see the OP_* table below; at most
 * MAX_OPS).  Each is decoded from an opcode byte and a few argument bytes;
 * a short input reads zeros.  They run on one thread, in order, so that an
 * input always replays the same way:
 *
 *  - the soft MMU: mmap (fixed or not, private or shared, THP, 1 GiB),
 *    munmap, mprotect, mremap, madvise(DONTNEED), faults, CPU reads and
 *    writes, fork (up to MAX_MMS address spaces, each operated on, each
 *    destroyed in turn), THP split and collapse, migration, reclaim,
 *    cleaning, KSM, aging, pin and unpin;
 *  - the secondaries: a classic and an interval mirror, a device TLB and a
 *    registration cache per address space, created, accessed (the device
 *    reads and writes through the translation it got) and destroyed; a
 *    "race" runs a primary operation between a secondary's lookup and its
 *    install (a mirror) or publish (the registration cache), the
 *    collision the retry protocol exists for, made deterministic;
 *  - the core: a checking classic notifier and interval notifiers,
 *    registered, inserted and removed, also from inside a callback.
 *
 * The oracle, after each operation (on a mismatch, a message and abort(),
 * or exit(fuzz_oracle_exit) when the replayer set it):
 *  - a reference model per address space, kept here without looking at
 *    the soft MMU: its mappings (address -> protection, flags) and the
 *    bytes written.  Every call's result is what the model predicts
 *    (-EFAULT, -EACCES, -ENOMEM, -EINVAL) where the model can tell, one of
 *    the documented values where it cannot; every page read back holds
 *    what the model says (zeros after DONTNEED, munmap or a fresh map;
 *    fork copies private memory and shares the shared pages that were
 *    populated then: the soft MMU has no backing object, see
 *    model_fork());
 *  - every translation a secondary holds for an address it was used at
 *    is the primary's current one (same frame, 4 KiB, generation; no
 *    write where the primary forbids it), and so is every page of a
 *    valid registration; a lookup never returns an invalid registration;
 *  - no frame is freed while a secondary maps it or a pin the harness
 *    holds is on it (the frame pool's free hook);
 *  - the checking notifier sees every start paired with its end, every
 *    invalidate_range inside an open bracket, and each interval notifier
 *    is invalidated exactly by the brackets that overlap it, which its
 *    read_retry reports;
 *  - the core's validators (umn__chain_is_valid, umn__intervals_are_valid)
 *    and, every few operations and at the end, a walk of the soft MMU's
 *    page tables against its reverse map, frame and swap reference counts
 *    and page budget; at the end every frame has come back.
 *
 * The environment:
 *	UMN_FUZZ_BREAK=early-free|thp-range|retry plants one of the library's
 *	deliberate breaks, to show that the oracle catches it
 *	(tests/fuzz/breaks/);
 *	UMN_FUZZ_PENDING=1 stops stepping around the bugs found and not yet
 *	fixed (tests/fuzz/pending/README.md);
 *	UMN_FUZZ_TRACE=1 prints each operation and result on stderr.
 *
 * tests/fuzz/mkseeds.py writes inputs in this encoding (the seed corpus).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <umn/devtlb.h>
#include <umn/interval.h>
#include <umn/mirror.h>
#include <umn/notifier.h>
#include <umn/regcache.h>
#include <umn/soft.h>
#include <umn-test/breaks.h>

#include "../../core/internal.h"
#include "../../primaries/soft/soft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The model's searches and the validators' walks are not what the fuzzer
 * should learn from (and their traced comparisons cost half the time). */
#if defined(__clang__) && __clang_major__ >= 13
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define NO_COVERAGE
#endif

#define PAGE UMN_PAGE_SIZE
#define PMD  UMN_SOFT_PMD_SIZE
#define PUD  UMN_SOFT_PUD_SIZE
#define R    UMN_SOFT_PROT_READ
#define W    UMN_SOFT_PROT_WRITE

#define BASE	    (1UL << 40)	 /* the soft MMU's first-fit base */
#define WIN	    (32UL << 20) /* the mirrors' window: [BASE, BASE + WIN) */
#define MAX_OPS	    128
#define MAX_MMS	    3
#define MAX_VMAS    512
#define MAX_FRAMES  (1UL << 14)
#define MAX_FAULTS  2048 /* pages populated per input, at most */
#define MAX_PINS    16
#define MAX_HANDLES 8
#define MAX_SUBS    3
#define MAX_RECS    256
#define MAX_LOG	    64

/* The model. */

struct mpage {
	int refs;
	unsigned char data[PAGE];
};

struct mvma {
	unsigned long start, end;
	int prot, flags;
};

/* A page written, and what it holds (shared pages share the mpage). */
struct mentry {
	unsigned long addr;
	struct mpage *p;
};

/* Pages that fork shared: [start, end) is object @sobj from offset @off. */
struct mext {
	unsigned long start, end;
	unsigned long sobj, off;
};

struct model {
	struct mvma vma[MAX_VMAS];
	int nvma;
	struct mentry *pg;
	int npg, cappg;
	struct mext *ext;
	int next, capext;
};

/* The secondaries and notifiers of one address space. */

struct checker {
	struct umn_notifier n;
	bool registered, released;
	const struct umn_range *open[16];
	struct umn_range copy[16];
	int nopen;
	unsigned long log_start[MAX_LOG], log_end[MAX_LOG];
	int nlog;
	bool log_lost;
	int defer;   /* insert sub[defer - 1] from the next start */
	bool misuse; /* call what must refuse, from the next start */
	struct umn_notifier spare;
};

struct isub {
	struct umn_interval_notifier sub; /* first */
	bool inserted, fresh;
	unsigned long start, last;
	unsigned long count, snap; /* invalidations; at the op's start */
	bool reading;
	unsigned long seq, seq_count;
};

struct slot {
	struct umn_soft_mm *sm;
	struct model m;
	struct umn_mirror *mirror[2];
	struct umn_devtlb *tlb;
	struct umn_regcache *rc;
	struct umn_regcache_soft rcs;
	struct umn_regcache_handle *h[MAX_HANDLES];
	int nh;
	struct checker chk;
	struct isub sub[MAX_SUBS];
};

/* A secondary's translation, remembered for the oracle. */
enum { K_MIRROR0, K_MIRROR1, K_DEVTLB, K_REGCACHE };

struct rec {
	int kind;
	void *obj;
	struct slot *slot;
	unsigned long addr, frame, gen;
};

static const char *const kind_names[] = { "classic mirror", "interval mirror",
					  "devtlb", "regcache" };

/* The run. */

struct input {
	const uint8_t *p;
	size_t n;
};

static struct input in;
static struct umn_soft_frames *frames;
static struct slot *slots[MAX_MMS];
static int nslots;
static unsigned long pins[MAX_PINS]; /* frames */
static int npins;
static int pinned[MAX_FRAMES];
static struct rec recs[MAX_RECS];
static int nrecs, rec_next;
static int op_index;
static unsigned long faults_left, sobj_next, stamp;
static unsigned int planted_break; /* 1 early-free, 2 thp-range, 3 retry */
static int inject_op;		   /* the regcache's pin runs one op: depth */
static struct slot *inject_slot;

/*
 * Strict about the bugs the fuzzer found (now fixed; their inputs are in
 * tests/fuzz/regressions/).  The guards stay, so that a bug found later
 * and not fixed yet can be stepped around while fuzzing goes on:
 * UMN_FUZZ_PENDING=0 turns them on (see tests/fuzz/pending/README.md).
 */
static bool pending;

/*
 * Does a slot of @level in [s, e) hold a page table (maybe an empty one,
 * left by smaller mappings)?  pending/1g-fault-over-pmd-table: a fault in
 * a 1 GiB mapping over such a PUD slot never returns;
 * pending/mremap-*-over-table-leak: mremap moves a huge entry onto such a
 * slot and leaks the table.
 */
static bool holds_table(struct umn_soft_mm *sm, unsigned long s,
			unsigned long e, unsigned int level)
{
	unsigned long a, size = LEVEL_SIZE(level);
	struct pt *t;

	for (a = s & ~(size - 1); a < e; a += size) {
		t = umn__soft_pt_walk(sm, a, level, false);
		if (t && e_type(e_load(t, LEVEL_INDEX(a, level))) == E_TABLE)
			return true;
	}
	return false;
}

/*
 * How the oracle's verdict ends the run: with 0, abort() (libFuzzer keeps
 * the input as a crash); else exit() with this status, which the replayer
 * (replay.c) sets, so that a run the oracle failed can be told from one
 * that crashed or could not set up.
 */
int fuzz_oracle_exit;

static _Noreturn void fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* The oracle's verdict: the library did not do what the model says. */
static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_soft: oracle: op %d: ", op_index);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (fuzz_oracle_exit)
		exit(fuzz_oracle_exit);
	abort();
}

static _Noreturn void harness_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Not a verdict: the harness cannot go on (set-up, its own limits). */
static void harness_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_soft: harness: op %d: ", op_index);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static unsigned int u8(void)
{
	if (!in.n)
		return 0;
	in.n--;
	return *in.p++;
}

static unsigned int u16(void)
{
	unsigned int lo = u8();

	return lo | u8() << 8;
}

/*
 * Addresses: the mirrors' 32 MiB window in 4 KiB steps (half the values),
 * or the two 1 GiB blocks after BASE + 1 GiB, in 64 KiB steps.
 */
static unsigned long dec_addr(void)
{
	unsigned int v = u16();

	if (v >> 15 == 0)
		return BASE + (v & 0x1fff) * PAGE;
	return BASE + PUD * (1 + ((v >> 14) & 1)) + (v & 0x3fff) * 0x10000UL;
}

/* Lengths: 1 to 512 pages, 1 to 8 THPs, or 1 or 2 GiB. */
static unsigned long dec_len(void)
{
	unsigned int v = u16();

	switch (v >> 14) {
	case 0:
	case 1:
		return (1 + (v & 0x1ff)) * PAGE;
	case 2:
		return (1 + (v & 7)) * PMD;
	default:
		return (1 + (v & 1)) * PUD;
	}
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

NO_COVERAGE static struct mvma *vma_at(struct model *m, unsigned long a)
{
	int i;

	for (i = 0; i < m->nvma; i++)
		if (m->vma[i].start <= a && a < m->vma[i].end)
			return &m->vma[i];
	return NULL;
}

static void vmas_remove(struct model *m, unsigned long s, unsigned long e)
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

static void vmas_insert(struct model *m, unsigned long s, unsigned long e,
			int prot, int flags)
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

static bool model_mapped(struct model *m, unsigned long s, unsigned long e)
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

NO_COVERAGE static bool model_free(struct model *m, unsigned long s,
				   unsigned long e)
{
	int i;

	for (i = 0; i < m->nvma; i++)
		if (m->vma[i].start < e && s < m->vma[i].end)
			return false;
	return true;
}

/* As the soft MMU's huge_1g_aligned(): 1 GiB mappings cut at 1 GiB. */
NO_COVERAGE static bool model_1g_ok(struct model *m, unsigned long s,
				    unsigned long e)
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
static unsigned long model_room(struct model *m, unsigned long hint,
				unsigned long len, unsigned long align)
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
static void model_discard(struct model *m, unsigned long s, unsigned long e)
{
	pg_drop(m, s, e);
	ext_cut(m, s, e);
}

static void model_unmap(struct model *m, unsigned long s, unsigned long e)
{
	model_discard(m, s, e);
	vmas_remove(m, s, e);
}

/* What @m holds at the page of @a: NULL for zeros. */
static struct mpage *model_page(struct model *m, unsigned long a)
{
	int i = pg_find(m, a & ~(PAGE - 1));

	return i < 0 ? NULL : m->pg[i].p;
}

/* The page of @a, made writable in the model: a page of a shared extent
 * appears in every address space that shares it. */
static struct mpage *model_page_w(struct slot *sl, unsigned long a)
{
	struct model *m = &sl->m;
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
	for (i = 0; i < nslots; i++) {
		struct model *o = &slots[i]->m;

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

static void model_write(struct slot *sl, unsigned long a, const void *buf,
			unsigned long len)
{
	memcpy(model_page_w(sl, a)->data + (a & (PAGE - 1)), buf, len);
}

/* Move [s, e) of @m by @delta (mremap). */
static void model_move(struct model *m, unsigned long s, unsigned long e,
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
 * fork, in the model: private memory is copied; of a shared mapping, the
 * pages populated at fork are shared from now on (the child maps the same
 * frames), and the others are not (each side populates its own).  This is
 * what the soft MMU does: it has no shmem object behind a shared mapping,
 * unlike Linux.  Which pages are populated is the one thing the model
 * reads from the soft MMU's page table.
 */
static void model_fork(struct slot *parent, struct slot *child)
{
	struct model *pm = &parent->m, *cm = &child->m;
	struct populated pop = { &fork_runs, 0, 0 };
	int i, k;

	memcpy(cm->vma, pm->vma, pm->nvma * sizeof(pm->vma[0]));
	cm->nvma = pm->nvma;
	fork_runs.n = 0;
	fork_runs.overflow = false;
	for (i = 0; i < pm->nvma; i++) {
		if (!(pm->vma[i].flags & UMN_SOFT_MAP_SHARED))
			continue;
		pop.s = pm->vma[i].start;
		pop.e = pm->vma[i].end;
		umn__soft_walk_range(parent->sm, pop.s, pop.e, populated_run,
				     &pop);
	}
	if (fork_runs.overflow)
		harness_fail("model: too many populated runs at fork");
	/* New extents for the populated pages no extent covers yet. */
	for (k = 0; k < fork_runs.n; k++) {
		unsigned long a = fork_runs.start[k], b;

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
	for (i = 0; i < pm->next; i++)
		ext_add(cm, pm->ext[i]);
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

static void model_free_all(struct model *m)
{
	pg_drop(m, 0, ~0UL);
	free(m->pg);
	free(m->ext);
	memset(m, 0, sizeof(*m));
}

/* The oracle: the frame pool's free hook. */

static int secondary(const struct rec *r, unsigned long addr,
		     struct umn_soft_translation *q)
{
	struct umn_regcache_page pg;
	int ret;

	switch (r->kind) {
	case K_MIRROR0:
	case K_MIRROR1:
		return umn_mirror_translate(r->obj, addr, q);
	case K_DEVTLB:
		return umn_devtlb_check(r->obj, addr, q);
	default:
		ret = umn_regcache_check(r->obj, addr, &pg);
		q->frame = pg.frame;
		q->subpage = pg.subpage;
		q->gen = pg.gen;
		q->writable = false;
		q->size = PAGE;
		q->base = addr & ~(PAGE - 1);
		return ret;
	}
}

/* The 4 KiB of the frame that @addr reaches through @t. */
static unsigned long sub_at(const struct umn_soft_translation *t,
			    unsigned long addr)
{
	return (t->size == PAGE ? t->subpage : 0) + (addr - t->base) / PAGE;
}

static void free_hook(void *arg, unsigned long frame, unsigned long gen)
{
	struct umn_soft_translation q;
	int i;

	(void)arg;
	if (frame < MAX_FRAMES && pinned[frame])
		fail("frame %lu freed while the harness pins it", frame);
	for (i = 0; i < nrecs; i++) {
		struct rec *r = &recs[i];

		if (r->frame != frame || r->gen != gen)
			continue;
		if (!secondary(r, r->addr, &q) && q.frame == frame &&
		    q.gen == gen)
			fail("frame %lu freed while the %s maps it at %#lx",
			     frame, kind_names[r->kind], r->addr);
	}
}

static void record(int kind, void *obj, struct slot *sl, unsigned long addr,
		   const struct umn_soft_translation *t)
{
	recs[rec_next] = (struct rec){ kind, obj, sl, addr, t->frame, t->gen };
	rec_next = (rec_next + 1) % MAX_RECS;
	if (nrecs < MAX_RECS)
		nrecs++;
}

static void forget(void *obj)
{
	int i;

	for (i = 0; i < nrecs; i++)
		if (recs[i].obj == obj)
			recs[i].obj = NULL, recs[i].frame = ~0UL;
}

/* The oracle: a secondary's translation is the primary's. */
static void check_rec(const struct rec *r)
{
	struct umn_soft_translation q, p;
	struct mvma *v;
	int ret;

	if (!r->obj || secondary(r, r->addr, &q))
		return;
	ret = umn_soft_lookup(r->slot->sm, r->addr, false, NULL, NULL, &p);
	if (ret)
		fail("the %s maps %#lx to frame %lu/%lu gen %lu, the primary "
		     "nothing (%d)",
		     kind_names[r->kind], r->addr, q.frame, sub_at(&q, r->addr),
		     q.gen, ret);
	if (q.frame != p.frame || sub_at(&q, r->addr) != sub_at(&p, r->addr) ||
	    q.gen != p.gen || (q.writable && !p.writable))
		fail("the %s maps %#lx to frame %lu/%lu gen %lu%s, the "
		     "primary to %lu/%lu gen %lu%s",
		     kind_names[r->kind], r->addr, q.frame, sub_at(&q, r->addr),
		     q.gen, q.writable ? " rw" : "", p.frame,
		     sub_at(&p, r->addr), p.gen, p.writable ? " rw" : "");
	v = vma_at(&r->slot->m, r->addr);
	if (p.writable && !(v && (v->prot & W)))
		fail("the primary maps %#lx writable, in a mapping the model "
		     "says is not",
		     r->addr);
}

/* The checking notifier. */

static struct slot *slot_of_checker(struct umn_notifier *n)
{
	return (struct slot *)((char *)n - offsetof(struct slot, chk.n));
}

static bool isub_invalidate(struct umn_interval_notifier *sub,
			    const struct umn_range *range,
			    unsigned long cur_seq);

static const struct umn_interval_notifier_ops isub_ops = {
	.name = "fuzz-interval",
	.invalidate = isub_invalidate,
};

static const struct umn_notifier_ops spare_ops = { .name = "fuzz-spare" };

/* Did a call from a callback refuse, as documented?  pending/
 * *-from-callback-*: some go through when no interval is being
 * invalidated; true if it did (accepted unless UMN_FUZZ_PENDING=1). */
static bool refused(const char *what, int ret, bool may_pass)
{
	if (ret == -EDEADLK)
		return true;
	if (ret >= 0 && may_pass && !pending)
		return false;
	fail("%s from a callback returned %d, not -EDEADLK", what, ret);
}

/* From a callback of @sl's mm: each call documented to refuse there. */
static void misuse(struct slot *sl)
{
	struct umn_mm *mm = umn_soft_mm_umn(sl->sm);
	int i;

	memset(&sl->chk.spare, 0, sizeof(sl->chk.spare));
	refused("umn_notifier_register",
		umn_notifier_register(&sl->chk.spare, &spare_ops, mm), false);
	refused("umn_notifier_unregister", umn_notifier_unregister(&sl->chk.n),
		false);
	refused("umn_mm_release", umn_mm_release(mm), false);
	for (i = 0; i < 2; i++) {
		if (!sl->mirror[i])
			continue;
		/* pending/mirror-destroy-from-callback-frees */
		if (!refused("umn_mirror_destroy",
			     umn_mirror_destroy(sl->mirror[i]), i == 1)) {
			forget(sl->mirror[i]);
			sl->mirror[i] = NULL;
		}
	}
	if (sl->tlb)
		refused("umn_devtlb_destroy", umn_devtlb_destroy(sl->tlb),
			false);
	/* pending/regcache-reap-from-callback-unpins */
	if (sl->rc)
		refused("umn_regcache_reap", umn_regcache_reap(sl->rc), true);
}

static int chk_start(struct umn_notifier *n, const struct umn_range *r)
{
	struct slot *sl = slot_of_checker(n);
	struct checker *c = &sl->chk;
	int i, ret;

	if (c->released)
		fail("checker: start after release");
	if ((r->start | r->end) & (PAGE - 1) || r->start >= r->end ||
	    r->end > UMN_SOFT_TASK_SIZE)
		fail("checker: bad range [%#lx, %#lx)", r->start, r->end);
	if (c->nopen == 16)
		fail("checker: 16 brackets open");
	c->open[c->nopen] = r;
	c->copy[c->nopen++] = *r;
	if (c->nlog < MAX_LOG) {
		c->log_start[c->nlog] = r->start;
		c->log_end[c->nlog++] = r->end;
	} else {
		c->log_lost = true;
	}
	if (c->misuse) {
		c->misuse = false;
		misuse(sl);
	}
	if (c->defer) {
		struct isub *s = &sl->sub[c->defer - 1];

		c->defer = 0;
		/* (An insert since the op that asked may have taken it.) */
		if (!s->inserted) {
			s->count = s->snap = 0;
			s->reading = false;
			ret = umn_interval_notifier_insert(
				&s->sub, umn_soft_mm_umn(sl->sm), s->start,
				s->last - s->start + 1, &isub_ops);
			if (ret)
				fail("checker: insert from a callback: %d",
				     ret);
			s->inserted = s->fresh = true;
		}
		for (i = 0; i < MAX_SUBS; i++) {
			if (&sl->sub[i] == s || !sl->sub[i].inserted)
				continue;
			/* pending/remove-from-callback-succeeds: the header
			 * says -EDEADLK; the core removes it when no interval
			 * is being invalidated (a lock-free bracket). */
			ret = umn_interval_notifier_remove(&sl->sub[i].sub);
			if (ret == 0 && !pending)
				sl->sub[i].inserted = false;
			else if (ret != -EDEADLK)
				fail("checker: remove from a callback: %d",
				     ret);
		}
	}
	return 0;
}

static void chk_end(struct umn_notifier *n, const struct umn_range *r)
{
	struct checker *c = &slot_of_checker(n)->chk;
	int i;

	for (i = c->nopen - 1; i >= 0; i--)
		if (c->open[i] == r)
			break;
	if (i < 0)
		fail("checker: end [%#lx, %#lx) without a start", r->start,
		     r->end);
	if (c->copy[i].start != r->start || c->copy[i].end != r->end ||
	    c->copy[i].event != r->event)
		fail("checker: end [%#lx, %#lx) event %d, started as [%#lx, "
		     "%#lx) event %d",
		     r->start, r->end, r->event, c->copy[i].start,
		     c->copy[i].end, c->copy[i].event);
	memmove(&c->open[i], &c->open[i + 1],
		(c->nopen - i - 1) * sizeof(c->open[0]));
	memmove(&c->copy[i], &c->copy[i + 1],
		(c->nopen - i - 1) * sizeof(c->copy[0]));
	c->nopen--;
}

static void chk_invalidate_range(struct umn_notifier *n, struct umn_mm *mm,
				 unsigned long start, unsigned long end)
{
	struct checker *c = &slot_of_checker(n)->chk;
	int i;

	(void)mm;
	for (i = 0; i < c->nopen; i++)
		if (c->copy[i].start <= start && end <= c->copy[i].end)
			return;
	fail("checker: invalidate_range [%#lx, %#lx) outside every open "
	     "bracket",
	     start, end);
}

static void chk_change_pte(struct umn_notifier *n, struct umn_mm *mm,
			   unsigned long address, unsigned long pte)
{
	(void)pte;
	chk_invalidate_range(n, mm, address, address + PAGE);
}

static void chk_release(struct umn_notifier *n, struct umn_mm *mm)
{
	struct checker *c = &slot_of_checker(n)->chk;

	(void)mm;
	if (c->released)
		fail("checker: released twice");
	c->released = true;
}

static const struct umn_notifier_ops chk_ops = {
	.name = "fuzz-checker",
	.release = chk_release,
	.invalidate_range_start = chk_start,
	.invalidate_range_end = chk_end,
	.invalidate_range = chk_invalidate_range,
	.change_pte = chk_change_pte,
};

static bool isub_invalidate(struct umn_interval_notifier *sub,
			    const struct umn_range *range,
			    unsigned long cur_seq)
{
	struct isub *s = (struct isub *)sub; /* the first member */

	if (range->end <= s->start || range->start > s->last)
		fail("interval [%#lx, %#lx] invalidated by [%#lx, %#lx)",
		     s->start, s->last, range->start, range->end);
	umn_interval_set_seq(sub, cur_seq);
	s->count++;
	return true;
}

/* The registration cache pins through the soft MMU; a race runs one
 * primary operation between the pin and the publish. */

static void do_op(struct slot *sl, int depth);

static int fuzz_pin(void *arg, unsigned long addr, unsigned long npages,
		    bool write, struct umn_regcache_page *pages)
{
	struct slot *sl = inject_slot;
	int ret = umn_regcache_soft_ops.pin(arg, addr, npages, write, pages);

	if (!ret && inject_op) {
		inject_op = 0;
		do_op(sl, 1);
	}
	return ret;
}

static void fuzz_unpin(void *arg, unsigned long npages,
		       const struct umn_regcache_page *pages)
{
	umn_regcache_soft_ops.unpin(arg, npages, pages);
}

static const struct umn_regcache_ops fuzz_rc_ops = { fuzz_pin, fuzz_unpin };

/* Operations. */

enum {
	OP_MMAP,
	OP_MMAP_ANY,
	OP_MMAP_1G,
	OP_MUNMAP,
	OP_MPROTECT,
	OP_MREMAP,
	OP_DONTNEED,
	OP_FAULT,
	OP_POPULATE,
	OP_WRITE,
	OP_READ,
	OP_SPLIT,
	OP_COLLAPSE,
	OP_MIGRATE,
	OP_RECLAIM,
	OP_CLEAN,
	OP_KSM,
	OP_AGE,
	OP_PRIMARY, /* the ones above are the primary's */
	OP_FORK = OP_PRIMARY,
	OP_DESTROY,
	OP_PIN,
	OP_UNPIN,
	OP_MIRROR_CREATE,
	OP_MIRROR_DESTROY,
	OP_MIRROR_FAULT,
	OP_MIRROR_RACE,
	OP_DEVTLB_CREATE,
	OP_DEVTLB_DESTROY,
	OP_DEVTLB_ACCESS,
	OP_RC_CREATE,
	OP_RC_DESTROY,
	OP_RC_REGISTER,
	OP_RC_RELEASE,
	OP_RC_LOOKUP,
	OP_CHECKER,
	OP_SUB_INSERT,
	OP_SUB_REMOVE,
	OP_SUB_READ,
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"mmap",		 "mmap-any",	"mmap-1g",	 "munmap",
	"mprotect",	 "mremap",	"dontneed",	 "fault",
	"populate",	 "write",	"read",		 "split",
	"collapse",	 "migrate",	"reclaim",	 "clean",
	"ksm",		 "age",		"fork",		 "destroy",
	"pin",		 "unpin",	"mirror-create", "mirror-destroy",
	"mirror-fault",	 "mirror-race", "devtlb-create", "devtlb-destroy",
	"devtlb-access", "rc-create",	"rc-destroy",	 "rc-register",
	"rc-release",	 "rc-lookup",	"checker",	 "sub-insert",
	"sub-remove",	 "sub-read"
};

static bool tracing; /* UMN_FUZZ_TRACE=1: each call on stderr */

static void expect(const char *what, int got, int want)
{
	if (tracing)
		fprintf(stderr, "  %s: %d (model: %d)\n", what, got, want);
	if (got != want)
		fail("%s returned %d, the model expects %d", what, got, want);
}

static void expect_in(const char *what, int got, const int *ok, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (got == ok[i])
			return;
	fail("%s returned %d, not one of its documented results", what, got);
}

static int expect_access(struct model *m, unsigned long a, bool write)
{
	struct mvma *v = vma_at(m, a);

	if (!v)
		return -EFAULT;
	if (!(v->prot & R) || (write && !(v->prot & W)))
		return -EACCES;
	return 0;
}

/* Read the page of @a through the CPU and compare it with the model. */
static void verify_page(struct slot *sl, unsigned long a)
{
	static unsigned char buf[PAGE];
	static const unsigned char zero[PAGE];
	unsigned long page = a & ~(PAGE - 1);
	struct mpage *p;
	int ret, i;

	if (expect_access(&sl->m, page, false))
		return;
	if (!faults_left && op_index >= 0)
		return;
	if (faults_left)
		faults_left--;
	ret = umn_soft_read(sl->sm, page, buf, PAGE);
	expect("umn_soft_read", ret, 0);
	p = model_page(&sl->m, page);
	if (!memcmp(buf, p ? p->data : zero, PAGE))
		return;
	for (i = 0; i < (int)PAGE && buf[i] == (p ? p->data[i] : 0); i++)
		;
	fail("data at %#lx: reads %#x, the model says %#x", page + i, buf[i],
	     p ? p->data[i] : 0);
}

/* A device access through a secondary's translation @t of @a, checked
 * against the primary first (a stale frame may be freed memory). */
static void device_access(struct slot *sl, int kind, void *obj, unsigned long a,
			  bool write, const struct umn_soft_translation *t)
{
	struct rec r = { kind, obj, sl, a, t->frame, t->gen };
	unsigned long v = ++stamp, got;
	unsigned long off = (a & (PAGE - 1)) & ~7UL;
	struct mpage *p;

	record(kind, obj, sl, a, t);
	check_rec(&r);
	if (off > PAGE - 8)
		off = PAGE - 8;
	if (write && t->writable) {
		umn_soft_frame_write(frames, t->frame, sub_at(t, a), off, &v,
				     8);
		model_write(sl, (a & ~(PAGE - 1)) + off, &v, 8);
		return;
	}
	umn_soft_frame_read(frames, t->frame, sub_at(t, a), off, &got, 8);
	p = model_page(&sl->m, a);
	v = 0;
	if (p)
		memcpy(&v, p->data + off, 8);
	if (got != v)
		fail("the %s reads %#lx at %#lx, the model says %#lx",
		     kind_names[kind], got, (a & ~(PAGE - 1)) + off, v);
}

static void op_mmap(struct slot *sl, int op)
{
	unsigned long a, len, got = 0, hint;
	int prot, flags, ret, want;
	unsigned int f;

	if (op == OP_MMAP_1G) {
		f = u8();
		a = BASE + PUD * (1 + (f & 1));
		len = PUD;
		prot = (int)(f >> 1) & 3;
		flags = UMN_SOFT_MAP_HUGE_1G | UMN_SOFT_MAP_FIXED |
			(f & 8 ? 0 : UMN_SOFT_MAP_SHARED);
		if (f & 16) { /* anywhere */
			flags &= ~UMN_SOFT_MAP_FIXED;
			a = 0;
		}
	} else {
		a = dec_addr();
		len = dec_len();
		f = u8();
		prot = (int)f & 3;
		flags = (f & 4 ? UMN_SOFT_MAP_SHARED : 0) |
			(f & 8 ? UMN_SOFT_MAP_THP : 0);
		if (op == OP_MMAP)
			flags |= UMN_SOFT_MAP_FIXED;
		else if (f & 16)
			a = 0;
	}
	if (len > PUD && op != OP_MMAP_1G)
		len = PUD; /* keep the address space small */
	if (op == OP_MMAP_1G && !pending) {
		unsigned long d = flags & UMN_SOFT_MAP_FIXED
					  ? a
					  : model_room(&sl->m, 0, PUD, PUD);

		if (holds_table(sl->sm, d, d + PUD, 2))
			return;
	}
	hint = a;
	ret = umn_soft_mmap(sl->sm, a, len, prot, flags, &got);
	if (tracing)
		fprintf(stderr, "  mmap(%#lx, %#lx, %d, %#x) = %d, %#lx\n", a,
			len, prot, flags, ret, got);
	if (op == OP_MMAP_1G && !(flags & UMN_SOFT_MAP_SHARED))
		want = -EINVAL;
	else if ((flags & UMN_SOFT_MAP_FIXED) &&
		 !model_1g_ok(&sl->m, a, a + len))
		want = -EINVAL;
	else
		want = 0;
	expect("umn_soft_mmap", ret, want);
	if (ret)
		return;
	if (!(flags & UMN_SOFT_MAP_FIXED)) {
		a = model_room(&sl->m, hint, len,
			       flags & UMN_SOFT_MAP_HUGE_1G ? PUD
			       : flags & UMN_SOFT_MAP_THP   ? PMD
							    : PAGE);
		if (got != a)
			fail("umn_soft_mmap placed %#lx at %#lx, the model "
			     "at %#lx",
			     len, got, a);
	} else if (got != a) {
		fail("umn_soft_mmap(FIXED %#lx) mapped %#lx", a, got);
	}
	model_unmap(&sl->m, a, a + len);
	vmas_insert(&sl->m, a, a + len, prot, flags & ~UMN_SOFT_MAP_FIXED);
}

static void op_munmap(struct slot *sl)
{
	unsigned long a = dec_addr(), len = dec_len();
	int ret = umn_soft_munmap(sl->sm, a, len);

	expect("umn_soft_munmap", ret,
	       model_1g_ok(&sl->m, a, a + len) ? 0 : -EINVAL);
	if (!ret)
		model_unmap(&sl->m, a, a + len);
}

static int expect_range(struct model *m, unsigned long a, unsigned long len)
{
	if (!model_mapped(m, a, a + len))
		return -ENOMEM;
	return model_1g_ok(m, a, a + len) ? 0 : -EINVAL;
}

static void op_mprotect(struct slot *sl)
{
	unsigned long a = dec_addr(), len = dec_len();
	int prot = (int)u8() & 3, ret, i, n = 0, kinds = 0;
	struct mvma piece[MAX_VMAS];

	/* pending/mprotect-shared-private-cow: a range over shared and
	 * private mappings makes private copy-on-write pages writable. */
	for (i = 0; i < sl->m.nvma; i++)
		if (sl->m.vma[i].end > a && sl->m.vma[i].start < a + len)
			kinds |= sl->m.vma[i].flags & UMN_SOFT_MAP_SHARED ? 1
									  : 2;
	if (kinds == 3 && (prot & W) && !pending)
		return;
	ret = umn_soft_mprotect(sl->sm, a, len, prot);
	expect("umn_soft_mprotect", ret, expect_range(&sl->m, a, len));
	if (ret)
		return;
	for (i = 0; i < sl->m.nvma; i++) {
		struct mvma v = sl->m.vma[i];

		if (v.end <= a || v.start >= a + len)
			continue;
		piece[n++] = (struct mvma){ v.start > a ? v.start : a,
					    v.end < a + len ? v.end : a + len,
					    prot, v.flags };
	}
	for (i = 0; i < n; i++)
		vmas_insert(&sl->m, piece[i].start, piece[i].end, prot,
			    piece[i].flags);
}

static void op_dontneed(struct slot *sl)
{
	unsigned long a = dec_addr(), len = dec_len();
	int ret = umn_soft_madvise_dontneed(sl->sm, a, len);

	expect("umn_soft_madvise_dontneed", ret, expect_range(&sl->m, a, len));
	if (!ret)
		model_discard(&sl->m, a, a + len);
}

static void op_mremap(struct slot *sl)
{
	unsigned long a = dec_addr(), old = dec_len(), new = dec_len();
	int flags = u8() & 1 ? UMN_SOFT_MREMAP_MAYMOVE : 0, ret, want;
	unsigned long got = 0, oend, align = PAGE, na;
	struct mvma *v, c;
	bool alike;

	oend = a + old;
	v = vma_at(&sl->m, a);
	alike = v && v->end >= oend;
	if (alike && !pending && new > old &&
	    (v->flags & (UMN_SOFT_MAP_THP | UMN_SOFT_MAP_HUGE_1G))) {
		unsigned long d = oend, de = a + new;
		unsigned int level = v->flags & UMN_SOFT_MAP_HUGE_1G ? 2 : 1;

		if (v->end != oend || !model_free(&sl->m, oend, a + new)) {
			align = LEVEL_SIZE(level);
			d = model_room(&sl->m, 0, new + (a & (align - 1)),
				       align) +
			    (a & (align - 1));
			de = d + new;
			align = PAGE;
		}
		if (holds_table(sl->sm, d, de, level))
			return;
	}
	ret = umn_soft_mremap(sl->sm, a, old, new, flags, &got);
	if (tracing)
		fprintf(stderr, "  mremap(%#lx, %#lx, %#lx, %d) = %d, %#lx\n",
			a, old, new, flags, ret, got);
	if (!alike) {
		expect("umn_soft_mremap", ret, -EFAULT);
		return;
	}
	c = *v;
	if ((c.flags & UMN_SOFT_MAP_HUGE_1G) && ((a | old | new) & (PUD - 1))) {
		expect("umn_soft_mremap", ret, -EINVAL);
		return;
	}
	/* The soft MMU's VMAs may not be merged where the model's are: its
	 * mremap may then find "not one mapping". */
	if (ret == -EFAULT)
		return;
	if (new <= old) {
		expect("umn_soft_mremap", ret, 0);
		if (got != a)
			fail("mremap shrink moved %#lx to %#lx", a, got);
		model_unmap(&sl->m, a + new, oend);
		return;
	}
	if (c.end == oend && model_free(&sl->m, oend, a + new)) {
		expect("umn_soft_mremap", ret, 0);
		if (got != a)
			fail("mremap grow in place moved %#lx to %#lx", a, got);
		vmas_insert(&sl->m, a, a + new, c.prot, c.flags);
		return;
	}
	want = flags ? 0 : -ENOMEM;
	expect("umn_soft_mremap", ret, want);
	if (ret)
		return;
	if (c.flags & UMN_SOFT_MAP_THP)
		align = PMD;
	if (c.flags & UMN_SOFT_MAP_HUGE_1G)
		align = PUD;
	na = model_room(&sl->m, 0, new + (a & (align - 1)), align) +
	     (a & (align - 1));
	if (got != na)
		fail("mremap moved %#lx to %#lx, the model to %#lx", a, got,
		     na);
	model_move(&sl->m, a, oend, na - a);
	vmas_remove(&sl->m, a, oend);
	vmas_insert(&sl->m, na, na + new, c.prot, c.flags);
}

static void op_fault(struct slot *sl, int op)
{
	unsigned long a = dec_addr(), n = 1, i;
	unsigned int f = u8();
	bool write = f & 1;
	int ret;

	if (op == OP_POPULATE)
		n = 1 + u16() % 512;
	for (i = 0; i < n && faults_left; i++, faults_left--) {
		ret = umn_soft_fault(sl->sm, a + i * PAGE, write);
		expect("umn_soft_fault", ret,
		       expect_access(&sl->m, a + i * PAGE, write));
	}
}

static void op_write(struct slot *sl)
{
	unsigned long a = dec_addr(), off = u16() & (PAGE - 1);
	unsigned int len = 1 + u8() % 64, i;
	unsigned char buf[64];
	int ret;

	if (off + len > PAGE)
		off = PAGE - len;
	stamp++;
	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(stamp * 31 + i + 1);
	if (!faults_left)
		return;
	faults_left--;
	ret = umn_soft_write(sl->sm, a + off, buf, len);
	expect("umn_soft_write", ret, expect_access(&sl->m, a, true));
	if (!ret)
		model_write(sl, a + off, buf, len);
}

static void op_read(struct slot *sl)
{
	unsigned long a = dec_addr();
	unsigned char b;
	int ret;

	if (expect_access(&sl->m, a, false)) {
		ret = umn_soft_read(sl->sm, a, &b, 1);
		expect("umn_soft_read", ret, expect_access(&sl->m, a, false));
		return;
	}
	verify_page(sl, a);
}

/* The operations that keep the data as it is. */
static void op_keep(struct slot *sl, int op)
{
	static const int split_ok[] = { 0, -EINVAL };
	static const int collapse_ok[] = { 0, -EINVAL, -EBUSY };
	static const int migrate_ok[] = { 0, -EFAULT, -EBUSY, -EAGAIN };
	static const int reclaim_ok[] = { 0, -EFAULT, -EBUSY };
	static const int clean_ok[] = { 0, -EFAULT };
	static const int ksm_ok[] = { 0, -EFAULT, -EINVAL, -EAGAIN, -EBUSY };
	unsigned long a = dec_addr(), b = 0, len;
	struct slot *other = NULL;
	int ret, how;

	switch (op) {
	case OP_SPLIT:
		ret = umn_soft_thp_split(sl->sm, a);
		expect_in("umn_soft_thp_split", ret, split_ok, 2);
		break;
	case OP_COLLAPSE:
		ret = umn_soft_thp_collapse(sl->sm, a);
		expect_in("umn_soft_thp_collapse", ret, collapse_ok, 3);
		break;
	case OP_MIGRATE:
		ret = umn_soft_migrate(sl->sm, a);
		expect_in("umn_soft_migrate", ret, migrate_ok, 4);
		if (!vma_at(&sl->m, a))
			expect("umn_soft_migrate", ret, -EFAULT);
		break;
	case OP_RECLAIM:
		ret = umn_soft_reclaim(sl->sm, a);
		expect_in("umn_soft_reclaim", ret, reclaim_ok, 3);
		if (!vma_at(&sl->m, a))
			expect("umn_soft_reclaim", ret, -EFAULT);
		break;
	case OP_CLEAN:
		ret = umn_soft_clean(sl->sm, a);
		expect_in("umn_soft_clean", ret, clean_ok, 2);
		if (!vma_at(&sl->m, a))
			expect("umn_soft_clean", ret, -EFAULT);
		break;
	case OP_KSM:
		other = slots[u8() % nslots];
		b = dec_addr();
		ret = umn_soft_ksm_merge(sl->sm, a, other->sm, b);
		expect_in("umn_soft_ksm_merge", ret, ksm_ok, 5);
		break;
	default:
		len = dec_len();
		how = (int)(u8() % 3);
		ret = umn_soft_age(sl->sm, a, len, how);
		if (ret < 0)
			fail("umn_soft_age returned %d", ret);
		break;
	}
	verify_page(sl, a);
	if (other)
		verify_page(other, b);
}

static struct slot *new_slot(void)
{
	struct slot *sl;

	if (nslots == MAX_MMS)
		return NULL;
	sl = calloc(1, sizeof(*sl));
	if (!sl)
		abort();
	slots[nslots++] = sl;
	return sl;
}

static void op_fork(struct slot *sl)
{
	struct slot *child = new_slot();
	int ret;

	if (!child)
		return;
	ret = umn_soft_fork(sl->sm, &child->sm);
	expect("umn_soft_fork", ret, 0);
	model_fork(sl, child);
}

static void pin_release_handles(struct slot *sl);

static void destroy_consumers(struct slot *sl)
{
	int i, ret;

	for (i = 0; i < 2; i++) {
		if (!sl->mirror[i])
			continue;
		forget(sl->mirror[i]);
		ret = umn_mirror_destroy(sl->mirror[i]);
		expect("umn_mirror_destroy", ret, 0);
		sl->mirror[i] = NULL;
	}
	if (sl->tlb) {
		forget(sl->tlb);
		expect("umn_devtlb_destroy", umn_devtlb_destroy(sl->tlb), 0);
		sl->tlb = NULL;
	}
	if (sl->rc) {
		pin_release_handles(sl);
		forget(sl->rc);
		expect("umn_regcache_destroy", umn_regcache_destroy(sl->rc), 0);
		sl->rc = NULL;
	}
	for (i = 0; i < MAX_SUBS; i++) {
		if (!sl->sub[i].inserted)
			continue;
		expect("umn_interval_notifier_remove",
		       umn_interval_notifier_remove(&sl->sub[i].sub), 0);
		sl->sub[i].inserted = false;
	}
	if (sl->chk.registered) {
		expect("umn_notifier_unregister",
		       umn_notifier_unregister(&sl->chk.n), 0);
		if (!sl->chk.released)
			fail("checker: unregister did not release");
		sl->chk.registered = false;
	}
}

static void destroy_slot(int idx, bool mm_first)
{
	struct slot *sl = slots[idx];
	int i;

	/* The harness's pins stay: they keep their frames, mm or not. */
	if (mm_first) {
		/* The regcache's handles go first: it unpins on release. */
		if (sl->rc)
			pin_release_handles(sl);
		umn_soft_mm_destroy(sl->sm);
		if (sl->chk.registered && !sl->chk.released)
			fail("checker: not released by the mm's teardown");
	}
	destroy_consumers(sl);
	if (!mm_first)
		umn_soft_mm_destroy(sl->sm);
	model_free_all(&sl->m);
	for (i = 0; i < nrecs; i++)
		if (recs[i].slot == sl)
			recs[i].obj = NULL;
	free(sl);
	slots[idx] = slots[--nslots];
}

static void op_pin(struct slot *sl)
{
	unsigned long a = dec_addr();
	bool write = u8() & 1;
	struct umn_soft_translation t;
	int ret;

	if (npins == MAX_PINS)
		return;
	ret = umn_soft_pin(sl->sm, a, write, &t);
	expect("umn_soft_pin", ret, expect_access(&sl->m, a, write));
	if (ret)
		return;
	if (t.frame >= MAX_FRAMES)
		fail("frame %lu out of range", t.frame);
	pinned[t.frame]++;
	pins[npins++] = t.frame;
}

static void op_unpin(void)
{
	unsigned int i = u8();

	if (!npins)
		return;
	i %= (unsigned int)npins;
	pinned[pins[i]]--;
	umn_soft_unpin(frames, pins[i]);
	pins[i] = pins[--npins];
}

static void op_mirror(struct slot *sl, int op)
{
	unsigned int f = u8(), which = f & 1;
	struct umn_mirror *m = sl->mirror[which];
	struct umn_soft_translation t;
	unsigned long a, seq;
	bool write;
	int ret, want;

	switch (op) {
	case OP_MIRROR_CREATE:
		if (m)
			return;
		ret = umn_mirror_create(
			sl->sm, BASE, WIN,
			(which ? UMN_MIRROR_INTERVAL : UMN_MIRROR_CLASSIC) |
				(f & 2 ? UMN_MIRROR_SPLIT_HUGE : 0) |
				(planted_break == 3 ? UMN_MIRROR_BREAK_RETRY
						    : 0),
			&sl->mirror[which]);
		expect("umn_mirror_create", ret, 0);
		return;
	case OP_MIRROR_DESTROY:
		if (!m)
			return;
		forget(m);
		expect("umn_mirror_destroy", umn_mirror_destroy(m), 0);
		sl->mirror[which] = NULL;
		return;
	}
	a = dec_addr();
	write = f & 4;
	if (!m)
		return;
	want = a >= BASE + WIN ? -EINVAL : expect_access(&sl->m, a, write);
	if (op == OP_MIRROR_FAULT) {
		if (!faults_left)
			return;
		faults_left--;
		ret = umn_mirror_fault(m, a, write);
		if (ret > 0)
			fail("umn_mirror_fault retried %d times alone", ret);
		expect("umn_mirror_fault", ret, want);
	} else {
		/* The race: an operation between lookup and install. */
		if (want)
			return;
		seq = umn_mirror_read_begin(m);
		ret = umn_soft_lookup(sl->sm, a, write, NULL, NULL, &t);
		if (ret)
			return;
		do_op(sl, 1);
		ret = umn_mirror_install(m, a, seq, &t);
		if (ret && ret != -EAGAIN)
			fail("umn_mirror_install returned %d", ret);
		if (ret)
			return;
	}
	if (ret)
		return;
	ret = umn_mirror_translate(m, a, &t);
	expect("umn_mirror_translate", ret, 0);
	device_access(sl, K_MIRROR0 + (int)which, m, a, write, &t);
}

static void op_devtlb(struct slot *sl, int op)
{
	unsigned int f = u8();
	struct umn_soft_translation t;
	unsigned long a;
	bool write = f & 1;
	int ret;

	switch (op) {
	case OP_DEVTLB_CREATE:
		if (sl->tlb)
			return;
		ret = umn_devtlb_create(sl->sm, 1 + (f >> 1) % 64, 0, &sl->tlb);
		expect("umn_devtlb_create", ret, 0);
		return;
	case OP_DEVTLB_DESTROY:
		if (!sl->tlb)
			return;
		forget(sl->tlb);
		expect("umn_devtlb_destroy", umn_devtlb_destroy(sl->tlb), 0);
		sl->tlb = NULL;
		return;
	}
	a = dec_addr();
	if (!sl->tlb || !faults_left)
		return;
	faults_left--;
	ret = umn_devtlb_translate(sl->tlb, a, write, &t);
	if (ret == 1)
		ret = 0;
	expect("umn_devtlb_translate", ret, expect_access(&sl->m, a, write));
	if (!ret)
		device_access(sl, K_DEVTLB, sl->tlb, a, write, &t);
}

/* The harness's count of the pins under @h's pages. */
static void hold(struct umn_regcache_handle *h, int delta)
{
	unsigned long i;

	for (i = 0; i < h->len / PAGE; i++) {
		if (h->pages[i].frame >= MAX_FRAMES)
			fail("frame %lu out of range", h->pages[i].frame);
		pinned[h->pages[i].frame] += delta;
	}
}

static void pin_release_handles(struct slot *sl)
{
	while (sl->nh) {
		struct umn_regcache_handle *h = sl->h[--sl->nh];

		hold(h, -1);
		expect("umn_regcache_release", umn_regcache_release(h), 0);
	}
}

/* A handle's pages are the primary's while it is valid. */
static void check_handle(struct slot *sl, struct umn_regcache_handle *h)
{
	unsigned long i;

	if (!umn_regcache_valid(h))
		return;
	for (i = 0; i < h->len / PAGE; i++) {
		struct umn_soft_translation q = {
			h->pages[i].frame,   h->pages[i].gen,
			h->addr + i * PAGE,  PAGE,
			h->pages[i].subpage, false
		};

		record(K_REGCACHE, sl->rc, sl, h->addr + i * PAGE, &q);
	}
}

/*
 * The device uses a valid registration @h: each page is the primary's
 * (writable, if pinned for writing); it reads the first page, or writes
 * it if pinned for writing, and the model follows.
 */
static void rc_device(struct slot *sl, struct umn_regcache_handle *h)
{
	unsigned long i, v = ++stamp, got, a;
	struct umn_soft_translation p;
	struct mpage *mp;
	int ret;

	if (!umn_regcache_valid(h))
		return;
	for (i = 0; i < h->len / PAGE; i++) {
		a = h->addr + i * PAGE;
		ret = umn_soft_lookup(sl->sm, a, false, NULL, NULL, &p);
		if (ret || p.frame != h->pages[i].frame ||
		    sub_at(&p, a) != h->pages[i].subpage ||
		    p.gen != h->pages[i].gen || (h->write && !p.writable))
			fail("a valid registration maps %#lx to frame %lu/%lu "
			     "gen %lu%s, the primary to %lu/%lu gen %lu%s (%d)",
			     a, h->pages[i].frame, h->pages[i].subpage,
			     h->pages[i].gen, h->write ? " rw" : "",
			     ret ? 0 : p.frame, ret ? 0 : sub_at(&p, a),
			     ret ? 0 : p.gen, !ret && p.writable ? " rw" : "",
			     ret);
	}
	if (h->write) {
		umn_soft_frame_write(frames, h->pages[0].frame,
				     h->pages[0].subpage, 8, &v, 8);
		model_write(sl, h->addr + 8, &v, 8);
		return;
	}
	umn_soft_frame_read(frames, h->pages[0].frame, h->pages[0].subpage, 8,
			    &got, 8);
	mp = model_page(&sl->m, h->addr);
	v = 0;
	if (mp)
		memcpy(&v, mp->data + 8, 8);
	if (got != v)
		fail("the regcache reads %#lx at %#lx, the model says %#lx",
		     got, h->addr + 8, v);
}

static void op_rc(struct slot *sl, int op)
{
	unsigned int f = u8();
	struct umn_regcache_handle *h;
	unsigned long a, len;
	bool write = f & 1;
	int ret, want, i;

	switch (op) {
	case OP_RC_CREATE:
		if (sl->rc)
			return;
		sl->rcs.sm = sl->sm;
		sl->rcs.frames = frames;
		ret = umn_regcache_create(
			sl->sm->mm, &fuzz_rc_ops, &sl->rcs,
			planted_break == 3 ? UMN_REGCACHE_BREAK_RETRY : 0,
			&sl->rc);
		expect("umn_regcache_create", ret, 0);
		return;
	case OP_RC_DESTROY:
		if (!sl->rc)
			return;
		pin_release_handles(sl);
		forget(sl->rc);
		expect("umn_regcache_destroy", umn_regcache_destroy(sl->rc), 0);
		sl->rc = NULL;
		return;
	case OP_RC_RELEASE:
		if (!sl->nh)
			return;
		i = (int)((f >> 1) % (unsigned int)sl->nh);
		h = sl->h[i];
		hold(h, -1);
		expect("umn_regcache_release", umn_regcache_release(h), 0);
		sl->nh--;
		sl->h[i] = sl->h[sl->nh];
		return;
	}
	a = dec_addr();
	len = (1 + (f >> 2) % 8) * PAGE;
	if (!sl->rc || sl->nh == MAX_HANDLES)
		return;
	if (op == OP_RC_LOOKUP) {
		ret = umn_regcache_lookup(sl->rc, a, len, write, &h);
		if (ret == -ENOENT)
			return;
		expect("umn_regcache_lookup", ret, 0);
		if (!umn_regcache_valid(h))
			fail("umn_regcache_lookup returned an invalid "
			     "registration");
	} else {
		unsigned long p;

		want = 0;
		for (p = a; p < a + len && !want; p += PAGE)
			want = expect_access(&sl->m, p, write);
		inject_op = f & 2;
		inject_slot = sl;
		ret = umn_regcache_register(sl->rc, a, len, write, &h);
		inject_op = 0;
		/* The injected operation may have changed the mappings. */
		if (ret && ret != want && (f & 2))
			return;
		if (!(f & 2))
			expect("umn_regcache_register", ret, want);
		if (ret)
			return;
	}
	if (h->addr > a || h->addr + h->len < a + len)
		fail("a handle [%#lx, +%#lx) for [%#lx, +%#lx)", h->addr,
		     h->len, a, len);
	hold(h, 1);
	sl->h[sl->nh++] = h;
	check_handle(sl, h);
	for (i = 0; i < nrecs; i++)
		if (recs[i].obj == sl->rc)
			check_rec(&recs[i]);
	rc_device(sl, h);
}

static void op_checker(struct slot *sl)
{
	unsigned int f = u8();
	struct checker *c = &sl->chk;
	int ret;

	if (f & 0x80) {
		c->misuse = c->registered;
		return;
	}
	if (f & 1) {
		/* Insert an interval notifier from inside the next start. */
		int i = (int)((f >> 1) % MAX_SUBS);
		unsigned long a = dec_addr(), len = dec_len();

		if (c->registered && !sl->sub[i].inserted) {
			sl->sub[i].start = a;
			sl->sub[i].last = a + len - 1;
			c->defer = i + 1;
		}
		return;
	}
	if (c->registered) {
		ret = umn_notifier_unregister(&c->n);
		expect("umn_notifier_unregister", ret, 0);
		if (!c->released)
			fail("checker: unregister did not release");
		c->registered = false;
		return;
	}
	memset(c, 0, sizeof(*c));
	ret = umn_notifier_register(&c->n, &chk_ops, sl->sm->mm);
	expect("umn_notifier_register", ret, 0);
	c->registered = true;
}

static void op_sub(struct slot *sl, int op)
{
	unsigned int f = u8();
	struct isub *s = &sl->sub[f % MAX_SUBS];
	unsigned long a, len;
	int ret;

	switch (op) {
	case OP_SUB_INSERT:
		a = dec_addr();
		len = dec_len();
		if (s->inserted)
			return;
		memset(s, 0, sizeof(*s));
		s->start = a;
		s->last = a + len - 1;
		ret = umn_interval_notifier_insert(&s->sub, sl->sm->mm, a, len,
						   &isub_ops);
		expect("umn_interval_notifier_insert", ret, 0);
		s->inserted = true;
		return;
	case OP_SUB_REMOVE:
		if (!s->inserted)
			return;
		ret = umn_interval_notifier_remove(&s->sub);
		expect("umn_interval_notifier_remove", ret, 0);
		s->inserted = false;
		return;
	default:
		if (!s->inserted)
			return;
		s->seq = umn_interval_read_begin(&s->sub);
		s->seq_count = s->count;
		s->reading = true;
		return;
	}
}

/* After each operation. */

static void check_slot(struct slot *sl)
{
	struct checker *c = &sl->chk;
	int i, j;

	if (c->registered && c->nopen)
		fail("checker: %d brackets left open", c->nopen);
	for (i = 0; i < MAX_SUBS; i++) {
		struct isub *s = &sl->sub[i];
		unsigned long want = 0;

		if (!s->inserted)
			continue;
		if (s->reading && umn_interval_read_retry(&s->sub, s->seq) !=
					  (s->count != s->seq_count))
			fail("interval [%#lx, %#lx]: read_retry says %d after "
			     "%lu invalidations",
			     s->start, s->last,
			     umn_interval_read_retry(&s->sub, s->seq),
			     s->count - s->seq_count);
		if (c->registered && !c->log_lost && !s->fresh) {
			for (j = 0; j < c->nlog; j++)
				want += c->log_start[j] <= s->last &&
					s->start < c->log_end[j];
			if (s->count - s->snap != want)
				fail("interval [%#lx, %#lx] invalidated %lu "
				     "times by %lu overlapping brackets",
				     s->start, s->last, s->count - s->snap,
				     want);
		}
		s->fresh = false;
		s->snap = s->count;
	}
	c->nlog = 0;
	c->log_lost = false;
	if (!umn__chain_is_valid(sl->sm->mm))
		fail("umn__chain_is_valid");
	if (!umn__intervals_are_valid(sl->sm->mm))
		fail("umn__intervals_are_valid");
	for (i = 0; i < sl->nh; i++)
		if (sl->h[i]->addr == 0)
			fail("a handle lost its address");
}

/*
 * The soft MMU's structures: every leaf of every page table is in its
 * frame's reverse map; a frame's references are its mappings and its
 * pins; a swap slot's are its swap entries; the page budget adds up.
 */
static int *mapcount;
static unsigned char *mms; /* which address spaces map it, by slot */
static unsigned long *swapcount;

NO_COVERAGE static void count_run(struct umn_soft_mm *sm, struct pt *t,
				  unsigned int level, unsigned int first,
				  unsigned int last, unsigned long base,
				  void *ctx)
{
	unsigned long size = LEVEL_SIZE(level), a, f;
	struct umn_soft_frames *fs = sm->frames;
	struct rmap *r;
	unsigned int i;
	uint64_t e;

	for (i = first; i <= last; i++) {
		e = t->e[i];
		a = base + (i - first) * size;
		if (e_type(e) == E_SWAP) {
			if (e_frame(e) >= fs->nr_swap)
				fail("swap entry at %#lx: slot %lu", a,
				     e_frame(e));
			swapcount[e_frame(e)]++;
			continue;
		}
		if (e_type(e) != E_LEAF)
			continue;
		f = e_frame(e);
		if (!f || f >= fs->next_unused)
			fail("leaf at %#lx: frame %lu", a, f);
		mapcount[f]++;
		mms[f] |= (unsigned char)(1U << (long)ctx);
		for (r = fs->frame[f].rmap; r; r = r->next)
			if (r->sm == sm && r->addr == a)
				break;
		if (!r)
			fail("frame %lu mapped at %#lx, not in its reverse map",
			     f, a);
		if (level && fs->frame[f].order != 9 * level)
			fail("frame %lu of order %u mapped at level %u", f,
			     fs->frame[f].order, level);
		if (!umn__soft_vma_find(sm, a))
			fail("frame %lu mapped at %#lx, outside every VMA", f,
			     a);
	}
}

/* A writable entry: the mapping allows writes; a private one maps a frame
 * no other address space maps, and not a KSM page (copy-on-write). */
NO_COVERAGE static void write_run(struct umn_soft_mm *sm, struct pt *t,
				  unsigned int level, unsigned int first,
				  unsigned int last, unsigned long base,
				  void *ctx)
{
	unsigned long size = LEVEL_SIZE(level), a, f;
	struct vma *v;
	unsigned int i;
	uint64_t e;

	(void)ctx;
	for (i = first; i <= last; i++) {
		e = t->e[i];
		if (e_type(e) != E_LEAF || !(e & E_WRITE))
			continue;
		a = base + (i - first) * size;
		f = e_frame(e);
		v = umn__soft_vma_find(sm, a);
		if (!(v->prot & W))
			fail("a writable entry at %#lx in a mapping without "
			     "PROT_WRITE",
			     a);
		if (v->flags & UMN_SOFT_MAP_SHARED)
			continue;
		if ((mms[f] & (mms[f] - 1)) || sm->frames->frame[f].ksm)
			fail("a writable private entry at %#lx to frame %lu, "
			     "which %s",
			     a, f,
			     sm->frames->frame[f].ksm ? "KSM merged"
						      : "another mm maps");
	}
}

NO_COVERAGE static void validate_frames(void)
{
	struct umn_soft_frames *fs = frames;
	unsigned long f, pages = 0, n;
	struct rmap *r;
	int i;

	if (!mapcount) {
		mapcount = calloc(MAX_FRAMES, sizeof(*mapcount));
		mms = calloc(MAX_FRAMES, sizeof(*mms));
		swapcount = calloc(1UL << 16, sizeof(*swapcount));
		if (!mapcount || !mms || !swapcount)
			abort();
	}
	if (fs->nr_swap > 1UL << 16)
		fail("%lu swap slots", fs->nr_swap);
	memset(mapcount, 0, fs->next_unused * sizeof(*mapcount));
	memset(mms, 0, fs->next_unused * sizeof(*mms));
	memset(swapcount, 0, fs->nr_swap * sizeof(*swapcount));
	for (i = 0; i < nslots; i++)
		umn__soft_walk_range(slots[i]->sm, 0, UMN_SOFT_TASK_SIZE,
				     count_run, (void *)(long)i);
	for (i = 0; i < nslots; i++)
		umn__soft_walk_range(slots[i]->sm, 0, UMN_SOFT_TASK_SIZE,
				     write_run, NULL);
	for (f = 1; f < fs->next_unused; f++) {
		struct frame *fr = &fs->frame[f];
		int refs = atomic_load(&fr->refs), np = atomic_load(&fr->pins);

		for (n = 0, r = fr->rmap; r; r = r->next)
			n++;
		if (!refs) {
			if (mapcount[f] || np || n)
				fail("free frame %lu: %d mappings, %d pins, "
				     "%lu in its reverse map",
				     f, mapcount[f], np, n);
			continue;
		}
		pages += 1UL << fr->order;
		if (refs != mapcount[f] + np || (int)n != mapcount[f])
			fail("frame %lu: %d references, %d mappings, %d pins, "
			     "%lu in its reverse map",
			     f, refs, mapcount[f], np, n);
		/* (The harness's count may be higher: handles share a
		 * cached registration's pins.) */
		if (f < MAX_FRAMES && pinned[f] && !np)
			fail("frame %lu: not pinned, the harness holds %d", f,
			     pinned[f]);
	}
	if (pages != fs->pages_used)
		fail("%lu pages in frames, the budget says %lu", pages,
		     fs->pages_used);
	for (f = 0; f < fs->nr_swap; f++)
		if ((unsigned long)fs->swap[f].refs != swapcount[f] ||
		    fs->swap[f].pending)
			fail("swap slot %lu: %d references, %lu entries%s", f,
			     fs->swap[f].refs, swapcount[f],
			     fs->swap[f].pending ? ", pending" : "");
}

static void do_op(struct slot *sl, int depth)
{
	unsigned int op = u8() % OP_COUNT;
	int idx;

	if (depth && op >= OP_PRIMARY)
		op %= OP_PRIMARY;
	if (tracing)
		fprintf(stderr, "fuzz_soft: op %d%s: mm %p: %s\n", op_index,
			depth ? " (inner)" : "", (void *)sl, op_names[op]);
	switch (op) {
	case OP_MMAP:
	case OP_MMAP_ANY:
	case OP_MMAP_1G:
		op_mmap(sl, (int)op);
		break;
	case OP_MUNMAP:
		op_munmap(sl);
		break;
	case OP_MPROTECT:
		op_mprotect(sl);
		break;
	case OP_MREMAP:
		op_mremap(sl);
		break;
	case OP_DONTNEED:
		op_dontneed(sl);
		break;
	case OP_FAULT:
	case OP_POPULATE:
		op_fault(sl, (int)op);
		break;
	case OP_WRITE:
		op_write(sl);
		break;
	case OP_READ:
		op_read(sl);
		break;
	case OP_SPLIT:
	case OP_COLLAPSE:
	case OP_MIGRATE:
	case OP_RECLAIM:
	case OP_CLEAN:
	case OP_KSM:
	case OP_AGE:
		op_keep(sl, (int)op);
		break;
	case OP_FORK:
		op_fork(sl);
		break;
	case OP_DESTROY:
		for (idx = 0; slots[idx] != sl; idx++)
			;
		if (nslots > 1)
			destroy_slot(idx, u8() & 1);
		break;
	case OP_PIN:
		op_pin(sl);
		break;
	case OP_UNPIN:
		op_unpin();
		break;
	case OP_MIRROR_CREATE:
	case OP_MIRROR_DESTROY:
	case OP_MIRROR_FAULT:
	case OP_MIRROR_RACE:
		op_mirror(sl, (int)op);
		break;
	case OP_DEVTLB_CREATE:
	case OP_DEVTLB_DESTROY:
	case OP_DEVTLB_ACCESS:
		op_devtlb(sl, (int)op);
		break;
	case OP_RC_CREATE:
	case OP_RC_DESTROY:
	case OP_RC_REGISTER:
	case OP_RC_RELEASE:
	case OP_RC_LOOKUP:
		op_rc(sl, (int)op);
		break;
	case OP_CHECKER:
		op_checker(sl);
		break;
	default:
		op_sub(sl, (int)op);
		break;
	}
}

static void setup(void)
{
	struct umn_soft_frames_config cfg = {
		.max_pages = 1UL << 34,
		.max_frames = MAX_FRAMES,
		.free_hook = free_hook,
	};
	const char *b = getenv("UMN_FUZZ_BREAK");
	const char *p = getenv("UMN_FUZZ_PENDING");

	pending = !p || strcmp(p, "0");
	p = getenv("UMN_FUZZ_TRACE");
	tracing = p && *p && strcmp(p, "0");
	planted_break = 0;
	if (b && !strcmp(b, "early-free"))
		planted_break = 1;
	else if (b && !strcmp(b, "thp-range"))
		planted_break = 2;
	else if (b && !strcmp(b, "retry"))
		planted_break = 3;
	else if (b && *b)
		harness_fail(
			"UMN_FUZZ_BREAK=%s: early-free, thp-range or retry", b);
	cfg.breaks = planted_break == 1	  ? UMN_SOFT_BREAK_EARLY_FREE
		     : planted_break == 2 ? UMN_SOFT_BREAK_THP_RANGE
					  : 0;
	if (umn_soft_frames_create(&cfg, &frames))
		harness_fail("umn_soft_frames_create");
	nslots = 0;
	new_slot();
	if (umn_soft_mm_create(frames, &slots[0]->sm))
		harness_fail("umn_soft_mm_create");
	npins = nrecs = rec_next = 0;
	faults_left = MAX_FAULTS;
	sobj_next = 1;
	stamp = 0;
	op_index = -1;
}

static void teardown(void)
{
	unsigned long f;
	int i, k;

	/* Every page the model holds, read back. */
	op_index = -1;
	for (i = 0; i < nslots; i++)
		for (k = 0; k < slots[i]->m.npg; k++)
			verify_page(slots[i], slots[i]->m.pg[k].addr);
	validate_frames();
	while (npins) {
		npins--;
		pinned[pins[npins]]--;
		umn_soft_unpin(frames, pins[npins]);
	}
	while (nslots)
		destroy_slot(nslots - 1, false);
	if (umn_soft_frames_destroy(frames))
		fail("frames left allocated after every mm was destroyed");
	for (f = 0; f < MAX_FRAMES; f++)
		if (pinned[f])
			fail("pin count of frame %lu left at %d", f, pinned[f]);
	frames = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int i;

	in.p = data;
	in.n = size;
	setup();
	for (op_index = 0; in.n && op_index < MAX_OPS; op_index++) {
		do_op(slots[u8() % nslots], 0);
		for (i = 0; i < nslots; i++)
			check_slot(slots[i]);
		for (i = 0; i < nrecs; i++)
			check_rec(&recs[i]);
		if (op_index % 32 == 31)
			validate_frames();
	}
	teardown();
	return 0;
}
