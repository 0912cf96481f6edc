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

void op_mmap(struct slot *sl, int op)
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

void op_mremap(struct slot *sl)
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
