// SPDX-License-Identifier: MIT
/*
 * examples/kvm_mirror.c - a KVM-like shadow page table over the soft MMU.
 *
 * The shadow table copies the guest's translations (the primary's).  An
 * interval notifier over the guest range zaps them before the primary
 * changes them, and a vCPU fault installs one only if no invalidation
 * began since its look-up, as KVM's mmu_invalidate_seq (umn/interval.h):
 *
 *	vCPU fault				primary
 *	seq = umn_interval_read_begin()
 *	look the page up in the primary
 *						->invalidate: lock, set_seq,
 *						zap, unlock; change the PTE
 *	lock; umn_interval_read_retry(seq)?  yes: unlock, look again
 *	install the shadow entry; unlock
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <umn/interval.h>
#include <umn/soft.h>

#define PAGE   UMN_PAGE_SIZE
#define NPAGES 64
#define OPS    2000
#define RW     (UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE)
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

struct shadow {		      /* the secondary MMU */
	pthread_mutex_t lock; /* guards spte[], retries and zapped */
	struct umn_interval_notifier sub;
	unsigned long base;
	struct spte {
		unsigned long frame, gen; /* gen: the frame's, when installed */
		bool present, writable;
	} spte[NPAGES];
	unsigned long retries, zapped, stale; /* stale: main()'s, must be 0 */
};

static struct umn_soft_frames *frames;
static struct umn_soft_mm *guest;
static struct shadow shadow = { .lock = PTHREAD_MUTEX_INITIALIZER };
static unsigned long touches; /* by the vCPU, so far */
static bool done;

/* [range->start, range->end) is about to change.  Soft MMU ranges are all
 * blockable, so the mutex may sleep (else: trylock, or return false). */
static bool shadow_invalidate(struct umn_interval_notifier *sub,
			      const struct umn_range *range,
			      unsigned long cur_seq)
{
	struct shadow *s = container_of(sub, struct shadow, sub);
	unsigned long a = range->start > s->base ? range->start : s->base;
	unsigned long end = s->base + NPAGES * PAGE;

	pthread_mutex_lock(&s->lock);
	umn_interval_set_seq(sub, cur_seq); /* faults in flight will retry */
	for (end = range->end < end ? range->end : end; a < end; a += PAGE) {
		s->zapped += s->spte[(a - s->base) / PAGE].present;
#ifndef EXAMPLE_BREAK /* a test's planted bug (examples/CMakeLists.txt) */
		s->spte[(a - s->base) / PAGE].present = false;
#endif
	}
	pthread_mutex_unlock(&s->lock);
	return true;
}

static const struct umn_interval_notifier_ops shadow_ops = {
	.name = "kvm-shadow",
	.invalidate = shadow_invalidate,
};

/* The vCPU touched @addr: install its shadow entry (again). */
static int vcpu_fault(struct shadow *s, unsigned long addr, bool write)
{
	struct umn_soft_translation t;
	unsigned long seq;
	int ret;

again:
	seq = umn_interval_read_begin(&s->sub);
	ret = umn_soft_lookup(guest, addr, write, NULL, NULL, &t);
	if ((ret == -EFAULT || ret == -EACCES) &&
	    !umn_soft_fault(guest, addr, write))
		goto again; /* was not present, or read-only: now it is */
	if (ret)
		return ret; /* no such guest page, or read-only for good */
	pthread_mutex_lock(&s->lock);
	if (umn_interval_read_retry(&s->sub, seq)) {
		/* An invalidation began since read_begin: t may be stale. */
		s->retries++;
		pthread_mutex_unlock(&s->lock);
		goto again;
	}
	s->spte[(addr - s->base) / PAGE] =
		(struct spte){ t.frame, t.gen, true, t.writable };
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* After a change: each shadow entry maps the primary's frame, not freed
 * since (same gen), no more writable; only main() changes the primary. */
static void check(struct shadow *s)
{
	struct umn_soft_translation t;
	struct spte e;
	int i;

	for (i = 0; i < NPAGES; i++) {
		pthread_mutex_lock(&s->lock); /* never held into the primary */
		e = s->spte[i];
		pthread_mutex_unlock(&s->lock);
		if (e.present && (umn_soft_lookup(guest, s->base + i * PAGE,
						  false, NULL, NULL, &t) ||
				  t.frame != e.frame || t.gen != e.gen ||
				  (e.writable && !t.writable)))
			s->stale++;
	}
}

static void *vcpu(void *arg)
{
	unsigned int seed = 12345, r;

	while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
		r = (unsigned int)rand_r(&seed);
		vcpu_fault(arg, shadow.base + r % NPAGES * PAGE, r & 64);
		__atomic_add_fetch(&touches, 1, __ATOMIC_RELAXED);
		sched_yield(); /* leave the primary room to take its locks */
	}
	return NULL;
}

int main(void)
{
	struct umn_soft_translation old;
	unsigned long i, a, n, seq;
	pthread_t thread;
	bool retry;

	if (umn_soft_frames_create(NULL, &frames) ||
	    umn_soft_mm_create(frames, &guest) ||
	    umn_soft_mmap(guest, 0, NPAGES * PAGE, RW, 0, &shadow.base) ||
	    umn_interval_notifier_insert(&shadow.sub, umn_soft_mm_umn(guest),
					 shadow.base, NPAGES * PAGE,
					 &shadow_ops))
		return 1;

	/* 1. vcpu_fault() step by step, the primary acting in its window. */
	a = shadow.base + 3 * PAGE;
	umn_soft_fault(guest, a, true);
	seq = umn_interval_read_begin(&shadow.sub);
	umn_soft_lookup(guest, a, false, NULL, NULL, &old);
	umn_soft_migrate(guest, a); /* frees the frame the vCPU looked up */
	pthread_mutex_lock(&shadow.lock);
	retry = umn_interval_read_retry(&shadow.sub, seq);
	pthread_mutex_unlock(&shadow.lock);
	vcpu_fault(&shadow, a, false); /* what the retry does */
	printf("1. vCPU looks up frame %lu, the primary migrates the page;\n"
	       "   read_retry: %s; looking again, the vCPU installs frame %lu\n",
	       old.frame, retry ? "retry" : "INSTALL", shadow.spte[3].frame);
	shadow.stale += !retry;

	/* 2. A vCPU thread faults while the primary changes the guest. */
	pthread_create(&thread, NULL, vcpu, &shadow);
	for (i = 0; i < OPS; i++) {
		n = __atomic_load_n(&touches, __ATOMIC_RELAXED) + 8;
		while (__atomic_load_n(&touches, __ATOMIC_RELAXED) < n)
			sched_yield(); /* the vCPU faults between changes */
		a = shadow.base + (i * 37) % (NPAGES - 4) * PAGE;
		if (i % 4 == 0) /* the VMM maps new memory over it */
			umn_soft_mmap(guest, a, 4 * PAGE, RW,
				      UMN_SOFT_MAP_FIXED, &a);
		else if (i % 4 == 1) /* compaction, NUMA balancing */
			umn_soft_migrate(guest, a);
		else if (i % 4 == 2) /* a snapshot write-protects it */
			umn_soft_mprotect(guest, a, 4 * PAGE,
					  UMN_SOFT_PROT_READ);
		else /* a balloon driver takes pages back */
			umn_soft_madvise_dontneed(guest, a, 2 * PAGE);
		check(&shadow);
	}
	__atomic_store_n(&done, true, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);
	printf("2. %d changes (replace, migrate, protect, discard) while a "
	       "vCPU faulted:\n   %lu faults retried, %lu entries zapped\n",
	       OPS, shadow.retries, shadow.zapped);

	/* 3. Teardown: the RELEASE range zaps what is left, then frames go. */
	umn_soft_mm_destroy(guest);
	umn_interval_notifier_remove(&shadow.sub);
	shadow.stale += umn_soft_frames_destroy(frames) != 0; /* a leak */
	printf("%s: %lu stale shadow entries\n", shadow.stale ? "FAIL" : "ok",
	       shadow.stale);
	return shadow.stale ? 3 : 0; /* 3: the check found stale entries */
}
