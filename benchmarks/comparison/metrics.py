"""Ranking metrics at k, defined exactly as cohort's engine/evaluate/metrics.hpp.

Per user with a non-empty test set, at cutoff k over the first min(k, width) recommendations:
  hits      distinct recommended items that are in the user's test set (-1 entries and
            repeats of an item count nothing);
  precision hits / k;  recall hits / |test|;  f1 2pr / (p + r) (0 when both are 0);
  ndcg      DCG / IDCG, binary gains, discount log2(rank + 1) for rank 1..k, IDCG summed over
            min(|test|, k) ranks;
  map       sum over hits at rank r of (hits so far / r), divided by min(|test|, k);
  hit_rate  1 if hits > 0;  mrr 1 / rank of the first hit (0 if none).
Each metric is the mean over users with a non-empty test set (0 when there are none).

Top-k lists come either ready made or from factor matrices: score U.Vt in user blocks (float32,
as cohort scores), mask the user's training items to -inf, take the top k by argpartition and
sort it by score. Positions that only a masked item could fill are -1.
"""

import numpy as np
import scipy.sparse as sp

DEFAULT_CUTOFFS = (10, 20)
PER_USER_METRICS = ("precision", "recall", "f1", "ndcg", "map", "hit_rate", "mrr")


def _check_csr(name, m):
    if not sp.issparse(m):
        raise TypeError(f"{name}: expected a scipy.sparse matrix, got {type(m).__name__}")
    m = sp.csr_matrix(m)
    m.sort_indices()
    return m


def topk_from_factors(user_factors, item_factors, k, exclude=None, users=None, block=None):
    """Top-k item indices (len(users) x min(k, items), int32) of U[users].Vt.

    exclude: users x items sparse matrix whose stored entries (the training items) are never
    recommended; users: the rows to score (default all); block: users scored per GEMM (default:
    about 32M scores at a time, so 50,000 items take 671 users, ~0.4 GB with argpartition's indices).
    """
    U = np.ascontiguousarray(user_factors, dtype=np.float32)
    V = np.ascontiguousarray(item_factors, dtype=np.float32)
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[1]:
        raise ValueError(f"topk_from_factors: factor shapes {U.shape} and {V.shape} do not match")
    if k <= 0:
        raise ValueError(f"topk_from_factors: k must be positive, got {k}")
    users = np.arange(U.shape[0]) if users is None else np.asarray(users, dtype=np.int64)
    if exclude is not None:
        exclude = _check_csr("exclude", exclude)
        if exclude.shape != (U.shape[0], V.shape[0]):
            raise ValueError(f"topk_from_factors: exclude is {exclude.shape}, factors give {(U.shape[0], V.shape[0])}")
    items = V.shape[0]
    width = min(k, items)
    if block is None:
        block = max(16, (1 << 25) // max(items, 1))
    out = np.empty((len(users), width), dtype=np.int32)
    Vt = V.T.copy()
    for start in range(0, len(users), block):
        rows = users[start:start + block]
        scores = U[rows] @ Vt
        if exclude is not None:
            sub = exclude[rows]
            counts = np.diff(sub.indptr)
            scores[np.repeat(np.arange(len(rows)), counts), sub.indices] = -np.inf
        if width < items:
            part = np.argpartition(-scores, width - 1, axis=1)[:, :width]
        else:
            part = np.broadcast_to(np.arange(items), (len(rows), items)).copy()
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        top = np.take_along_axis(part, order, axis=1)
        top[np.take_along_axis(part_scores, order, axis=1) == -np.inf] = -1
        out[start:start + len(rows)] = top
    return out


def per_user_metrics(topk, test, cutoffs=DEFAULT_CUTOFFS, users=None):
    """Per-user metric values for the rows of `topk`.

    topk: n x width int array (item indices, -1 for none), row i recommending to user users[i]
    (default: user i); test: users x items sparse matrix of held-out items.
    Returns (names, values n x len(names) float64, has_test bool n).
    """
    test = _check_csr("test", test)
    topk = np.asarray(topk)
    if topk.ndim != 2:
        raise ValueError(f"per_user_metrics: top-k lists must be 2-D, got shape {topk.shape}")
    users = np.arange(topk.shape[0]) if users is None else np.asarray(users, dtype=np.int64)
    if len(users) != topk.shape[0]:
        raise ValueError(f"per_user_metrics: {topk.shape[0]} top-k rows for {len(users)} users")
    if not cutoffs or any(int(k) <= 0 for k in cutoffs):
        raise ValueError(f"per_user_metrics: cutoffs must be positive, got {cutoffs}")
    items = test.shape[1]
    if topk.size and (topk.min() < -1 or topk.max() >= items):
        raise ValueError(f"per_user_metrics: recommended item outside -1..{items - 1}")
    n, width = topk.shape
    topk = topk.astype(np.int64)

    relevant = np.diff(test.indptr)[users].astype(np.float64)
    has_test = relevant > 0

    # A recommendation is a hit when (user, item) is stored in test: look the pair up among
    # test's keys user * items + item, which CSR order (rows, then sorted columns) keeps sorted.
    test_keys = np.repeat(np.arange(test.shape[0], dtype=np.int64), np.diff(test.indptr)) * items + test.indices
    keys = users[:, None] * items + topk
    pos = np.searchsorted(test_keys, keys)
    pos = np.minimum(pos, max(len(test_keys) - 1, 0))
    hit = (topk >= 0) & (len(test_keys) > 0)
    if len(test_keys):
        hit &= test_keys[pos] == keys
    # A repeated item counts once, at its first position (stable sort keeps the earliest first).
    if width > 1:
        order = np.argsort(topk, axis=1, kind="stable")
        sorted_items = np.take_along_axis(topk, order, axis=1)
        repeat_sorted = np.zeros_like(hit)
        repeat_sorted[:, 1:] = sorted_items[:, 1:] == sorted_items[:, :-1]
        repeat = np.zeros_like(hit)
        np.put_along_axis(repeat, order, repeat_sorted, axis=1)
        hit &= ~repeat

    ranks = np.arange(1, width + 1, dtype=np.float64)
    discount = 1.0 / np.log2(ranks + 1.0)
    names, columns = [], []
    for k in cutoffs:
        k = int(k)
        depth = min(k, width)
        h = hit[:, :depth].astype(np.float64)
        hits = h.sum(axis=1)
        dcg = h @ discount[:depth]
        ideal = np.minimum(relevant, k)
        idcg_table = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(1, k + 1, dtype=np.float64) + 1.0))])
        idcg = idcg_table[ideal.astype(np.int64)]
        cum_hits = np.cumsum(h, axis=1)
        precision_sum = (h * cum_hits / ranks[:depth]).sum(axis=1)
        first = np.where(hits > 0, np.argmax(h > 0, axis=1) + 1.0, 0.0) if depth else np.zeros(n)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = hits / k
            recall = np.where(has_test, hits / relevant, 0.0)
            pr = precision + recall
            f1 = np.where(pr > 0, 2.0 * precision * recall / np.where(pr > 0, pr, 1.0), 0.0)
            ndcg = np.where(has_test, dcg / np.where(idcg > 0, idcg, 1.0), 0.0)
            ap = np.where(has_test, precision_sum / np.where(ideal > 0, ideal, 1.0), 0.0)
            mrr = np.where(first > 0, 1.0 / np.where(first > 0, first, 1.0), 0.0)
        values = {"precision": precision, "recall": recall, "f1": f1, "ndcg": ndcg, "map": ap,
                  "hit_rate": (hits > 0).astype(np.float64), "mrr": mrr}
        for name in PER_USER_METRICS:
            names.append(f"{name}@{k}")
            columns.append(np.where(has_test, values[name], 0.0))
    return names, np.stack(columns, axis=1) if columns else np.zeros((n, 0)), has_test


def score_topk(topk, test, cutoffs=DEFAULT_CUTOFFS, users=None):
    """Mean of every per-user metric over the rows whose user has a non-empty test set."""
    names, values, has_test = per_user_metrics(topk, test, cutoffs, users)
    chosen = values[has_test]
    if len(chosen) == 0:
        return {name: 0.0 for name in names}
    means = chosen.mean(axis=0)
    return {name: float(v) for name, v in zip(names, means)}


def evaluate_factors(user_factors, item_factors, train, test, cutoffs=DEFAULT_CUTOFFS, block=None):
    """Metrics of U.Vt on `test` with `train` items excluded, over users with a non-empty test."""
    test = _check_csr("test", test)
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    topk = topk_from_factors(user_factors, item_factors, max(cutoffs), exclude=train, users=users, block=block)
    return score_topk(topk, test, cutoffs, users=users)


def ndcg_at_k(topk, test, k, users=None):
    return score_topk(topk, test, (k,), users)[f"ndcg@{k}"]


def recall_at_k(topk, test, k, users=None):
    return score_topk(topk, test, (k,), users)[f"recall@{k}"]


def precision_at_k(topk, test, k, users=None):
    return score_topk(topk, test, (k,), users)[f"precision@{k}"]


def hit_rate_at_k(topk, test, k, users=None):
    return score_topk(topk, test, (k,), users)[f"hit_rate@{k}"]
