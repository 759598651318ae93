"""The Python stub over libcohort: the C end-to-end scenario at a small size, and errors.
Run as a script with PYTHONPATH=python_stub and COHORT_LIBRARY=path/to/libcohort.so."""

import os
import tempfile
import unittest

import numpy as np

import cohort

USERS, ITEMS, BLOCK, PER_USER, FACTORS = 60, 20, 10, 5, 4


def planted():
    """Two groups of users, each on its own half of the items."""
    rng = np.random.default_rng(3)
    users, items = [], []
    for u in range(USERS):
        block = 0 if u < USERS // 2 else 1
        for j in rng.choice(BLOCK, PER_USER, replace=False):
            users.append(u)
            items.append(block * BLOCK + int(j))
    return np.array(users), np.array(items)


class StubTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ctx = cohort.Context(backend="cpu", seed=5)
        cls.users, cls.items = planted()
        cls.data = cohort.Dataset.from_coo(cls.users, cls.items, np.ones(len(cls.users)), USERS, ITEMS)
        cls.model = cohort.Model.train(cls.ctx, cls.data, factors=FACTORS, iterations=10, solver="cholesky",
                                       regularization=0.1)
        cls.groups = cohort.Groups.discover(cls.ctx, cls.data, cls.model, k=2)

    def test_library(self):
        self.assertEqual(cohort.version(), "0.1.0")
        self.assertEqual(cohort.backends_available()[0], "cpu")
        self.assertEqual(self.ctx.backend, "cpu")
        self.assertEqual(self.data.shape, (USERS, ITEMS, len(self.users)))
        self.assertEqual(self.data.user_id(7), "7")

    def test_factors(self):
        self.assertEqual(self.model.shape, (USERS, ITEMS, FACTORS))
        self.assertEqual(self.model.user_factors.shape, (USERS, FACTORS))
        self.assertEqual(self.model.item_factors.shape, (ITEMS, FACTORS))
        self.assertTrue(np.all(np.isfinite(self.model.user_factors)))

    def test_workers_train_the_one_worker_model(self):
        ctx = cohort.Context(backend="cpu", seed=5, workers=2)
        model = cohort.Model.train(ctx, self.data, factors=FACTORS, iterations=10, solver="cholesky",
                                   regularization=0.1)
        np.testing.assert_array_equal(model.user_factors, self.model.user_factors)
        np.testing.assert_array_equal(model.item_factors, self.model.item_factors)

    def test_groups_recover_planted_blocks(self):
        self.assertEqual(self.groups.k, 2)
        group, confidence = self.groups.assignment
        self.assertEqual(len(set(group[: USERS // 2])), 1)
        self.assertEqual(len(set(group[USERS // 2:])), 1)
        self.assertNotEqual(group[0], group[-1])
        self.assertTrue(np.all((confidence >= 0) & (confidence <= 1)))

    def test_recommend_excludes_seen_items(self):
        seen = {(u, i) for u, i in zip(self.users.tolist(), self.items.tolist())}
        for kind in ("als", "popularity", "group", "blend", "item_knn"):
            items, scores = cohort.recommend(self.ctx, self.data, [1, USERS - 2], k=4, kind=kind, model=self.model,
                                             groups=self.groups)
            self.assertEqual(items.shape, (2, 4))
            for row, user in enumerate([1, USERS - 2]):
                for item in items[row]:
                    self.assertNotIn((user, int(item)), seen, kind)
            if kind != "popularity":
                self.assertLess(items[0, 0], BLOCK, kind)
                self.assertGreaterEqual(items[1, 0], BLOCK, kind)

    def test_text_recommender_reads_the_items_text(self):
        # Each block of items about its own topic: users are recommended their block's items by text alone.
        vectors = np.zeros((ITEMS, 3), dtype=np.float32)
        vectors[:BLOCK, 0] = 1.0
        vectors[BLOCK:, 1] = 1.0
        data = cohort.Dataset.from_coo(self.users, self.items, np.ones(len(self.users)), USERS, ITEMS)
        with self.assertRaises(cohort.CohortError):
            cohort.recommend(self.ctx, data, [0], kind="text")
        data.set_item_text(vectors)
        items, _ = cohort.recommend(self.ctx, data, [1, USERS - 2], k=3, kind="text")
        self.assertTrue(np.all(items[0] < BLOCK))
        self.assertTrue(np.all(items[1] >= BLOCK))
        metrics = cohort.evaluate(self.ctx, data, factors=FACTORS, iterations=3, k=2)
        self.assertIn("text", metrics["recommendation"]["warm"])
        with self.assertRaises(ValueError):
            data.set_item_text(vectors[:, 0])

    def test_fold_in_and_route_new_users(self):
        new_users = [[11, 13, 15, 17], [0, 2, 4]]
        factors = self.model.fold_in(self.ctx, new_users)
        self.assertEqual(factors.shape, (2, FACTORS))
        group, confidence = self.groups.assign(self.ctx, self.model, new_users)
        planted_group, _ = self.groups.assignment
        self.assertEqual(group[0], planted_group[-1])
        self.assertEqual(group[1], planted_group[0])

    def test_save_and_load(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.cohort")
            self.model.save(path, self.groups)
            loaded = cohort.Model.load(path)
            np.testing.assert_array_equal(loaded.user_factors, self.model.user_factors)
            np.testing.assert_array_equal(loaded.item_factors, self.model.item_factors)
            self.assertIsNotNone(loaded.groups)
            np.testing.assert_array_equal(loaded.groups.assignment[0], self.groups.assignment[0])

    def test_evaluate(self):
        metrics = cohort.evaluate(self.ctx, self.data, factors=FACTORS, iterations=5, k=2)
        self.assertEqual(metrics["version"], 1)
        self.assertIn("warm", metrics["recommendation"])
        self.assertEqual(metrics["groups"]["k"], 2)

    def test_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            missing = os.path.join(tmp, "missing.csv")
            with self.assertRaises(cohort.CohortError) as caught:
                cohort.Dataset.from_file(missing)
            self.assertEqual(caught.exception.status, cohort.IO_ERROR)
            self.assertIn(missing, caught.exception.message)
        with self.assertRaises(cohort.CohortError) as caught:
            cohort.Dataset.from_coo([0, 1], [0, 5], n_users=2, n_items=3)
        self.assertEqual(caught.exception.status, cohort.INVALID_ARGUMENT)
        self.assertIn("items[1]", caught.exception.message)
        # tf32 is a GPU setting: the CPU takes it and computes in FP32.
        self.assertEqual(cohort.Context(backend="cpu", tf32=True).backend, "cpu")
        with self.assertRaises(cohort.CohortError) as caught:
            cohort.Context(backend="tpu")
        self.assertEqual(caught.exception.status_name, "invalid_argument")
        with self.assertRaises(cohort.CohortError):
            cohort.recommend(self.ctx, self.data, [0], kind="group", model=self.model)


if __name__ == "__main__":
    unittest.main()
