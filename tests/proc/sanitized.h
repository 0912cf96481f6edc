/* SPDX-License-Identifier: MIT */
/*
 * tests/proc/sanitized.h - what the process tests need to know of the
 * build: a sanitizer's runtime replaces malloc and maps memory with raw
 * system calls (and TSan's cannot follow a thread that exits through the
 * hooks); and ctest's status for a test that cannot run here.
 */
#ifndef UMN_TESTS_PROC_SANITIZED_H
#define UMN_TESTS_PROC_SANITIZED_H

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif
#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#else
#define TSAN 0
#endif

/* Exit status of a test that cannot run here (ctest's SKIP_RETURN_CODE). */
#define SKIP 77

#endif /* UMN_TESTS_PROC_SANITIZED_H */
