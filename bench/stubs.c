// SPDX-License-Identifier: MIT
/* Placeholders, replaced one by one as the benchmarks land. */
#include <stdio.h>

#include "bench.h"

void bench_regcache(void)
{
	printf("regcache: not yet\n");
}
