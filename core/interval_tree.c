// SPDX-License-Identifier: MIT
/*
 * core/interval_tree.c - augmented red-black interval tree.
 *
 * The red-black rules are the textbook ones (a missing child counts as a
 * black leaf).  The augmentation is kept by two facts:
 *
 *   subtree_last(n) = max(n->last, subtree_last(n->left),
 *                         subtree_last(n->right))
 *
 *   a rotation does not change the set of nodes below the position it
 *   rotates, so it only has to recompute the two nodes it moves; every
 *   ancestor stays right.
 *
 * Insert and remove therefore first fix subtree_last on the path from the
 * changed position to the root, then rebalance with rotations.
 */
#include <stdio.h>

#include "interval_tree.h"

typedef struct umn__itree_node node_t;

static unsigned long subtree_last(const node_t *n)
{
	unsigned long max = n->last;

	if (n->left && n->left->subtree_last > max)
		max = n->left->subtree_last;
	if (n->right && n->right->subtree_last > max)
		max = n->right->subtree_last;
	return max;
}

static bool is_red(const node_t *n)
{
	return n && n->red;
}

/* Make @new take @old's place under @parent (or at the root). */
static void replace_child(struct umn__itree *tree, node_t *parent, node_t *old,
			  node_t *new)
{
	if (!parent)
		tree->root = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
}

static void rotate_left(struct umn__itree *tree, node_t *x)
{
	node_t *y = x->right;

	x->right = y->left;
	if (y->left)
		y->left->parent = x;
	y->parent = x->parent;
	replace_child(tree, x->parent, x, y);
	y->left = x;
	x->parent = y;

	y->subtree_last = x->subtree_last; /* same set of nodes */
	x->subtree_last = subtree_last(x);
}

static void rotate_right(struct umn__itree *tree, node_t *x)
{
	node_t *y = x->left;

	x->left = y->right;
	if (y->right)
		y->right->parent = x;
	y->parent = x->parent;
	replace_child(tree, x->parent, x, y);
	y->right = x;
	x->parent = y;

	y->subtree_last = x->subtree_last;
	x->subtree_last = subtree_last(x);
}

static void insert_fixup(struct umn__itree *tree, node_t *n)
{
	node_t *p, *g, *uncle;

	while ((p = n->parent) && p->red) {
		g = p->parent; /* p is red, so it is not the root */
		if (p == g->left) {
			uncle = g->right;
			if (is_red(uncle)) {
				p->red = uncle->red = 0;
				g->red = 1;
				n = g;
				continue;
			}
			if (n == p->right) {
				rotate_left(tree, p);
				n = p;
				p = n->parent;
			}
			p->red = 0;
			g->red = 1;
			rotate_right(tree, g);
			break;
		} else {
			uncle = g->left;
			if (is_red(uncle)) {
				p->red = uncle->red = 0;
				g->red = 1;
				n = g;
				continue;
			}
			if (n == p->left) {
				rotate_right(tree, p);
				n = p;
				p = n->parent;
			}
			p->red = 0;
			g->red = 1;
			rotate_left(tree, g);
			break;
		}
	}
	tree->root->red = 0;
}

void umn__itree_insert(struct umn__itree *tree, node_t *n)
{
	node_t **link = &tree->root, *parent = NULL;

	while (*link) {
		parent = *link;
		if (parent->subtree_last < n->last)
			parent->subtree_last = n->last;
		link = n->start < parent->start ? &parent->left
						: &parent->right;
	}
	n->parent = parent;
	n->left = n->right = NULL;
	n->subtree_last = n->last;
	n->red = 1;
	*link = n;
	insert_fixup(tree, n);
}

/* @x (maybe NULL) under @parent lost one black node on its path. */
static void remove_fixup(struct umn__itree *tree, node_t *x, node_t *parent)
{
	node_t *w;

	while (x != tree->root && !is_red(x)) {
		if (x == parent->left) {
			w = parent->right; /* not NULL: its side is black-taller */
			if (w->red) {
				w->red = 0;
				parent->red = 1;
				rotate_left(tree, parent);
				w = parent->right;
			}
			if (!is_red(w->left) && !is_red(w->right)) {
				w->red = 1;
				x = parent;
				parent = x->parent;
				continue;
			}
			if (!is_red(w->right)) {
				w->left->red = 0;
				w->red = 1;
				rotate_right(tree, w);
				w = parent->right;
			}
			w->red = parent->red;
			parent->red = 0;
			w->right->red = 0;
			rotate_left(tree, parent);
		} else {
			w = parent->left;
			if (w->red) {
				w->red = 0;
				parent->red = 1;
				rotate_right(tree, parent);
				w = parent->left;
			}
			if (!is_red(w->left) && !is_red(w->right)) {
				w->red = 1;
				x = parent;
				parent = x->parent;
				continue;
			}
			if (!is_red(w->left)) {
				w->right->red = 0;
				w->red = 1;
				rotate_left(tree, w);
				w = parent->left;
			}
			w->red = parent->red;
			parent->red = 0;
			w->left->red = 0;
			rotate_right(tree, parent);
		}
		x = tree->root;
	}
	if (x)
		x->red = 0;
}

void umn__itree_remove(struct umn__itree *tree, node_t *z)
{
	node_t *child, *parent, *y;
	bool removed_black;

	if (!z->left || !z->right) {
		child = z->left ? z->left : z->right;
		parent = z->parent;
		removed_black = !z->red;
		replace_child(tree, parent, z, child);
		if (child)
			child->parent = parent;
	} else {
		/* Splice out z's successor y, then put y in z's place. */
		y = z->right;
		while (y->left)
			y = y->left;
		removed_black = !y->red;
		child = y->right;
		if (y->parent == z) {
			parent = y;
		} else {
			parent = y->parent;
			parent->left = child;
			if (child)
				child->parent = parent;
			y->right = z->right;
			y->right->parent = y;
		}
		y->left = z->left;
		y->left->parent = y;
		y->parent = z->parent;
		replace_child(tree, z->parent, z, y);
		y->red = z->red;
	}
	/* The path from the spliced position up (through y) lost a node. */
	for (y = parent; y; y = y->parent)
		y->subtree_last = subtree_last(y);
	if (removed_black)
		remove_fixup(tree, child, parent);
}

/* Leftmost node of @n's subtree overlapping [start, last]; needs
 * n->subtree_last >= start. */
static node_t *subtree_search(node_t *n, unsigned long start,
			      unsigned long last)
{
	for (;;) {
		/*
		 * If the left subtree reaches start, the leftmost overlap is
		 * there or nowhere: every node from n rightwards starts at or
		 * after the left subtree's starts.
		 */
		if (n->left && n->left->subtree_last >= start) {
			n = n->left;
			continue;
		}
		if (n->start > last)
			return NULL;
		if (n->last >= start)
			return n;
		n = n->right;
		if (!n || n->subtree_last < start)
			return NULL;
	}
}

node_t *umn__itree_first(const struct umn__itree *tree, unsigned long start,
			 unsigned long last)
{
	node_t *root = tree->root;

	if (!root || root->subtree_last < start)
		return NULL;
	return subtree_search(root, start, last);
}

node_t *umn__itree_next(node_t *n, unsigned long start, unsigned long last)
{
	node_t *prev;

	for (;;) {
		if (n->right && n->right->subtree_last >= start)
			return subtree_search(n->right, start, last);
		/* Climb until we arrive from a left child. */
		do {
			prev = n;
			n = n->parent;
			if (!n)
				return NULL;
		} while (n->right == prev);
		if (n->start > last)
			return NULL;
		if (n->last >= start)
			return n;
	}
}

static bool fail(const char *what, const node_t *n)
{
	fprintf(stderr, "umn: interval tree: %s at [%#lx, %#lx]\n", what,
		n->start, n->last);
	return false;
}

/* Check @n's subtree; store its black height in *bh. */
static bool subtree_is_valid(const node_t *n, int *bh)
{
	int lbh = 0, rbh = 0;

	if (!n) {
		*bh = 1;
		return true;
	}
	if (n->start > n->last)
		return fail("start after last", n);
	if (n->left && (n->left->parent != n || n->left->start > n->start))
		return fail("bad left child", n);
	if (n->right && (n->right->parent != n || n->right->start < n->start))
		return fail("bad right child", n);
	if (n->red && (is_red(n->left) || is_red(n->right)))
		return fail("red node with a red child", n);
	if (n->subtree_last != subtree_last(n))
		return fail("stale subtree_last", n);
	if (!subtree_is_valid(n->left, &lbh) ||
	    !subtree_is_valid(n->right, &rbh))
		return false;
	if (lbh != rbh)
		return fail("unequal black heights", n);
	*bh = lbh + !n->red;
	return true;
}

bool umn__itree_is_valid(const struct umn__itree *tree)
{
	int bh;

	if (!tree->root)
		return true;
	if (tree->root->parent || tree->root->red)
		return fail("bad root", tree->root);
	return subtree_is_valid(tree->root, &bh);
}
