// SPDX-License-Identifier: MIT
/*
 * tests/check_itree.c - the interval tree against a brute-force model.
 */
#include <stdlib.h>

#include "../core/interval_tree.h"
#include "harness.h"

#define N 600

static struct umn__itree_node nodes[N];
static bool in[N];

static unsigned long rnd(unsigned long *state)
{
	/* xorshift64: reproducible, no global state */
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Every overlap of [s, l], found by the tree, in order, equals the model. */
static void check_query(struct umn__itree *tree, unsigned long s,
			unsigned long l)
{
	struct umn__itree_node *node;
	bool seen[N] = { false };
	unsigned long prev_start = 0;
	int i, found = 0, expected = 0;

	for (node = umn__itree_first(tree, s, l); node;
	     node = umn__itree_next(node, s, l)) {
		i = (int)(node - nodes);
		ck_assert_msg(in[i], "query returned a removed node");
		ck_assert_msg(node->start <= l && node->last >= s,
			      "query returned [%lu, %lu] for [%lu, %lu]",
			      node->start, node->last, s, l);
		ck_assert_msg(!seen[i], "node returned twice");
		ck_assert_uint_ge(node->start, prev_start);
		prev_start = node->start;
		seen[i] = true;
		found++;
	}
	for (i = 0; i < N; i++)
		expected += in[i] && nodes[i].start <= l && nodes[i].last >= s;
	ck_assert_int_eq(found, expected);
}

START_TEST(itree_random_against_model)
{
	struct umn__itree tree = { NULL };
	unsigned long state = 0x9e3779b97f4a7c15UL + (unsigned long)_i;
	int step, i;

	for (step = 0; step < 20000; step++) {
		i = (int)(rnd(&state) % N);
		if (in[i]) {
			umn__itree_remove(&tree, &nodes[i]);
			in[i] = false;
		} else {
			nodes[i].start = rnd(&state) % 4096;
			nodes[i].last = nodes[i].start + rnd(&state) % 64;
			umn__itree_insert(&tree, &nodes[i]);
			in[i] = true;
		}
		if (step % 97 == 0)
			ck_assert(umn__itree_is_valid(&tree));
		if (step % 13 == 0) {
			unsigned long s = rnd(&state) % 4200;

			check_query(&tree, s, s + rnd(&state) % 200);
		}
	}
	ck_assert(umn__itree_is_valid(&tree));
	check_query(&tree, 0, ~0UL);
}
END_TEST

START_TEST(itree_extremes)
{
	struct umn__itree tree = { NULL };
	struct umn__itree_node all = { .start = 0, .last = ~0UL };
	struct umn__itree_node top = { .start = ~0UL, .last = ~0UL };

	ck_assert_ptr_null(umn__itree_first(&tree, 0, ~0UL));
	umn__itree_insert(&tree, &all);
	umn__itree_insert(&tree, &top);
	ck_assert_ptr_eq(umn__itree_first(&tree, 5, 5), &all);
	ck_assert_ptr_null(umn__itree_next(&all, 5, 5));
	ck_assert_ptr_eq(umn__itree_next(&all, ~0UL, ~0UL), &top);
	umn__itree_remove(&tree, &all);
	ck_assert_ptr_null(umn__itree_first(&tree, 0, ~0UL - 1));
	umn__itree_remove(&tree, &top);
	ck_assert(umn__itree_empty(&tree));
}
END_TEST

/* The validator is an oracle: it must fail on a broken tree. */
START_TEST(itree_validator_catches_corruption)
{
	struct umn__itree tree = { NULL };
	struct umn__itree_node n[3] = { { .start = 10, .last = 20 },
					{ .start = 30, .last = 40 },
					{ .start = 50, .last = 60 } };
	int i;

	for (i = 0; i < 3; i++)
		umn__itree_insert(&tree, &n[i]);
	ck_assert(umn__itree_is_valid(&tree));
	n[1].subtree_last = 1; /* the root: stale augmentation */
	ck_assert(!umn__itree_is_valid(&tree));
	n[1].subtree_last = 60;
	n[0].red = 0; /* unequal black heights */
	ck_assert(!umn__itree_is_valid(&tree));
	n[0].red = 1;
	n[0].start = 35; /* out of order */
	ck_assert(!umn__itree_is_valid(&tree));
}
END_TEST

Suite *itree_suite(void)
{
	TCase *tc;
	Suite *s = one_case_suite("itree", 60, NULL, NULL, &tc);

	tcase_add_loop_test(tc, itree_random_against_model, 0, 4);
	tcase_add_test(tc, itree_extremes);
	tcase_add_test(tc, itree_validator_catches_corruption);
	return s;
}
