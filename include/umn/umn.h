/* SPDX-License-Identifier: MIT */
/*
 * umn/umn.h - user-space MMU notifiers: everything of the core.
 */
#ifndef UMN_UMN_H
#define UMN_UMN_H

#include <umn/mm.h>
#include <umn/notifier.h>
#include <umn/interval.h>
#include <umn/debug.h>

#endif /* UMN_UMN_H */
