/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_soft.h - what the parts of the fuzz harness share
 * (fuzz_soft.c says what the harness does):
 *
 *  fuzz_soft.c         the run: decoding the input, the operations'
 *                      table, set-up and teardown, LLVMFuzzerTestOneInput
 *  soft_model.c        the reference model of an address space
 *  fuzz_primary.c      the soft MMU's operations, checked against the model
 *  fuzz_secondaries.c  the mirrors', the device TLB's and the registration
 *                      cache's operations, and device accesses
 *  fuzz_notifiers.c    the checking notifier and the interval notifiers
 *  fuzz_oracle.c       the checks every operation shares: results against
 *                      the model, translations against the primary, frames
 *                      and page tables against their counts
 *
 * One thread runs everything; nothing here is thread-safe.
 */
#ifndef UMN_FUZZ_SOFT_H
#define UMN_FUZZ_SOFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <umn/devtlb.h>
#include <umn/interval.h>
#include <umn/mirror.h>
#include <umn/notifier.h>
#include <umn/regcache.h>
#include <umn/soft.h>

#include "soft_model.h"

#define WIN	    (32UL << 20) /* the mirrors' window: [BASE, BASE + WIN) */
#define MAX_OPS	    128
#define MAX_MMS	    3
#define MAX_FRAMES  (1UL << 14)
#define MAX_FAULTS  2048 /* pages populated per input, at most */
#define MAX_PINS    16
#define MAX_HANDLES 8
#define MAX_SUBS    3
#define MAX_RECS    256
#define MAX_LOG	    64

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

/* fuzz_soft.c: the run. */

extern struct umn_soft_frames *frames;
extern struct slot *slots[MAX_MMS];
extern int nslots;
extern unsigned long pins[MAX_PINS]; /* frames */
extern int npins;
extern int pinned[MAX_FRAMES];
extern int op_index;
extern unsigned long faults_left, stamp;
extern unsigned int planted_break; /* 1 early-free, 2 thp-range, 3 retry */
extern int inject_op;		   /* the regcache's pin runs one op: depth */
extern struct slot *inject_slot;
extern bool pending;
extern bool tracing; /* UMN_FUZZ_TRACE=1: each call on stderr */

/* The input's next byte, 16-bit word, address and length (zeros once it
 * is used up). */
unsigned int u8(void);
unsigned int u16(void);
unsigned long dec_addr(void);
unsigned long dec_len(void);

/* One operation on @sl, decoded from the input; @depth 1: from inside
 * another (then a primary's operation). */
void do_op(struct slot *sl, int depth);
/* A new address space's slot, NULL if there are MAX_MMS. */
struct slot *new_slot(void);
/* Destroy slots[idx]: its mm first or last; the last slot takes its
 * place. */
void destroy_slot(int idx, bool mm_first);
/* Write @len bytes of @buf at @a in @sl's model (and in the models that
 * share the page). */
void write_model(struct slot *sl, unsigned long a, const void *buf,
		 unsigned long len);

/* fuzz_primary.c */

/* Read the page of @a through the CPU and compare it with the model. */
void verify_page(struct slot *sl, unsigned long a);
void op_mmap(struct slot *sl, int op);
void op_munmap(struct slot *sl);
void op_mprotect(struct slot *sl);
void op_dontneed(struct slot *sl);
void op_mremap(struct slot *sl);
void op_fault(struct slot *sl, int op);
void op_write(struct slot *sl);
void op_read(struct slot *sl);
void op_keep(struct slot *sl, int op);
void op_fork(struct slot *sl);
void op_pin(struct slot *sl);
void op_unpin(void);

/* fuzz_secondaries.c */

void op_mirror(struct slot *sl, int op);
void op_devtlb(struct slot *sl, int op);
void op_rc(struct slot *sl, int op);
/* Release every registration the harness holds of @sl's cache. */
void pin_release_handles(struct slot *sl);
/* Destroy @sl's secondaries, each as it must succeed. */
void destroy_secondaries(struct slot *sl);

/* fuzz_notifiers.c */

void op_checker(struct slot *sl);
/* Remove @sl's interval notifiers and unregister its checker. */
void destroy_notifiers(struct slot *sl);
void op_sub(struct slot *sl, int op);
/* After each operation: the checker's brackets and the interval
 * notifiers' invalidations, and the core's validators. */
void check_slot(struct slot *sl);

/* fuzz_oracle.c */

extern const char *const kind_names[];
extern struct rec recs[MAX_RECS]; /* the last MAX_RECS translations */
extern int nrecs;

/* A new run: no translation remembered. */
void recs_reset(void);

/* The call @what returned @got: the model expects @want. */
void expect(const char *what, int got, int want);
/* The call @what returned @got: one of its @n documented results @ok. */
void expect_in(const char *what, int got, const int *ok, int n);
/* What an access to @a says, by the model: 0, -EFAULT or -EACCES. */
int expect_access(struct model *m, unsigned long a, bool write);
/* The 4 KiB of the frame that @addr reaches through @t. */
unsigned long sub_at(const struct umn_soft_translation *t, unsigned long addr);
/* The frame pool's free hook: no frame a secondary maps is freed. */
void free_hook(void *arg, unsigned long frame, unsigned long gen);
/* Remember a secondary's translation @t of @addr, for the oracle. */
void record(int kind, void *obj, struct slot *sl, unsigned long addr,
	    const struct umn_soft_translation *t);
/* Forget what @obj (a secondary going away) translated. */
void forget(void *obj);
/* A secondary's translation is the primary's. */
void check_rec(const struct rec *r);
/* The soft MMU's page tables, reverse map, frames and swap slots agree. */
void validate_frames(void);

#endif
