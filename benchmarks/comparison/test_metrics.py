"""Known-answer tests of metrics.py, worked by hand (run: python -m unittest test_metrics)."""

import math
import os
import sys
import unittest

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metrics  # noqa: E402

LOG3 = math.log2(3.0)


def csr(rows, items):
    indptr, indices = [0], []
    for r in rows:
        indices.extend(sorted(r))
        indptr.append(len(indices))
    return sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=(len(rows), items))


class ScoreTopK(unittest.TestCase):
    # test sets: user 0 {1, 3}, user 1 {0}, user 2 none (not averaged), user 3 {2, 4, 5}
    test = csr([{1, 3}, {0}, set(), {2, 4, 5}], 6)
    # user 0 hits at ranks 1 and 3; user 1 misses; user 3 repeats item 2 and has a gap (-1)
    topk = np.array([[3, 0, 1], [2, 4, 5], [0, 1, 2], [2, 2, -1]])

    def test_cutoff_two(self):
        m = metrics.score_topk(self.topk, self.test, cutoffs=(2,))
        idcg2 = 1.0 + 1.0 / LOG3
        # users 0 and 3 each hit at rank 1 and have >= 2 test items: ndcg 1 / idcg2
        self.assertAlmostEqual(m["ndcg@2"], 2.0 * (1.0 / idcg2) / 3.0, places=12)
        self.assertAlmostEqual(m["recall@2"], (0.5 + 0.0 + 1.0 / 3.0) / 3.0, places=12)
        self.assertAlmostEqual(m["precision@2"], (0.5 + 0.0 + 0.5) / 3.0, places=12)
        self.assertAlmostEqual(m["hit_rate@2"], 2.0 / 3.0, places=12)
        self.assertAlmostEqual(m["map@2"], (0.5 + 0.0 + 0.5) / 3.0, places=12)
        self.assertAlmostEqual(m["mrr@2"], 2.0 / 3.0, places=12)

    def test_cutoff_three_counts_a_repeat_once(self):
        m = metrics.score_topk(self.topk, self.test, cutoffs=(3,))
        ndcg_u0 = (1.0 + 1.0 / 2.0) / (1.0 + 1.0 / LOG3)  # hits at ranks 1, 3; IDCG over 2
        ndcg_u3 = 1.0 / (1.0 + 1.0 / LOG3 + 0.5)  # one hit (the repeat is not a second); IDCG over 3
        self.assertAlmostEqual(m["ndcg@3"], (ndcg_u0 + ndcg_u3) / 3.0, places=12)
        self.assertAlmostEqual(m["recall@3"], (1.0 + 0.0 + 1.0 / 3.0) / 3.0, places=12)
        self.assertAlmostEqual(m["precision@3"], (2.0 / 3.0 + 0.0 + 1.0 / 3.0) / 3.0, places=12)
        self.assertAlmostEqual(m["map@3"], ((1.0 + 2.0 / 3.0) / 2.0 + 0.0 + 1.0 / 3.0) / 3.0, places=12)
        f1_u0 = 2 * (2 / 3) * 1.0 / (2 / 3 + 1.0)
        f1_u3 = 2 * (1 / 3) * (1 / 3) / (2 / 3)
        self.assertAlmostEqual(m["f1@3"], (f1_u0 + 0.0 + f1_u3) / 3.0, places=12)

    def test_cutoff_beyond_list_divides_precision_by_k(self):
        m = metrics.score_topk(self.topk, self.test, cutoffs=(5,))
        self.assertAlmostEqual(m["precision@5"], (2.0 / 5.0 + 0.0 + 1.0 / 5.0) / 3.0, places=12)
        ndcg_u3 = 1.0 / (1.0 + 1.0 / LOG3 + 0.5)
        self.assertAlmostEqual(m["ndcg@5"], ((1.5) / (1.0 + 1.0 / LOG3) + ndcg_u3) / 3.0, places=12)

    def test_users_map_rows_to_test_rows(self):
        # one list, scored for user 3 only
        m = metrics.score_topk(np.array([[4, 0, 5]]), self.test, cutoffs=(3,), users=[3])
        self.assertAlmostEqual(m["recall@3"], 2.0 / 3.0, places=12)
        self.assertAlmostEqual(m["ndcg@3"], (1.0 + 0.5) / (1.0 + 1.0 / LOG3 + 0.5), places=12)
        self.assertAlmostEqual(metrics.ndcg_at_k(np.array([[4, 0, 5]]), self.test, 3, users=[3]), m["ndcg@3"])

    def test_no_test_users_gives_zero(self):
        m = metrics.score_topk(np.array([[0, 1]]), csr([set()], 3), cutoffs=(2,))
        self.assertEqual(m["ndcg@2"], 0.0)

    def test_bad_input_is_refused(self):
        with self.assertRaises(ValueError):
            metrics.score_topk(np.array([[0, 6]]), csr([{0}], 6), cutoffs=(2,))
        with self.assertRaises(ValueError):
            metrics.score_topk(np.array([[0, 1]]), csr([{0}], 6), cutoffs=(0,))
        with self.assertRaises(ValueError):
            metrics.score_topk(np.array([[0, 1]]), csr([{0}, {1}], 6), cutoffs=(2,), users=[0, 1])


class FromFactors(unittest.TestCase):
    U = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    V = np.array([[3.0, 0.0], [2.0, 1.0], [1.0, 2.0], [0.0, 3.0]], np.float32)  # u0 scores 3 2 1 0, u1 0 1 2 3

    def test_topk_sorted_and_train_masked(self):
        exclude = csr([{0}, set()], 4)
        top = metrics.topk_from_factors(self.U, self.V, 2, exclude=exclude)
        np.testing.assert_array_equal(top, [[1, 2], [3, 2]])

    def test_masked_items_never_fill_a_slot(self):
        exclude = csr([{0, 1, 2}, {0, 1, 2, 3}], 4)
        top = metrics.topk_from_factors(self.U, self.V, 3, exclude=exclude, block=1)
        np.testing.assert_array_equal(top, [[3, -1, -1], [-1, -1, -1]])

    def test_k_beyond_items_is_clipped(self):
        top = metrics.topk_from_factors(self.U, self.V, 10)
        np.testing.assert_array_equal(top, [[0, 1, 2, 3], [3, 2, 1, 0]])

    def test_evaluate_factors(self):
        train = csr([{0}, {3}], 4)
        test = csr([{2}, set()], 4)  # user 1 has no test and is not averaged
        m = metrics.evaluate_factors(self.U, self.V, train, test)
        # user 0's list: 1 2 3 -> the test item at rank 2
        self.assertAlmostEqual(m["ndcg@10"], 1.0 / LOG3, places=6)
        self.assertAlmostEqual(m["recall@20"], 1.0, places=12)
        self.assertAlmostEqual(m["precision@10"], 0.1, places=12)
        self.assertAlmostEqual(m["mrr@10"], 0.5, places=12)

    def test_shape_mismatch_is_refused(self):
        with self.assertRaises(ValueError):
            metrics.topk_from_factors(self.U, self.V[:, :1], 2)
        with self.assertRaises(ValueError):
            metrics.topk_from_factors(self.U, self.V, 2, exclude=csr([{0}], 4))


if __name__ == "__main__":
    unittest.main()
