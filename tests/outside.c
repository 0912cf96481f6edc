// SPDX-License-Identifier: MIT
/* A program outside the tree, built against the installed umn. */
#include <stdio.h>
#include <umn/proc.h>
#include <umn/umn.h>

static int starts;

static int start(struct umn_notifier *n, const struct umn_range *range)
{
	(void)n, (void)range;
	starts++;
	return 0;
}

static const struct umn_notifier_ops ops = {
	.name = "outside",
	.invalidate_range_start = start,
};

int main(void)
{
	struct umn_notifier n = { 0 };
	struct umn_range range;
	struct umn_mm *mm;

	if (umn_mm_create(NULL, NULL, &mm) ||
	    umn_notifier_register(&n, &ops, mm))
		return 1;
	umn_range_init(&range, mm, 0, UMN_PAGE_SIZE, UMN_EVENT_UNMAP,
		       UMN_RANGE_BLOCKABLE, NULL);
	if (umn_invalidate_range_start(&range))
		return 1;
	umn_invalidate_range_end(&range);
	if (umn_notifier_unregister(&n) || umn_mm_release(mm))
		return 1;
	umn_mm_put(mm);
	/* Pulls the process primary into a static link, and with it the
	 * dlopen and dlsym that umn.pc's Libs.private must name. */
	if (umn_proc_sources() != 0)
		return 1;
	printf("outside: %d start\n", starts);
	return starts == 1 ? 0 : 1;
}
