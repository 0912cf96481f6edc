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
 *
 * This file runs an input: it decodes the operations and runs each, and
 * sets up and tears down the run; fuzz_soft.h lists the other parts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <umn-test/breaks.h>

#include "fuzz_soft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The run. */

struct input {
	const uint8_t *p;
	size_t n;
};

static struct input in;
struct umn_soft_frames *frames;
struct slot *slots[MAX_MMS];
int nslots;
unsigned long pins[MAX_PINS];
int npins;
int pinned[MAX_FRAMES];
int op_index;
unsigned long faults_left, stamp;
unsigned int planted_break;
int inject_op;
struct slot *inject_slot;
bool tracing;

/*
 * Strict about the bugs the fuzzer found (now fixed; their inputs are in
 * tests/fuzz/regressions/).  The guards stay, so that a bug found later
 * and not fixed yet can be stepped around while fuzzing goes on:
 * UMN_FUZZ_PENDING=0 turns them on (see tests/fuzz/pending/README.md).
 */
bool pending;

/*
 * How the oracle's verdict ends the run: with 0, abort() (libFuzzer keeps
 * the input as a crash); else exit() with this status, which the replayer
 * (replay.c) sets, so that a run the oracle failed can be told from one
 * that crashed or could not set up.
 */
int fuzz_oracle_exit;

/* The oracle's verdict: the library did not do what the model says. */
void fail(const char *fmt, ...)
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

/* Not a verdict: the harness cannot go on (set-up, its own limits). */
void harness_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_soft: harness: op %d: ", op_index);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

unsigned int u8(void)
{
	if (!in.n)
		return 0;
	in.n--;
	return *in.p++;
}

unsigned int u16(void)
{
	unsigned int lo = u8();

	return lo | u8() << 8;
}

/*
 * Addresses: the mirrors' 32 MiB window in 4 KiB steps (half the values),
 * or the two 1 GiB blocks after BASE + 1 GiB, in 64 KiB steps.
 */
unsigned long dec_addr(void)
{
	unsigned int v = u16();

	if (v >> 15 == 0)
		return BASE + (v & 0x1fff) * PAGE;
	return BASE + PUD * (1 + ((v >> 14) & 1)) + (v & 0x3fff) * 0x10000UL;
}

/* Lengths: 1 to 512 pages, 1 to 8 THPs, or 1 or 2 GiB. */
unsigned long dec_len(void)
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

struct slot *new_slot(void)
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

void write_model(struct slot *sl, unsigned long a, const void *buf,
		 unsigned long len)
{
	struct model *all[MAX_MMS];
	int i;

	for (i = 0; i < nslots; i++)
		all[i] = &slots[i]->m;
	model_write(&sl->m, a, buf, len, all, nslots);
}

void destroy_slot(int idx, bool mm_first)
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
	destroy_secondaries(sl);
	destroy_notifiers(sl);
	if (!mm_first)
		umn_soft_mm_destroy(sl->sm);
	model_free_all(&sl->m);
	for (i = 0; i < nrecs; i++)
		if (recs[i].slot == sl)
			recs[i].obj = NULL;
	free(sl);
	slots[idx] = slots[--nslots];
}

/* One of the primary's operations (op < OP_PRIMARY). */
static void do_primary_op(struct slot *sl, unsigned int op)
{
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
	default:
		op_keep(sl, (int)op);
		break;
	}
}

/* The other operations: address spaces, pins, secondaries, notifiers. */
static void do_other_op(struct slot *sl, unsigned int op)
{
	int idx;

	switch (op) {
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

void do_op(struct slot *sl, int depth)
{
	unsigned int op = u8() % OP_COUNT;

	if (depth && op >= OP_PRIMARY)
		op %= OP_PRIMARY;
	if (tracing)
		fprintf(stderr, "fuzz_soft: op %d%s: mm %p: %s\n", op_index,
			depth ? " (inner)" : "", (void *)sl, op_names[op]);
	if (op < OP_PRIMARY)
		do_primary_op(sl, op);
	else
		do_other_op(sl, op);
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
	npins = 0;
	recs_reset();
	faults_left = MAX_FAULTS;
	model_reset();
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
