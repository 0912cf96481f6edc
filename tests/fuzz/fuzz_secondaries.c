// SPDX-License-Identifier: MIT
/*
 * tests/fuzz/fuzz_secondaries.c - the fuzz harness's operations on the
 * reference secondaries of an address space: a classic and an interval
 * mirror, a device TLB and a registration cache, created, used by the
 * "device" through the translation each gives (checked against the
 * primary first, and against the model's bytes), raced with a primary
 * operation between lookup and install or publish, and destroyed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <umn-test/breaks.h>

#include "../../primaries/soft/soft.h"
#include "fuzz_soft.h"

/* The registration cache pins through the soft MMU; a race runs one
 * primary operation between the pin and the publish. */

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
		write_model(sl, (a & ~(PAGE - 1)) + off, &v, 8);
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

static void destroy_mirror(struct slot *sl, unsigned int which)
{
	forget(sl->mirror[which]);
	expect("umn_mirror_destroy", umn_mirror_destroy(sl->mirror[which]), 0);
	sl->mirror[which] = NULL;
}

static void destroy_devtlb(struct slot *sl)
{
	forget(sl->tlb);
	expect("umn_devtlb_destroy", umn_devtlb_destroy(sl->tlb), 0);
	sl->tlb = NULL;
}

static void destroy_regcache(struct slot *sl)
{
	pin_release_handles(sl);
	forget(sl->rc);
	expect("umn_regcache_destroy", umn_regcache_destroy(sl->rc), 0);
	sl->rc = NULL;
}

void destroy_secondaries(struct slot *sl)
{
	unsigned int i;

	for (i = 0; i < 2; i++)
		if (sl->mirror[i])
			destroy_mirror(sl, i);
	if (sl->tlb)
		destroy_devtlb(sl);
	if (sl->rc)
		destroy_regcache(sl);
}

static void create_mirror(struct slot *sl, unsigned int f)
{
	unsigned int which = f & 1;
	int ret;

	ret = umn_mirror_create(
		sl->sm, BASE, WIN,
		(which ? UMN_MIRROR_INTERVAL : UMN_MIRROR_CLASSIC) |
			(f & 2 ? UMN_MIRROR_SPLIT_HUGE : 0) |
			(planted_break == 3 ? UMN_MIRROR_BREAK_RETRY : 0),
		&sl->mirror[which]);
	expect("umn_mirror_create", ret, 0);
}

/*
 * The race: a primary's operation between the lookup of @a and the
 * install of what it found, which must then fail with -EAGAIN or hold.
 * The translation in @t; false if there is none to use.
 */
static bool mirror_race(struct slot *sl, struct umn_mirror *m, unsigned long a,
			bool write, struct umn_soft_translation *t)
{
	unsigned long seq = umn_mirror_read_begin(m);
	int ret;

	if (umn_soft_lookup(sl->sm, a, write, NULL, NULL, t))
		return false;
	do_op(sl, 1);
	ret = umn_mirror_install(m, a, seq, t);
	if (ret && ret != -EAGAIN)
		fail("umn_mirror_install returned %d", ret);
	return !ret;
}

void op_mirror(struct slot *sl, int op)
{
	unsigned int f = u8(), which = f & 1;
	struct umn_mirror *m = sl->mirror[which];
	struct umn_soft_translation t;
	unsigned long a;
	bool write;
	int ret, want;

	if (op == OP_MIRROR_CREATE || op == OP_MIRROR_DESTROY) {
		if (op == OP_MIRROR_CREATE && !m)
			create_mirror(sl, f);
		else if (op == OP_MIRROR_DESTROY && m)
			destroy_mirror(sl, which);
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
		if (ret)
			return;
	} else if (want || !mirror_race(sl, m, a, write, &t)) {
		return;
	}
	ret = umn_mirror_translate(m, a, &t);
	expect("umn_mirror_translate", ret, 0);
	device_access(sl, K_MIRROR0 + (int)which, m, a, write, &t);
}

void op_devtlb(struct slot *sl, int op)
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
		if (sl->tlb)
			destroy_devtlb(sl);
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

void pin_release_handles(struct slot *sl)
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
		write_model(sl, h->addr + 8, &v, 8);
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

static void create_regcache(struct slot *sl)
{
	int ret;

	sl->rcs.sm = sl->sm;
	sl->rcs.frames = frames;
	ret = umn_regcache_create(
		sl->sm->mm, &fuzz_rc_ops, &sl->rcs,
		planted_break == 3 ? UMN_REGCACHE_BREAK_RETRY : 0, &sl->rc);
	expect("umn_regcache_create", ret, 0);
}

/* Release the handle that @f picks of those the harness holds. */
static void release_handle(struct slot *sl, unsigned int f)
{
	int i = (int)((f >> 1) % (unsigned int)sl->nh);
	struct umn_regcache_handle *h = sl->h[i];

	hold(h, -1);
	expect("umn_regcache_release", umn_regcache_release(h), 0);
	sl->nh--;
	sl->h[i] = sl->h[sl->nh];
}

/* A lookup of [a, a + len): false if it found nothing. */
static bool rc_lookup(struct slot *sl, unsigned long a, unsigned long len,
		      bool write, struct umn_regcache_handle **h)
{
	int ret = umn_regcache_lookup(sl->rc, a, len, write, h);

	if (ret == -ENOENT)
		return false;
	expect("umn_regcache_lookup", ret, 0);
	if (!umn_regcache_valid(*h))
		fail("umn_regcache_lookup returned an invalid registration");
	return true;
}

/*
 * A registration of [a, a + len), with a primary's operation between its
 * pin and its publish if @race: false if it failed (as the model says,
 * unless the race changed the mappings).
 */
static bool rc_register(struct slot *sl, unsigned long a, unsigned long len,
			bool write, bool race, struct umn_regcache_handle **h)
{
	unsigned long p;
	int ret, want = 0;

	for (p = a; p < a + len && !want; p += PAGE)
		want = expect_access(&sl->m, p, write);
	inject_op = race;
	inject_slot = sl;
	ret = umn_regcache_register(sl->rc, a, len, write, h);
	inject_op = 0;
	/* The injected operation may have changed the mappings. */
	if (ret && ret != want && race)
		return false;
	if (!race)
		expect("umn_regcache_register", ret, want);
	return !ret;
}

/* The harness holds @h, for [a, a + len): check it, and use it. */
static void take_handle(struct slot *sl, struct umn_regcache_handle *h,
			unsigned long a, unsigned long len)
{
	int i;

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

void op_rc(struct slot *sl, int op)
{
	unsigned int f = u8();
	struct umn_regcache_handle *h;
	unsigned long a, len;
	bool write = f & 1, got;

	switch (op) {
	case OP_RC_CREATE:
		if (!sl->rc)
			create_regcache(sl);
		return;
	case OP_RC_DESTROY:
		if (sl->rc)
			destroy_regcache(sl);
		return;
	case OP_RC_RELEASE:
		if (sl->nh)
			release_handle(sl, f);
		return;
	}
	a = dec_addr();
	len = (1 + (f >> 2) % 8) * PAGE;
	if (!sl->rc || sl->nh == MAX_HANDLES)
		return;
	if (op == OP_RC_LOOKUP)
		got = rc_lookup(sl, a, len, write, &h);
	else
		got = rc_register(sl, a, len, write, f & 2, &h);
	if (got)
		take_handle(sl, h, a, len);
}
