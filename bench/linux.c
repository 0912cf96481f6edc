// SPDX-License-Identifier: MIT
/*
 * bench/linux.c - what the kernel's spelling costs over umn's own API.
 *
 *   linux	start+end on an mm with one notifier whose range hits: a
 *		classic notifier, then an interval notifier, each registered
 *		with umn's API (the baseline) and with <umn/linux/
 *		mmu_notifier.h>'s (the driver's callback reached through
 *		the header's small callback, which builds the kernel's range).
 *		Each run times all four, interleaved.
 */
#include <stdlib.h>

#include <umn/interval.h>
#include <umn/linux/mmu_notifier.h>
#include <umn/mm.h>
#include <umn/notifier.h>

#include "bench.h"

#define AT (1UL << 30)

static int umn_start(struct umn_notifier *n, const struct umn_range *range)
{
	__asm__ volatile("" : : "r"(n), "r"(range) : "memory");
	return 0;
}

static void umn_end(struct umn_notifier *n, const struct umn_range *range)
{
	__asm__ volatile("" : : "r"(n), "r"(range) : "memory");
}

static const struct umn_notifier_ops umn_ops = {
	.name = "bench",
	.invalidate_range_start = umn_start,
	.invalidate_range_end = umn_end,
};

static int k_start(struct mmu_notifier *mn,
		   const struct mmu_notifier_range *range)
{
	__asm__ volatile("" : : "r"(mn), "r"(range) : "memory");
	return 0;
}

static void k_end(struct mmu_notifier *mn,
		  const struct mmu_notifier_range *range)
{
	__asm__ volatile("" : : "r"(mn), "r"(range) : "memory");
}

static const struct mmu_notifier_ops k_ops = {
	.invalidate_range_start = k_start,
	.invalidate_range_end = k_end,
};

static bool k_inv(struct mmu_interval_notifier *sub,
		  const struct mmu_notifier_range *range, unsigned long seq)
{
	(void)range;
	mmu_interval_set_seq(sub, seq);
	return true;
}

static const struct mmu_interval_notifier_ops k_iops = {
	.invalidate = k_inv,
};

static struct umn_mm *new_mm(void)
{
	struct umn_mm *mm;

	if (umn_mm_create(NULL, NULL, &mm))
		bench_die("linux", "umn_mm_create");
	return mm;
}

void bench_linux(void)
{
	enum { UMN_CLASSIC, LINUX_CLASSIC, UMN_INTERVAL, LINUX_INTERVAL, N };
	static const char *const variant[N] = { "umn", "linux", "umn",
						"linux" };
	static const char *const param[N] = { "classic", "classic", "interval",
					      "interval" };
	const int runs = bench_quick ? 3 : 7;
	const long iters = bench_quick ? 20000 : 200000;
	struct umn_notifier un;
	struct mmu_notifier kn;
	struct umn_interval_notifier ui;
	struct mmu_interval_notifier ki;
	struct mm_struct *kmm[2];
	struct umn_mm *mm[N];
	double v[N][7];
	int i, r;

	for (i = 0; i < N; i++)
		mm[i] = new_mm();
	if (umn_linux_mm_create(mm[LINUX_CLASSIC], NULL, &kmm[0]) ||
	    umn_linux_mm_create(mm[LINUX_INTERVAL], NULL, &kmm[1]))
		bench_die("linux", "umn_linux_mm_create");
	un = (struct umn_notifier){ 0 };
	ui = (struct umn_interval_notifier){ 0 };
	kn.ops = &k_ops;
	if (umn_notifier_register(&un, &umn_ops, mm[UMN_CLASSIC]) ||
	    mmu_notifier_register(&kn, kmm[0]) ||
	    umn_interval_notifier_insert(&ui, mm[UMN_INTERVAL], AT,
					 UMN_PAGE_SIZE, &bench_sink_ops) ||
	    mmu_interval_notifier_insert(&ki, kmm[1], AT, UMN_PAGE_SIZE,
					 &k_iops))
		bench_die("linux", "registration");
	for (r = 0; r < runs; r++)
		for (i = 0; i < N; i++)
			v[i][r] = bench_time_brackets(mm[i], AT, UMN_PAGE_SIZE,
						      iters);
	for (i = 0; i < N; i++)
		bench_report("linux", variant[i], param[i], "ns_per_op", v[i],
			     runs);
	umn_notifier_unregister(&un);
	mmu_notifier_unregister(&kn, kmm[0]);
	umn_interval_notifier_remove(&ui);
	mmu_interval_notifier_remove(&ki);
	mmput(kmm[0]);
	mmput(kmm[1]);
	for (i = 0; i < N; i++)
		umn_mm_put(mm[i]);
}
