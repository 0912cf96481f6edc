// SPDX-License-Identifier: MIT
/*
 * libumn-proc-events-dso.so - a library that umn-proc-events dlopen()s
 * after umn has started, to show that a munmap() call made from code
 * loaded later is seen too.
 */
#include <stddef.h>
#include <sys/mman.h>

int umn_events_dso_munmap(void *addr, size_t len);

__attribute__((visibility("default"))) int umn_events_dso_munmap(void *addr,
								 size_t len)
{
	return munmap(addr, len);
}
