/* SPDX-License-Identifier: MIT */
/*
 * core/interval_tree.h - an augmented red-black tree of closed intervals.
 *
 * The tree is generic: it knows nothing of notifiers.  Every operation is
 * O(log n); a query for all k intervals that overlap [start, last] costs
 * O(log n + k), because each node carries the largest "last" of its subtree
 * and the search skips every subtree whose largest "last" ends before
 * "start".
 *
 * Intervals are closed: [start, last], so that the whole address space
 * [0, ULONG_MAX] can be expressed.  Several nodes may have the same start.
 *
 * The tree does no locking; its owner serialises writers against readers.
 */
#ifndef UMN_CORE_INTERVAL_TREE_H
#define UMN_CORE_INTERVAL_TREE_H

#include <stdbool.h>
#include <umn/itree_types.h>

/* Insert @node, whose start and last are set, into @tree. */
void umn__itree_insert(struct umn__itree *tree, struct umn__itree_node *node);

/* Remove @node, which is in @tree. */
void umn__itree_remove(struct umn__itree *tree, struct umn__itree_node *node);

/*
 * The first node, in order of start, that overlaps [start, last], or NULL.
 * Requires start <= last.
 */
struct umn__itree_node *umn__itree_first(const struct umn__itree *tree,
					 unsigned long start,
					 unsigned long last);

/* The node after @node, in order of start, that overlaps [start, last]. */
struct umn__itree_node *umn__itree_next(struct umn__itree_node *node,
					unsigned long start,
					unsigned long last);

static inline bool umn__itree_empty(const struct umn__itree *tree)
{
	return !tree->root;
}

/*
 * Walk the whole tree and check every invariant: parent links, binary-search
 * order on start, the red-black rules (red root excepted: the root is black,
 * no red node has a red child, every path has the same number of black
 * nodes) and every subtree_last.  Returns true when all hold; otherwise
 * prints the first broken rule to stderr and returns false.  O(n).
 */
bool umn__itree_is_valid(const struct umn__itree *tree);

#endif /* UMN_CORE_INTERVAL_TREE_H */
