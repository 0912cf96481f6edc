/* SPDX-License-Identifier: MIT */
#ifndef UMN_TESTS_PROC_CHECK_SIGNALS_H
#define UMN_TESTS_PROC_CHECK_SIGNALS_H

#include <check.h>

/* The case "signals" of umn-proc-tests (check_signals.c). */
const char *proc_signals_missing(void); /* NULL, or why not here */
void proc_signals_add(TCase *tc);
/* The case "signals-uffd": the same with the userfaultfd source. */
const char *proc_signals_uffd_missing(void);
void proc_signals_uffd_add(TCase *tc);

#endif
