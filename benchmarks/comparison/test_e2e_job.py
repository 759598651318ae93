"""Tests of e2e_job.py: its metrics on hand-worked cases, its top-k order, the fold-in, and a
whole run on a tiny planted split (written here in the format `cohort_compare split` writes).

    python -m unittest benchmarks/comparison/test_e2e_job.py
"""

import contextlib
import io
import json
import math
import os
import sys
import tempfile
import unittest

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_job  # noqa: E402


def csr(rows, items):
    """A CSR with one row per list of item indices, values 1."""
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.array([i for r in rows for i in sorted(r)], dtype=np.int32)
    return sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=(len(rows), items))


def write_planted_split(folder, users=120, items=60, groups=3, seed=7):
    """A log where each planted group of users picks mostly from its own third of the items,
    and a split that follows evaluation.md: every 10th user with >= 6 interactions is cold
    (earliest n revealed), the others hold out their latest 20%."""
    rng = np.random.default_rng(seed)
    truth = np.arange(users) % groups
    per_group = items // groups
    log = []  # (user, item, rating, timestamp)
    for u in range(users):
        own = rng.choice(per_group, size=10, replace=False) + truth[u] * per_group
        other = rng.choice(items, size=2, replace=False)
        chosen = sorted(set(own.tolist()) | set(other.tolist()))
        times = rng.permutation(len(chosen))
        for item, t in zip(chosen, times):
            log.append((u, item, float(rng.integers(1, 6)), 1_000_000 + int(t)))
    with open(os.path.join(folder, "interactions.csv"), "w", encoding="utf-8") as f:
        f.write("user_id,item_id,rating,timestamp\n")
        for u, i, r, t in log:
            f.write(f"u{u:04d},i{i:04d},{int(r)},{t}\n")
    split_dir = os.path.join(folder, "split")
    os.makedirs(split_dir)
    with open(os.path.join(split_dir, "user_ids.txt"), "w", encoding="utf-8") as f:
        f.writelines(f"u{u:04d}\n" for u in range(users))
    with open(os.path.join(split_dir, "item_ids.txt"), "w", encoding="utf-8") as f:
        f.writelines(f"i{i:04d}\n" for i in range(items))

    by_user = [sorted((t, i, r) for uu, i, r, t in log if uu == u) for u in range(users)]
    cold = [u for u in range(users) if u % 10 == 0 and len(by_user[u]) >= 6]
    parts = {name: [[] for _ in range(users)] for name in
             ["train", "test"] + [f"cold{n}_{p}" for n in (1, 3, 5) for p in ("revealed", "test")]}
    for u, events in enumerate(by_user):
        if u in cold:
            for n in (1, 3, 5):
                parts[f"cold{n}_revealed"][u] = events[:n]
                parts[f"cold{n}_test"][u] = events[n:]
        else:
            held = max(1, round(0.2 * len(events)))
            parts["train"][u] = events[:-held]
            parts["test"][u] = events[-held:]
    for name, rows in parts.items():
        indptr = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
        ordered = [sorted((i, r) for _, i, r in row) for row in rows]
        np.save(os.path.join(split_dir, f"{name}_indptr.npy"), indptr)
        np.save(os.path.join(split_dir, f"{name}_indices.npy"), np.array([i for row in ordered for i, _ in row], np.int32))
        np.save(os.path.join(split_dir, f"{name}_data.npy"), np.array([r for row in ordered for _, r in row], np.float32))
    np.save(os.path.join(split_dir, "cold_users.npy"), np.array(cold, np.int32))
    np.save(os.path.join(split_dir, "truth.npy"), truth.astype(np.int32))
    with open(os.path.join(split_dir, "shape.json"), "w", encoding="utf-8") as f:
        json.dump({"users": users, "items": items, "interactions": len(log), "cold_users": len(cold)}, f)
    return os.path.join(folder, "interactions.csv"), split_dir


class MetricsTest(unittest.TestCase):
    def metrics(self, recs, test_rows, items=10):
        per_user = e2e_job.score_users(np.array(recs, np.int32), csr(test_rows, items))
        return e2e_job.summarize(per_user, np.array(recs, np.int32), items)

    def test_perfect_recommender_scores_one(self):
        recs = [[3, 1, -1, -1] + [-1] * 16, [0, 2, 5, 7] + [-1] * 16]
        m = self.metrics(recs, [[1, 3], [0, 2, 5, 7]])
        for name in ("ndcg@10", "ndcg@20", "recall@10", "hit_rate@10", "mrr@10", "map@10", "map@20"):
            self.assertAlmostEqual(m[name], 1.0, msg=name)
        self.assertAlmostEqual(m["precision@10"], (2 / 10 + 4 / 10) / 2)

    def test_one_hit_at_rank_two_worked_by_hand(self):
        # Test {4}; list 9, 4, 1: one hit at rank 2.
        m = self.metrics([[9, 4, 1] + [-1] * 17], [[4]])
        self.assertAlmostEqual(m["ndcg@10"], 1.0 / math.log2(3.0))
        self.assertAlmostEqual(m["mrr@10"], 0.5)
        self.assertAlmostEqual(m["map@10"], 0.5)
        self.assertAlmostEqual(m["precision@10"], 0.1)
        self.assertAlmostEqual(m["precision@20"], 0.05)
        self.assertAlmostEqual(m["recall@20"], 1.0)
        self.assertAlmostEqual(m["f1@10"], 2 * 0.1 * 1.0 / 1.1)
        self.assertAlmostEqual(m["coverage@10"], 3 / 10)

    def test_map_and_ndcg_with_two_of_three_relevant(self):
        # Test {0, 1, 2}; hits at ranks 1 and 3: AP = (1/1 + 2/3) / 3; DCG = 1 + 1/2.
        m = self.metrics([[0, 5, 2] + [-1] * 17], [[0, 1, 2]])
        self.assertAlmostEqual(m["map@10"], (1 + 2 / 3) / 3)
        idcg = 1 + 1 / math.log2(3) + 0.5
        self.assertAlmostEqual(m["ndcg@10"], 1.5 / idcg)

    def test_users_without_test_are_left_out_of_the_means(self):
        m = self.metrics([[1] + [-1] * 19, [2] + [-1] * 19], [[1], []])
        self.assertAlmostEqual(m["hit_rate@10"], 1.0)
        self.assertAlmostEqual(m["coverage@10"], 1 / 10)

    def test_an_empty_subset_scores_zero(self):
        recs = np.array([[1] + [-1] * 19], np.int32)
        per_user = e2e_job.score_users(recs, csr([[1]], 10))
        m = e2e_job.summarize(per_user, recs, 10, subset=[])
        self.assertEqual(m["ndcg@10"], 0.0)
        self.assertEqual(m["coverage@10"], 0.0)

    def test_no_hits_scores_zero(self):
        m = self.metrics([[5, 6] + [-1] * 18], [[1]])
        self.assertEqual(m["ndcg@20"], 0.0)
        self.assertEqual(m["mrr@20"], 0.0)


class TopKTest(unittest.TestCase):
    def test_ties_by_ascending_index_and_padding(self):
        s = np.array([[0.5, 0.9, 0.5, -np.inf, 0.5, 0.1],
                      [-np.inf, -np.inf, 2.0, -np.inf, -np.inf, -np.inf]], np.float32)
        items, scores = e2e_job.top_k(s, 4)
        np.testing.assert_array_equal(items, [[1, 0, 2, 4], [2, -1, -1, -1]])
        np.testing.assert_allclose(scores, [[0.9, 0.5, 0.5, 0.5], [2.0, 0, 0, 0]])

    def test_matches_a_full_sort_on_random_ties(self):
        rng = np.random.default_rng(11)
        for _ in range(100):
            rows, items, k = rng.integers(1, 6), rng.integers(1, 30), int(rng.integers(1, 25))
            s = rng.integers(0, 4, size=(rows, items)).astype(np.float32)
            s[rng.random((rows, items)) < 0.3] = -np.inf
            got, _ = e2e_job.top_k(s, k)
            for r in range(rows):
                ranked = sorted((-s[r, i], i) for i in range(items) if np.isfinite(s[r, i]))[:k]
                want = [i for _, i in ranked] + [-1] * (k - len(ranked))
                self.assertEqual(got[r].tolist(), want, f"scores {s[r]}, k {k}")

    def test_k_beyond_the_items(self):
        items, _ = e2e_job.top_k(np.array([[1.0, 3.0]], np.float32), 4)
        np.testing.assert_array_equal(items, [[1, 0, -1, -1]])

    def test_seen_items_are_never_recommended(self):
        train = csr([[0, 1], [2], [0, 2]], 4)
        model = e2e_job.RecommendModel(train, np.array([0, 1, 0]), 2, np.eye(4, 3, dtype=np.float32), 3, 1)
        seen = csr([[0, 1, 2]], 4)
        for kind in e2e_job.RECOMMENDERS:
            recs, _ = e2e_job.recommend(kind, model, seen, np.ones((1, 3), np.float32), np.array([0]), 4)
            self.assertTrue(set(recs[0].tolist()) <= {3, -1}, kind)

    def test_popularity_and_group_scores(self):
        # Items 0..3; group 0 = users 0, 1; group 1 = user 2.
        train = csr([[0, 1], [0], [2, 3]], 4)
        model = e2e_job.RecommendModel(train, np.array([0, 0, 1]), 2, np.ones((4, 2), np.float32), 2, 1)
        np.testing.assert_allclose(model.popularity, [1.0, 0.5, 0.5, 0.5])
        np.testing.assert_allclose(model.group_table[:2], [[1.0, 0.5, 0, 0], [0, 0, 1.0, 1.0]])
        recs, _ = e2e_job.recommend("group", model, csr([[]], 4), np.ones((1, 2), np.float32), np.array([-1]), 2)
        np.testing.assert_array_equal(recs, [[0, 1]])  # no group: popularity, ties by index


class FoldInTest(unittest.TestCase):
    def test_solves_the_implicit_normal_equations(self):
        rng = np.random.default_rng(3)
        y = rng.normal(size=(8, 3)).astype(np.float32)
        rows = sp.csr_matrix(np.array([[2.0, 0, 0, 1.0, 0, 0, 0, 0], [0] * 8], np.float32))
        x = e2e_job.fold_in(rows, y, alpha=2.0, regularization=0.1)
        yd = y.astype(np.float64)
        c = np.array([5.0, 3.0])
        ys = yd[[0, 3]]
        a = yd.T @ yd + 0.1 * np.eye(3) + (ys.T * (c - 1)) @ ys
        np.testing.assert_allclose(a @ x[0], ys.T @ c, rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(x[1], 0.0)


class ReadLogTest(unittest.TestCase):
    """The job reads the formats cohort reads: MovieLens u.data / ratings.dat / ratings.csv, CSV."""

    def read(self, text):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "log")
            with open(path, "w") as f:
                f.write(text)
            users, items = {"1": 0, "2": 1}, {"10": 0, "20": 1}
            return e2e_job.read_log(path, users, items)

    def check(self, text):
        log, skipped = self.read(text)
        self.assertEqual(skipped, 1)  # user 3 is unknown to the split
        np.testing.assert_array_equal(log.toarray(), [[4.0, 0.0], [0.0, 2.5]])

    def test_movielens_u_data_tab_no_header(self):
        self.check("1\t10\t4\t881250949\n2\t20\t2.5\t881250950\n3\t10\t1\t1\n")

    def test_movielens_ratings_dat(self):
        self.check("1::10::4::978300760\n2::20::2.5::978300761\n3::10::1::1\n")

    def test_movielens_ratings_csv_header(self):
        self.check("userId,movieId,rating,timestamp\n1,10,4,1\n2,20,2.5,2\n3,10,1,3\n")

    def test_generated_csv_header(self):
        self.check("user_id,item_id,rating,timestamp\n1,10,4,1\n2,20,2.5,2\n3,10,1,3\n")

    def test_header_without_user_and_item_columns_is_refused(self):
        with self.assertRaises(e2e_job.InputError):
            self.read("a,b,c\n1,10,4\n")

    def test_bad_rating_names_the_line(self):
        with self.assertRaisesRegex(e2e_job.InputError, r":3: bad rating"):
            self.read("user_id,item_id,rating\n1,10,4\n2,20,x\n")


class JobTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.log, cls.split = write_planted_split(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_job(self, *extra):
        out = os.path.join(self.tmp.name, "out")
        argv = ["--input", self.log, "--split", self.split, "--out", out, "--threads", "1", "--factors", "8",
                "--iterations", "5", "--k-min", "2", "--k-max", "5", "--restarts", "2", "--neighbours", "10"]
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            rc = e2e_job.main(argv + list(extra))
        return rc, out, stderr.getvalue()

    def test_writes_cohorts_schema_with_sane_values(self):
        rc, out, stderr = self.run_job()
        self.assertEqual(rc, 0, stderr)
        with open(os.path.join(out, "metrics.json"), encoding="utf-8") as f:
            m = json.load(f)
        self.assertEqual(m["dataset"]["users"], 120)
        self.assertEqual(m["dataset"]["items"], 60)
        self.assertEqual(m["dataset"]["skipped_lines"], 0)
        self.assertEqual(m["dataset"]["cold_users"], 12)
        for key in ("k", "silhouette", "davies_bouldin", "inertia", "ari", "nmi", "sizes", "k_scores"):
            self.assertIn(key, m["groups"])
        self.assertTrue(2 <= m["groups"]["k"] <= 5)
        self.assertEqual(sum(m["groups"]["sizes"]), 120 - 12)
        self.assertEqual([s["k"] for s in m["groups"]["k_scores"]], [2, 3, 4, 5])
        # Three planted groups, well apart: found, and the cold users routed to them.
        self.assertEqual(m["groups"]["k"], 3)
        self.assertGreater(m["groups"]["ari"], 0.8)
        names = {f"{metric}@{k}" for k in (10, 20) for metric in e2e_job.PER_USER_METRICS + ("coverage",)}
        sections = [m["recommendation"]["warm"]] + [m["recommendation"]["cold_start"][n] for n in ("1", "3", "5")]
        for section in sections:
            self.assertEqual(set(section), set(e2e_job.RECOMMENDERS))
            for rec, values in section.items():
                self.assertEqual(set(values), names, rec)
                for name, v in values.items():
                    self.assertTrue(0.0 <= v <= 1.0, f"{rec} {name} = {v}")
        # Group-aware recommenders beat popularity on planted groups.
        warm = m["recommendation"]["warm"]
        self.assertGreater(warm["group"]["ndcg@10"], warm["popularity"]["ndcg@10"])
        self.assertGreater(m["recommendation"]["cold_start"]["5"]["blend"]["recall@20"],
                           m["recommendation"]["cold_start"]["5"]["popularity"]["recall@20"])
        self.assertEqual(sum(g["users"] for g in m["recommendation"]["per_group"]), m["dataset"]["warm_test_users"])
        for phase in ("load", "train", "groups", "evaluate", "total"):
            self.assertGreaterEqual(m["timings_s"][phase], 0.0)
        self.assertGreaterEqual(m["timings_s"]["total"], m["timings_s"]["train"] + m["timings_s"]["groups"])

    def test_missing_split_files_exit_2_with_a_message(self):
        out = os.path.join(self.tmp.name, "bad")
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            rc = e2e_job.main(["--input", self.log, "--split", out, "--out", out])
        self.assertEqual(rc, 2)
        self.assertIn("user_ids.txt", stderr.getvalue())

    def test_bad_arguments_are_refused(self):
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit) as e:
            e2e_job.main(["--input", self.log, "--split", self.split, "--out", "x", "--k-min", "1"])
        self.assertEqual(e.exception.code, 2)


if __name__ == "__main__":
    unittest.main()
