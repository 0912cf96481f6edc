// SPDX-License-Identifier: MIT
/*
 * tests/proc/proc_recorder.c - the recorder and the counting interval
 * notifier that the process's tests share (proc_tests.h).
 */
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc_tests.h"

struct umn_notifier rec;
struct seen log_[LOG_MAX]; /* under log_lock: the hooks and the */
unsigned int nlog;	   /* userfaultfd dispatcher both record */
static pthread_spinlock_t log_lock;

__attribute__((constructor)) static void init_log_lock(void)
{
	pthread_spin_init(&log_lock, PTHREAD_PROCESS_PRIVATE);
}
unsigned long watch_lo, watch_hi; /* record ranges in here only */

int mapped(unsigned long addr)
{
	unsigned char vec;

	return !mincore((void *)(addr & ~(PAGE - 1)), PAGE, &vec);
}

static int first_byte(unsigned long addr)
{
	return mapped(addr) ? *(volatile unsigned char *)addr : -1;
}

static struct seen *find(const struct umn_range *r)
{
	for (unsigned int i = 0; i < nlog; i++)
		if (log_[i].start == r->start && log_[i].end == r->end)
			return &log_[i];
	return NULL;
}

static bool watched(unsigned long start, unsigned long end)
{
	return start < watch_hi && end > watch_lo;
}

int rec_start(struct umn_notifier *n, const struct umn_range *r)
{
	struct seen *s;

	(void)n;
	if (!watched(r->start, r->end))
		return 0;
	pthread_spin_lock(&log_lock);
	if (nlog == LOG_MAX) {
		pthread_spin_unlock(&log_lock);
		return 0;
	}
	s = &log_[nlog++];
	memset(s, 0, sizeof(*s));
	s->start = r->start;
	s->end = r->end;
	s->mapped_at_start = mapped(r->start);
	s->byte_at_start = first_byte(r->start);
	s->tid_start = (pid_t)syscall(SYS_gettid);
	s->mapped_at_range = -1;
	umn_proc_cause(r, &s->cause);
	pthread_spin_unlock(&log_lock);
	return 0;
}

static void rec_range(struct umn_notifier *n, struct umn_mm *mm,
		      unsigned long start, unsigned long end)
{
	struct umn_range r = { .mm = mm, .start = start, .end = end };
	struct seen *s;

	(void)n;
	pthread_spin_lock(&log_lock);
	s = watched(start, end) ? find(&r) : NULL;
	if (s)
		s->mapped_at_range = mapped(start);
	pthread_spin_unlock(&log_lock);
}

static void rec_end(struct umn_notifier *n, const struct umn_range *r)
{
	struct seen *s;

	(void)n;
	pthread_spin_lock(&log_lock);
	s = watched(r->start, r->end) ? find(r) : NULL;
	if (s) {
		s->mapped_at_end = mapped(r->start);
		s->byte_at_end = first_byte(r->start);
		s->tid_end = (pid_t)syscall(SYS_gettid);
	}
	pthread_spin_unlock(&log_lock);
}

const struct umn_notifier_ops rec_ops = {
	.name = "recorder",
	.invalidate_range_start = rec_start,
	.invalidate_range = rec_range,
	.invalidate_range_end = rec_end,
};

unsigned char *setup_region(size_t len, unsigned int sources)
{
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	memset(p, 0xab, len);
	ck_assert_int_eq(umn_proc_start(sources), (int)sources);
	ck_assert_int_eq(umn_notifier_register(&rec, &rec_ops, umn_proc_mm()),
			 0);
	nlog = 0;
	watch_lo = (unsigned long)p;
	watch_hi = watch_lo + len;
	return p;
}

void expect_one(unsigned long start, unsigned long end, const char *call)
{
	pid_t me = (pid_t)syscall(SYS_gettid);

	ck_assert_uint_eq(nlog, 1);
	ck_assert_uint_eq(log_[0].start, start);
	ck_assert_uint_eq(log_[0].end, end);
	ck_assert_str_eq(log_[0].cause.call, call);
	ck_assert_uint_eq(log_[0].cause.source, UMN_PROC_HOOKS);
	ck_assert_int_eq(log_[0].cause.tid, me);
	ck_assert_int_eq(log_[0].tid_start, me);
	ck_assert_int_eq(log_[0].tid_end, me);
	/* Start saw the old mapping and its data. */
	ck_assert_int_eq(log_[0].mapped_at_start, 1);
	ck_assert_int_eq(log_[0].byte_at_start, 0xab);
	nlog = 0;
}

unsigned long count_invalidations;

static bool count_invalidate(struct umn_interval_notifier *sub,
			     const struct umn_range *range, unsigned long seq)
{
	(void)range;
	umn_interval_set_seq(sub, seq);
	count_invalidations++;
	return true;
}

const struct umn_interval_notifier_ops count_ops = {
	.name = "counter",
	.invalidate = count_invalidate,
};
