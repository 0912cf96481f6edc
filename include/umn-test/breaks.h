/* SPDX-License-Identifier: MIT */
/*
 * include/umn-test/breaks.h - deliberate breaks of the contract, for the
 * project's tests and tools (umn-torture, the fuzzer, the Check suites) to
 * show that their oracles catch them.  Not installed and not part of the
 * API: the installed headers only reserve the bits (the consumers' @flags
 * from bit 8 up, the soft MMU's frames config @breaks), which the
 * libraries accept and a program outside the project never sets.
 */
#ifndef UMN_TEST_BREAKS_H
#define UMN_TEST_BREAKS_H

/* struct umn_soft_frames_config.breaks */
#define UMN_SOFT_BREAK_THP_RANGE \
	(1 << 0) /* reclaim and cleaning invalidate only the first 4 KiB */
#define UMN_SOFT_BREAK_EARLY_FREE (1 << 1) /* free frames before the end */

/* umn_mirror_create()'s flags: contract 4 broken */
#define UMN_MIRROR_BREAK_RETRY	 (1U << 8) /* install without the seq check */
#define UMN_MIRROR_BREAK_COUNTER (1U << 9) /* classic: ignore the counter */

/* umn_devtlb_create()'s flags */
#define UMN_DEVTLB_BREAK_FLUSH \
	(1U << 8) /* ->invalidate_range flushes nothing */

/* umn_regcache_create()'s flags */
#define UMN_REGCACHE_BREAK_RETRY \
	(1U << 8) /* publish without checking for a collision */
#define UMN_REGCACHE_BREAK_INVALIDATE \
	(1U << 9) /* ->invalidate leaves the registration valid, cached */

/* umn_uring_create()'s flags (libumn-uring) */
#define UMN_URING_BREAK_INVALIDATE \
	(1U << 8) /* ->invalidate leaves the slot registered and valid */
#define UMN_URING_BREAK_RETRY \
	(1U << 9) /* publish a registration without checking for a collision */

#endif /* UMN_TEST_BREAKS_H */
