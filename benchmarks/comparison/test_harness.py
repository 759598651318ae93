"""Tests of the harness's bookkeeping: the RESULTS.md section, inertia and neighbour agreement."""

import os
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import baselines  # noqa: E402
import harness  # noqa: E402


class WriteSection(unittest.TestCase):
    def test_appends_heading_and_markers_then_replaces_only_the_section(self):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "RESULTS.md"
            path.write_text("# results\n\nkept text\n")
            harness.write_section(path, f"{harness.BEGIN}\nfirst\n{harness.END}")
            text = path.read_text()
            self.assertIn(harness.HEADING, text)
            self.assertTrue(text.startswith("# results\n\nkept text\n"))
            path.write_text(text + "\n## later section\n")
            harness.write_section(path, f"{harness.BEGIN}\nsecond\n{harness.END}")
            text = path.read_text()
            self.assertNotIn("first", text)
            self.assertIn("second", text)
            self.assertEqual(text.count(harness.HEADING), 1)
            self.assertTrue(text.endswith("\n## later section\n"))


class Inertia(unittest.TestCase):
    def test_sum_of_squared_distances_to_the_nearest_centroid(self):
        X = np.array([[0, 0], [1, 0], [10, 10], [10, 12]], np.float32)
        C = np.array([[0.5, 0], [10, 11]], np.float32)
        # 0.25 + 0.25 + 1 + 1
        self.assertAlmostEqual(baselines.inertia(X, C, block=3), 2.5, places=6)

    def test_best_of_restarts_and_worst_per_k_ratio(self):
        mine = [{"k": 2, "inertia": 10.0}, {"k": 2, "inertia": 8.0}, {"k": 3, "inertia": 6.0}]
        theirs = [{"k": 2, "inertia": 9.0}, {"k": 3, "inertia": 5.0}, {"k": 3, "inertia": 7.0}]
        self.assertEqual(harness.best_inertia_per_k(mine), {2: 8.0, 3: 6.0})
        self.assertAlmostEqual(harness.worst_per_k_ratio(mine, theirs), 6.0 / 5.0)

    def test_problem_order_matches_cohort_compare(self):
        self.assertEqual(baselines.kmeans_problems(2, 3, 2), [(2, 0), (2, 1), (3, 0), (3, 1)])
        self.assertEqual(baselines.kmeans_problems(2, 32, 3, k=64), [(64, 0), (64, 1), (64, 2)])


class NeighbourAgreement(unittest.TestCase):
    def test_shared_share_and_score_difference(self):
        mine = (np.array([[1, 2], [0, -1], [-1, -1]]), np.array([[0.9, 0.5], [0.3, 0], [0, 0]], np.float32))
        theirs = (np.array([[2, 3], [0, -1], [-1, -1]]), np.array([[0.9, 0.4], [0.3, 0], [0, 0]], np.float32))
        a = harness.neighbour_agreement(mine, theirs)
        # item 0 shares 1 of 2, item 1 shares 1 of 1, item 2 has no neighbours and is not averaged
        self.assertAlmostEqual(a["overlap"], 0.75)
        self.assertAlmostEqual(a["max_score_diff"], 0.1, places=6)
        self.assertEqual(a["count_mismatch_rows"], 0)

    def test_flat_files_are_reshaped_and_wrong_sizes_refused(self):
        with tempfile.TemporaryDirectory() as d:
            np.save(Path(d) / "knn_index.npy", np.arange(6, dtype=np.int32))
            np.save(Path(d) / "knn_score.npy", np.ones(6, np.float32))
            index, score = harness.load_neighbours(d, 2, 3)
            self.assertEqual(index.shape, (3, 2))
            self.assertEqual(index[2, 1], 5)
            with self.assertRaises(harness.StepFailed):
                harness.load_neighbours(d, 4, 3)


if __name__ == "__main__":
    unittest.main()
