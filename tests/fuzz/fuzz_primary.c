// SPDX-License-Identifier: MIT
/*
 * tests/fuzz/fuzz_primary.c - the fuzz harness's operations on the soft
 * MMU (mmap, munmap, mprotect, mremap, madvise(DONTNEED), faults, CPU reads
 * and writes, THP split and collapse, migration, reclaim, cleaning, KSM,
 * aging, fork, pin and unpin): each call's result is what the model
 * predicts, and the model follows what the call did.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../primaries/soft/soft.h"
#include "fuzz_soft.h"

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

/* Read the page of @a through the CPU and compare it with the model. */
void verify_page(struct slot *sl, unsigned long a)
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

/* An mmap's arguments, decoded from the input. */
struct mmap_args {
	unsigned long addr, len;
	int prot, flags;
};

static struct mmap_args decode_mmap(int op)
{
	struct mmap_args m;
	unsigned int f;

	if (op == OP_MMAP_1G) {
		f = u8();
		m.addr = BASE + PUD * (1 + (f & 1));
		m.len = PUD;
		m.prot = (int)(f >> 1) & 3;
		m.flags = UMN_SOFT_MAP_HUGE_1G | UMN_SOFT_MAP_FIXED |
			  (f & 8 ? 0 : UMN_SOFT_MAP_SHARED);
		if (f & 16) { /* anywhere */
			m.flags &= ~UMN_SOFT_MAP_FIXED;
			m.addr = 0;
		}
		return m;
	}
	m.addr = dec_addr();
	m.len = dec_len();
	f = u8();
	m.prot = (int)f & 3;
	m.flags = (f & 4 ? UMN_SOFT_MAP_SHARED : 0) |
		  (f & 8 ? UMN_SOFT_MAP_THP : 0);
	if (op == OP_MMAP)
		m.flags |= UMN_SOFT_MAP_FIXED;
	else if (f & 16)
		m.addr = 0;
	if (m.len > PUD)
		m.len = PUD; /* keep the address space small */
	return m;
}

/* What the model says the mmap @m returns. */
static int expect_mmap(struct slot *sl, int op, const struct mmap_args *m)
{
	if (op == OP_MMAP_1G && !(m->flags & UMN_SOFT_MAP_SHARED))
		return -EINVAL;
	if ((m->flags & UMN_SOFT_MAP_FIXED) &&
	    !model_1g_ok(&sl->m, m->addr, m->addr + m->len))
		return -EINVAL;
	return 0;
}

/* Where the model says a successful mmap @m maps; fails if @got is not
 * there. */
static unsigned long expect_placed(struct slot *sl, const struct mmap_args *m,
				   unsigned long got)
{
	unsigned long a;

	if (m->flags & UMN_SOFT_MAP_FIXED) {
		if (got != m->addr)
			fail("umn_soft_mmap(FIXED %#lx) mapped %#lx", m->addr,
			     got);
		return got;
	}
	a = model_room(&sl->m, m->addr, m->len,
		       m->flags & UMN_SOFT_MAP_HUGE_1G ? PUD
		       : m->flags & UMN_SOFT_MAP_THP   ? PMD
						       : PAGE);
	if (got != a)
		fail("umn_soft_mmap placed %#lx at %#lx, the model at %#lx",
		     m->len, got, a);
	return a;
}

void op_mmap(struct slot *sl, int op)
{
	struct mmap_args m = decode_mmap(op);
	unsigned long a, got = 0;
	int ret;

	if (op == OP_MMAP_1G && !pending) {
		a = m.flags & UMN_SOFT_MAP_FIXED
			    ? m.addr
			    : model_room(&sl->m, 0, PUD, PUD);
		if (holds_table(sl->sm, a, a + PUD, 2))
			return;
	}
	ret = umn_soft_mmap(sl->sm, m.addr, m.len, m.prot, m.flags, &got);
	if (tracing)
		fprintf(stderr, "  mmap(%#lx, %#lx, %d, %#x) = %d, %#lx\n",
			m.addr, m.len, m.prot, m.flags, ret, got);
	expect("umn_soft_mmap", ret, expect_mmap(sl, op, &m));
	if (ret)
		return;
	a = expect_placed(sl, &m, got);
	model_unmap(&sl->m, a, a + m.len);
	vmas_insert(&sl->m, a, a + m.len, m.prot,
		    m.flags & ~UMN_SOFT_MAP_FIXED);
}

void op_munmap(struct slot *sl)
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

void op_mprotect(struct slot *sl)
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

void op_dontneed(struct slot *sl)
{
	unsigned long a = dec_addr(), len = dec_len();
	int ret = umn_soft_madvise_dontneed(sl->sm, a, len);

	expect("umn_soft_madvise_dontneed", ret, expect_range(&sl->m, a, len));
	if (!ret)
		model_discard(&sl->m, a, a + len);
}

/* An mremap: its arguments, and what it returned. */
struct mremap_call {
	unsigned long addr, old, new, got;
	int flags, ret;
};

/*
 * pending/mremap-*-over-table-leak: would growing the huge mapping @v
 * move or extend it onto a slot that holds a page table?
 */
static bool mremap_over_table(struct slot *sl, const struct mvma *v,
			      const struct mremap_call *c)
{
	unsigned long oend = c->addr + c->old, align;
	unsigned long d = oend, de = c->addr + c->new;
	unsigned int level = v->flags & UMN_SOFT_MAP_HUGE_1G ? 2 : 1;

	if (v->end != oend || !model_free(&sl->m, oend, c->addr + c->new)) {
		align = LEVEL_SIZE(level);
		d = model_room(&sl->m, 0, c->new + (c->addr & (align - 1)),
			       align) +
		    (c->addr & (align - 1));
		de = d + c->new;
	}
	return holds_table(sl->sm, d, de, level);
}

/* A move of the mapping @v as the model makes it. */
static void mremap_moved(struct slot *sl, const struct mvma *v,
			 const struct mremap_call *c)
{
	unsigned long align = PAGE, na;

	if (v->flags & UMN_SOFT_MAP_THP)
		align = PMD;
	if (v->flags & UMN_SOFT_MAP_HUGE_1G)
		align = PUD;
	na = model_room(&sl->m, 0, c->new + (c->addr & (align - 1)), align) +
	     (c->addr & (align - 1));
	if (c->got != na)
		fail("mremap moved %#lx to %#lx, the model to %#lx", c->addr,
		     c->got, na);
	model_move(&sl->m, c->addr, c->addr + c->old, na - c->addr);
	vmas_remove(&sl->m, c->addr, c->addr + c->old);
	vmas_insert(&sl->m, na, na + c->new, v->prot, v->flags);
}

/* The mremap @c of (a part of) the mapping @v: check and follow it. */
static void mremap_follow(struct slot *sl, struct mvma v,
			  const struct mremap_call *c)
{
	unsigned long a = c->addr, oend = c->addr + c->old;

	if ((v.flags & UMN_SOFT_MAP_HUGE_1G) &&
	    ((a | c->old | c->new) & (PUD - 1))) {
		expect("umn_soft_mremap", c->ret, -EINVAL);
		return;
	}
	/* The soft MMU's VMAs may not be merged where the model's are: its
	 * mremap may then find "not one mapping". */
	if (c->ret == -EFAULT)
		return;
	if (c->new <= c->old) {
		expect("umn_soft_mremap", c->ret, 0);
		if (c->got != a)
			fail("mremap shrink moved %#lx to %#lx", a, c->got);
		model_unmap(&sl->m, a + c->new, oend);
		return;
	}
	if (v.end == oend && model_free(&sl->m, oend, a + c->new)) {
		expect("umn_soft_mremap", c->ret, 0);
		if (c->got != a)
			fail("mremap grow in place moved %#lx to %#lx", a,
			     c->got);
		vmas_insert(&sl->m, a, a + c->new, v.prot, v.flags);
		return;
	}
	expect("umn_soft_mremap", c->ret, c->flags ? 0 : -ENOMEM);
	if (!c->ret)
		mremap_moved(sl, &v, c);
}

void op_mremap(struct slot *sl)
{
	struct mremap_call c = { .addr = dec_addr() };
	struct mvma *v;
	bool alike;

	c.old = dec_len();
	c.new = dec_len();
	c.flags = u8() & 1 ? UMN_SOFT_MREMAP_MAYMOVE : 0;
	v = vma_at(&sl->m, c.addr);
	alike = v && v->end >= c.addr + c.old;
	if (alike && !pending && c.new > c.old &&
	    (v->flags & (UMN_SOFT_MAP_THP | UMN_SOFT_MAP_HUGE_1G)) &&
	    mremap_over_table(sl, v, &c))
		return;
	c.ret = umn_soft_mremap(sl->sm, c.addr, c.old, c.new, c.flags, &c.got);
	if (tracing)
		fprintf(stderr, "  mremap(%#lx, %#lx, %#lx, %d) = %d, %#lx\n",
			c.addr, c.old, c.new, c.flags, c.ret, c.got);
	if (!alike) {
		expect("umn_soft_mremap", c.ret, -EFAULT);
		return;
	}
	mremap_follow(sl, *v, &c);
}

void op_fault(struct slot *sl, int op)
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

void op_write(struct slot *sl)
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
		write_model(sl, a + off, buf, len);
}

void op_read(struct slot *sl)
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
void op_keep(struct slot *sl, int op)
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

void op_fork(struct slot *sl)
{
	struct slot *child = new_slot();
	int ret;

	if (!child)
		return;
	ret = umn_soft_fork(sl->sm, &child->sm);
	expect("umn_soft_fork", ret, 0);
	model_fork(&sl->m, sl->sm, &child->m);
}

void op_pin(struct slot *sl)
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

void op_unpin(void)
{
	unsigned int i = u8();

	if (!npins)
		return;
	i %= (unsigned int)npins;
	pinned[pins[i]]--;
	umn_soft_unpin(frames, pins[i]);
	pins[i] = pins[--npins];
}
