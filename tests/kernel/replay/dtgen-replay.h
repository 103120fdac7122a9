/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The helpers of the replayed boards (tests/scenario_replay.py writes dtgen-replay-helpers.c,
 * the table, beside the boards' generated helper files).
 */
#ifndef _DTGEN_REPLAY_H
#define _DTGEN_REPLAY_H

#include <linux/types.h>

struct device;
struct page;

struct dtgen_replay_helper {
	const char *board;
	struct page *(*alloc)(struct device *dev, const char *kind, size_t size, bool no_warn);
	bool (*release)(struct device *dev, const char *kind, struct page *pages, size_t size);
};

/* Ended by an entry whose board is NULL. */
extern const struct dtgen_replay_helper dtgen_replay_helpers[];

#endif /* _DTGEN_REPLAY_H */
