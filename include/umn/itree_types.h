/* SPDX-License-Identifier: MIT */
/*
 * umn/itree_types.h - the node of umn's interval tree.
 *
 * The layout is public only so that struct umn_interval_notifier can embed
 * its node (the caller owns the memory).  Its fields are private to umn:
 * read and write them only through core/interval_tree.h.
 */
#ifndef UMN_ITREE_TYPES_H
#define UMN_ITREE_TYPES_H

/*
 * A closed interval [start, last] in an augmented red-black tree.
 * subtree_last = max(last of every node in the subtree rooted here).
 */
struct umn__itree_node {
	struct umn__itree_node *parent; /* NULL at the root */
	struct umn__itree_node *left;	/* starts <= start */
	struct umn__itree_node *right;	/* starts >= start */
	unsigned long start;		/* first address covered */
	unsigned long last;		/* last address covered (inclusive) */
	unsigned long subtree_last;	/* max(last) over this subtree */
	unsigned char red;		/* red-black colour */
};

struct umn__itree {
	struct umn__itree_node *root; /* NULL when empty */
};

#endif /* UMN_ITREE_TYPES_H */
