// SPDX-License-Identifier: MIT
/*
 * tests/fuzz/fuzz_notifiers.c - the fuzz harness's notifiers: a checking
 * classic notifier per address space (every start paired with its end,
 * invalidate_range inside an open bracket, the calls documented to refuse
 * from a callback refused) and interval notifiers, each invalidated
 * exactly by the brackets that overlap it, which its read_retry reports;
 * inserted and removed by operations and from inside a callback.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/internal.h"
#include "../../primaries/soft/soft.h"
#include "fuzz_soft.h"

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

/*
 * From inside a start: insert the interval notifier that op_checker()
 * asked for, and try to remove the others.
 */
static void insert_deferred(struct slot *sl)
{
	struct checker *c = &sl->chk;
	struct isub *s = &sl->sub[c->defer - 1];
	int i, ret;

	c->defer = 0;
	/* (An insert since the op that asked may have taken it.) */
	if (!s->inserted) {
		s->count = s->snap = 0;
		s->reading = false;
		ret = umn_interval_notifier_insert(
			&s->sub, umn_soft_mm_umn(sl->sm), s->start,
			s->last - s->start + 1, &isub_ops);
		if (ret)
			fail("checker: insert from a callback: %d", ret);
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
			fail("checker: remove from a callback: %d", ret);
	}
}

static int chk_start(struct umn_notifier *n, const struct umn_range *r)
{
	struct slot *sl = slot_of_checker(n);
	struct checker *c = &sl->chk;

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
	if (c->defer)
		insert_deferred(sl);
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

void destroy_notifiers(struct slot *sl)
{
	int i;

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

void op_checker(struct slot *sl)
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

void op_sub(struct slot *sl, int op)
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

void check_slot(struct slot *sl)
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
