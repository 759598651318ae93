#!/usr/bin/env python3
"""`cohort pipeline`'s job written the way a Python user would write it.

implicit's ALS, scikit-learn's KMeans and numpy/scipy do the same work as cohort's pipeline
(engine/pipeline/pipeline.cpp) on the same split: train iALS on the warm users, cluster their
L2-normalised factors for every k with restarts and pick k by silhouette, then recommend with
popularity, ALS, group, blend and item-kNN for warm users and for cold-start users who reveal
1, 3 and 5 items, and score P/R/F1/NDCG/MAP/hit/MRR/coverage @10 and @20. The recipes follow
cohort's (engine/recommend/recommend.cpp, engine/evaluate/metrics.cpp) so the two
metrics.json files can be read side by side; the timings say what each phase costs.

    e2e_job.py --input LOG.csv --split DIR --threads T --out DIR2

DIR is what `cohort_compare split` writes (benchmarks/comparison spec). The raw log is parsed
(and timed as 'load') so this job pays for reading its input as cohort does; the evaluation
itself uses the split files, so both jobs see exactly the same users and items. Libraries are
imported before the clock starts, as cohort's are linked before it runs.
"""

import argparse
import csv
import itertools
import json
import os
import sys
import tempfile
import time
import warnings

import implicit
import numpy as np
import scipy.sparse as sp
import sklearn
from implicit.cpu.als import AlternatingLeastSquares
from implicit.nearest_neighbours import CosineRecommender
from sklearn.cluster import KMeans
from sklearn.metrics import (adjusted_rand_score, davies_bouldin_score, normalized_mutual_info_score,
                             pairwise_distances, silhouette_score)
from threadpoolctl import threadpool_limits

CUTOFFS = (10, 20)
PER_USER_METRICS = ("precision", "recall", "f1", "ndcg", "map", "hit_rate", "mrr")
RECOMMENDERS = ("popularity", "als", "group", "blend", "item_knn")
REVEAL_COUNTS = (1, 3, 5)
BLEND_PIVOT = 10.0
SCORE_BLOCK_ROWS = 2048


class InputError(Exception):
    """Bad arguments or input files: reported on stderr with exit status 2."""


def read_ids(path):
    try:
        with open(path, encoding="utf-8") as f:
            ids = [line.rstrip("\n") for line in f]
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from e
    index = {name: i for i, name in enumerate(ids)}
    if len(index) != len(ids):
        raise InputError(f"{path}: ids are not unique")
    return index


USER_COLUMNS = ("user_id", "userid", "user")
ITEM_COLUMNS = ("item_id", "itemid", "movieid", "movie_id", "item")


def log_layout(first_line):
    """(split function, header?, user/item/rating/timestamp columns) of a log from its first line:
    MovieLens ratings.dat ('::'), u.data (tab) or a CSV, with or without a header (the header
    names the columns; without one they are user, item, rating, timestamp)."""
    if "::" in first_line:
        split = lambda line: line.split("::")  # noqa: E731
    elif "\t" in first_line:
        split = lambda line: line.split("\t")  # noqa: E731
    else:
        split = lambda line: next(csv.reader([line]))  # noqa: E731
    fields = [f.strip() for f in split(first_line.rstrip("\r\n"))]
    try:
        float(fields[2] if len(fields) > 2 else fields[-1])
        return split, False, (0, 1, 2 if len(fields) > 2 else -1, 3 if len(fields) > 3 else -1)
    except ValueError:
        pass
    names = [f.lower() for f in fields]

    def find(options):
        return next((names.index(o) for o in options if o in names), -1)

    cu, ci = find(USER_COLUMNS), find(ITEM_COLUMNS)
    if cu < 0 or ci < 0:
        raise InputError(f"the header {fields} names no user and item columns ({USER_COLUMNS}, {ITEM_COLUMNS})")
    return split, True, (cu, ci, find(("rating", "value", "count")), find(("timestamp", "time")))


def read_log(path, users, items):
    """The interaction log (MovieLens or CSV, as cohort reads it) as a users x items CSR of
    ratings, ids mapped to the split's dense indices. Lines whose ids the split does not know
    (cohort dropped them) are counted, not used."""
    user_rows, item_cols, ratings, timestamps = [], [], [], []
    skipped = 0
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
            if not first.strip():
                raise InputError(f"{path} is empty")
            try:
                split, header, (cu, ci, cr, ct) = log_layout(first)
            except InputError as e:
                raise InputError(f"{path}: {e}") from e
            lines = f if header else itertools.chain([first], f)
            for line, text in enumerate(lines, start=2 if header else 1):
                text = text.rstrip("\r\n")
                if not text:
                    continue
                row = split(text)
                u = users.get(row[cu].strip()) if len(row) > max(cu, ci) else None
                i = items.get(row[ci].strip()) if u is not None else None
                if u is None or i is None:
                    skipped += 1
                    continue
                try:
                    ratings.append(float(row[cr]) if cr >= 0 else 1.0)
                    timestamps.append(int(float(row[ct])) if ct >= 0 else 0)
                except (ValueError, IndexError) as e:
                    raise InputError(f"{path}:{line}: bad rating or timestamp in {text!r}") from e
                user_rows.append(u)
                item_cols.append(i)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from e
    log = sp.csr_matrix((np.asarray(ratings, dtype=np.float32),
                         (np.asarray(user_rows, dtype=np.int32), np.asarray(item_cols, dtype=np.int32))),
                        shape=(len(users), len(items)))
    log.sum_duplicates()
    return log, skipped


def read_split(split_dir, users, items):
    """The split's matrices (U x I CSR, raw values), cold users, truth (or None), shape.json."""
    def load(name):
        path = os.path.join(split_dir, name)
        try:
            return np.load(path, allow_pickle=False)
        except OSError as e:
            raise InputError(f"cannot read {path}: {e}") from e

    def matrix(name):
        indptr, indices, data = load(f"{name}_indptr.npy"), load(f"{name}_indices.npy"), load(f"{name}_data.npy")
        if indptr.shape != (users + 1,) or indices.shape != data.shape or indptr[-1] != len(indices):
            raise InputError(f"{split_dir}/{name}_*.npy: inconsistent CSR for {users} users "
                             f"(indptr {indptr.shape}, {len(indices)} indices, {len(data)} values)")
        if len(indices) and (indices.min() < 0 or indices.max() >= items):
            raise InputError(f"{split_dir}/{name}_indices.npy: an item index is outside [0, {items})")
        return sp.csr_matrix((data.astype(np.float32), indices.astype(np.int32), indptr.astype(np.int64)),
                             shape=(users, items))

    names = ["train", "test"] + [f"cold{n}_{part}" for n in REVEAL_COUNTS for part in ("revealed", "test")]
    split = {name: matrix(name) for name in names}
    cold_users = load("cold_users.npy").astype(np.int64)
    if len(cold_users) and (cold_users.min() < 0 or cold_users.max() >= users):
        raise InputError(f"{split_dir}/cold_users.npy: a user index is outside [0, {users})")
    truth = None
    if os.path.exists(os.path.join(split_dir, "truth.npy")):
        truth = load("truth.npy").astype(np.int64)
        if truth.shape != (users,):
            raise InputError(f"{split_dir}/truth.npy has {truth.shape} entries for {users} users")
    try:
        with open(os.path.join(split_dir, "shape.json"), encoding="utf-8") as f:
            shape = json.load(f)
    except (OSError, ValueError):
        shape = {}
    return split, cold_users, truth, shape


def train_als(train, args):
    """implicit's iALS on C = 1 + alpha * R with implicit's own alpha at 1: its confidence is
    then cohort's (A = YtY + reg I + sum (c - 1) y y^T, b = sum c y). Returns (users, items)."""
    confidence = train.copy()
    confidence.data = 1.0 + args.alpha * confidence.data
    # implicit asks for single-threaded BLAS (and checks it when built): it parallelises over
    # rows itself.
    with threadpool_limits(limits=1, user_api="blas"):
        model = AlternatingLeastSquares(factors=args.factors, regularization=args.regularization, alpha=1.0,
                                        use_cg=True, iterations=args.iterations, num_threads=args.threads,
                                        random_state=args.seed)
        model.fit(confidence, show_progress=False)
    return np.asarray(model.user_factors, dtype=np.float32), np.asarray(model.item_factors, dtype=np.float32)


def fold_in(user_items, item_factors, alpha, regularization):
    """Factors of new users with the items fixed, by the exact iALS solve cohort uses:
    (YtY + reg I + sum_j (c_j - 1) y_j y_j^T) x = sum_j c_j y_j, c = 1 + alpha r."""
    y = item_factors.astype(np.float64)
    base = y.T @ y + regularization * np.eye(y.shape[1])
    out = np.zeros((user_items.shape[0], y.shape[1]), dtype=np.float32)
    for u in range(user_items.shape[0]):
        begin, end = user_items.indptr[u], user_items.indptr[u + 1]
        if begin == end:
            continue
        ys = y[user_items.indices[begin:end]]
        c = 1.0 + alpha * user_items.data[begin:end].astype(np.float64)
        a = base + (ys.T * (c - 1.0)) @ ys
        out[u] = np.linalg.solve(a, ys.T @ c)
    return out


def normalized(x):
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def choose_groups(points, args):
    """scikit-learn KMeans for every k in [k_min, k_max] and every restart; per k the restart
    with the lowest inertia; k with the best silhouette on a seeded sample (ties: smaller k)."""
    n = points.shape[0]
    k_max = min(args.k_max, n - 1)
    k_min = min(args.k_min, k_max)
    # One seeded sample for every k, its pairwise distances computed once (what a careful
    # user does; silhouette_score with sample_size would recompute them for every k).
    sample = np.sort(np.random.default_rng(args.seed).choice(n, size=min(args.silhouette_sample, n), replace=False))
    sample_distances = pairwise_distances(points[sample])
    k_scores, best = [], None
    for k in range(k_min, k_max + 1):
        chosen = None
        for r in range(args.restarts):
            km = KMeans(n_clusters=k, init="k-means++", n_init=1, max_iter=args.kmeans_iterations, tol=1e-4,
                        random_state=args.seed + r).fit(points)
            if chosen is None or km.inertia_ < chosen.inertia_:
                chosen = km
        labels = chosen.labels_
        # A labelling with one cluster (in the sample) scores 0.
        try:
            silhouette = float(silhouette_score(sample_distances, labels[sample], metric="precomputed"))
        except ValueError:
            silhouette = 0.0
        davies_bouldin = float(davies_bouldin_score(points, labels)) if len(np.unique(labels)) > 1 else 0.0
        k_scores.append({"k": k, "silhouette": silhouette, "inertia": float(chosen.inertia_),
                         "davies_bouldin": davies_bouldin})
        if best is None or silhouette > best[1]["silhouette"]:
            best = (chosen, k_scores[-1])
    return best[0], best[1], k_scores


def nearest_centroid(points, centroids):
    d = (points * points).sum(1)[:, None] - 2.0 * points @ centroids.T + (centroids * centroids).sum(1)[None, :]
    return np.argmin(d, axis=1)


def scaled_to_max_one(v):
    top = v.max(axis=-1, keepdims=True) if v.size else np.zeros(v.shape[:-1] + (1,), v.dtype)
    return np.divide(v, top, out=np.zeros_like(v), where=top > 0)


class RecommendModel:
    """What the recommenders know about the catalogue, built from train (recommend.hpp)."""

    def __init__(self, train, assignment, groups, item_factors, neighbours, threads):
        items = train.shape[1]
        binary = train.copy()
        binary.data[:] = 1.0
        # Popularity: training users per item, scaled to max 1.
        self.popularity = scaled_to_max_one(np.asarray(binary.sum(axis=0), dtype=np.float32).ravel())
        # Group scores: share of the group's users who have the item, scaled to max 1 per group;
        # the popularity row is appended as the fallback of users without a group.
        member = assignment >= 0
        indicator = sp.csr_matrix((np.ones(member.sum(), dtype=np.float32),
                                   (assignment[member], np.nonzero(member)[0])), shape=(groups, train.shape[0]))
        counts = np.asarray((indicator @ binary).todense(), dtype=np.float32)
        sizes = np.asarray(indicator.sum(axis=1), dtype=np.float32)
        shares = np.divide(counts, sizes, out=np.zeros_like(counts), where=sizes > 0)
        self.group_table = np.vstack([scaled_to_max_one(shares), self.popularity[None, :]]).astype(np.float32)
        self.groups = groups
        self.item_factors = item_factors
        self.max_item_norm = float(np.linalg.norm(item_factors, axis=1).max()) if items else 0.0
        self.similarity = item_neighbours(train, neighbours, threads)


def item_neighbours(train, neighbours, threads):
    """Top-`neighbours` cosine neighbours of each item over train's raw values, self excluded,
    positive similarities only, as an items x items CSR (row j: j's neighbours). implicit keeps
    the item itself among its K, so it is asked for one more."""
    model = CosineRecommender(K=neighbours + 1, num_threads=threads)
    with warnings.catch_warnings():
        # implicit's own normalisation hands its kNN a COO matrix and warns about it.
        warnings.filterwarnings("ignore", message="Method expects CSR input")
        model.fit(train.tocsr(), show_progress=False)
    sim = sp.csr_matrix(model.similarity, dtype=np.float32)
    sim.setdiag(0.0)
    sim.data[sim.data < 0] = 0.0
    sim.eliminate_zeros()
    sim.sort_indices()
    # Ties at similarity 1 can push the item itself out of implicit's K + 1: keep the best
    # `neighbours` of such rows (descending similarity, ascending index).
    for j in np.nonzero(np.diff(sim.indptr) > neighbours)[0]:
        begin, end = sim.indptr[j], sim.indptr[j + 1]
        order = np.lexsort((sim.indices[begin:end], -sim.data[begin:end]))
        sim.data[begin + order[neighbours:]] = 0.0
    sim.eliminate_zeros()
    return sim


def top_k(scores, k):
    """Rows of scores (-inf: not a candidate) -> (items, scores), rows x k, by descending score,
    ties by ascending item index, padded with -1 / 0 (topk.hpp's order)."""
    rows, items = scores.shape
    depth = min(k, items)
    if depth < items:
        kth = np.partition(scores, items - depth, axis=1)[:, items - depth]  # the depth-th largest
        chosen = scores >= kth[:, None]
        # Rows with ties at the k-th score hold too many: keep the lowest indices of the tie.
        excess = np.nonzero(chosen.sum(axis=1) > depth)[0]
        if len(excess):
            sub = scores[excess]
            at = sub == kth[excess, None]
            need = depth - (sub > kth[excess, None]).sum(axis=1)
            r, c = np.nonzero(at)
            rank = np.arange(len(r)) - np.searchsorted(r, r)
            drop = rank >= need[r]
            chosen[excess[r[drop]], c[drop]] = False
        candidates = np.nonzero(chosen)[1].reshape(rows, depth)
    else:
        candidates = np.broadcast_to(np.arange(items), (rows, items))
    values = np.take_along_axis(scores, candidates, axis=1)
    order = np.lexsort((candidates, -values), axis=1)
    out_items = np.take_along_axis(candidates, order, axis=1).astype(np.int32)
    out_scores = np.take_along_axis(values, order, axis=1).astype(np.float32)
    missing = ~np.isfinite(out_scores)
    out_items[missing] = -1
    out_scores[missing] = 0.0
    if depth < k:
        out_items = np.hstack([out_items, np.full((rows, k - depth), -1, np.int32)])
        out_scores = np.hstack([out_scores, np.zeros((rows, k - depth), np.float32)])
    return out_items, out_scores


def recommend(kind, model, seen, factors, group, k):
    """Top-k per query user. seen: q x items CSR (never recommended back; drives item_knn and
    the blend weight); factors: q x f; group: q ints, -1 = none (popularity fallback)."""
    q, items = seen.shape
    out_items = np.full((q, k), -1, np.int32)
    out_scores = np.zeros((q, k), np.float32)
    group = np.where(group < 0, model.groups, group)
    for begin in range(0, q, SCORE_BLOCK_ROWS):
        end = min(q, begin + SCORE_BLOCK_ROWS)
        block = seen[begin:end]
        if kind == "popularity":
            s = np.tile(model.popularity, (end - begin, 1))
        elif kind == "als":
            s = factors[begin:end] @ model.item_factors.T
        elif kind == "group":
            s = model.group_table[group[begin:end]]
        elif kind == "blend":
            # Group term in [0, 1]; the dot term bounded by |x_u| max_i |y_i| (Cauchy-Schwarz)
            # and scaled into [-1, 1]; the group's weight pivot / (pivot + n_u).
            x = factors[begin:end]
            n_u = np.diff(block.indptr).astype(np.float64)
            w = BLEND_PIVOT / (BLEND_PIVOT + n_u)
            bound = np.linalg.norm(x.astype(np.float64), axis=1) * model.max_item_norm
            dot_weight = np.divide(1.0 - w, bound, out=np.zeros_like(bound), where=bound > 0)
            s = (dot_weight[:, None].astype(np.float32) * (x @ model.item_factors.T)
                 + w[:, None].astype(np.float32) * model.group_table[group[begin:end]])
        elif kind == "item_knn":
            # score(u, i) = sum_{j seen} r_uj sim(j, i); only items some neighbour list reaches.
            s = np.asarray((block @ model.similarity).todense(), dtype=np.float32)
            s[s <= 0] = -np.inf
        else:
            raise ValueError(f"unknown recommender {kind}")
        s = np.array(s, dtype=np.float32)
        s[np.repeat(np.arange(end - begin), np.diff(block.indptr)), block.indices] = -np.inf
        out_items[begin:end], out_scores[begin:end] = top_k(s, k)
    return out_items, out_scores


def score_users(recs, test, cutoffs=CUTOFFS):
    """Per-user metrics: (names, values rows x names, has_test). recs: rows x k item lists
    (-1 padded) aligned with test's rows. Binary gains; ndcg's ideal over min(|test|, k); map's
    denominator min(|test|, k); precision = hits / k."""
    rows, k = recs.shape
    test = test.tocsr()
    test.sort_indices()
    relevant = np.diff(test.indptr).astype(np.float64)
    items = test.shape[1]
    # A recommended item is a hit when (row, item) is stored in test: search the row-major keys.
    test_keys = np.repeat(np.arange(rows, dtype=np.int64), np.diff(test.indptr)) * items + test.indices
    rec_keys = np.arange(rows, dtype=np.int64)[:, None] * items + recs
    hit = np.zeros(recs.shape)
    if len(test_keys):
        pos = np.minimum(np.searchsorted(test_keys, rec_keys), len(test_keys) - 1)
        hit = ((recs >= 0) & (test_keys[pos] == rec_keys)).astype(np.float64)
    names, columns = [], []
    for cutoff in cutoffs:
        depth = min(cutoff, k)
        h = hit[:, :depth]
        ranks = np.arange(1, depth + 1, dtype=np.float64)
        cum = np.cumsum(h, axis=1)
        hits = cum[:, -1] if depth else np.zeros(rows)
        ideal = np.minimum(relevant, cutoff)
        discount = 1.0 / np.log2(np.arange(2, cutoff + 2, dtype=np.float64))
        idcg = np.concatenate([[0.0], np.cumsum(discount)])[ideal.astype(np.int64)]
        precision = hits / cutoff
        recall = np.divide(hits, relevant, out=np.zeros(rows), where=relevant > 0)
        f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(rows), where=precision + recall > 0)
        ndcg = np.divide((h * discount[:depth]).sum(axis=1), idcg, out=np.zeros(rows), where=idcg > 0)
        ap = np.divide((h * cum / ranks).sum(axis=1), ideal, out=np.zeros(rows), where=ideal > 0)
        first = np.where(hits > 0, np.argmax(h > 0, axis=1) + 1, 0) if depth else np.zeros(rows)
        mrr = np.divide(1.0, first, out=np.zeros(rows), where=first > 0)
        for name, column in zip(PER_USER_METRICS, (precision, recall, f1, ndcg, ap, hits > 0, mrr)):
            names.append(f"{name}@{cutoff}")
            columns.append(np.asarray(column, dtype=np.float64))
    return names, np.stack(columns, axis=1), relevant > 0


def summarize(per_user, recs, items, subset=None, cutoffs=CUTOFFS):
    """Means over the rows (of subset, if given) with a test set, and coverage@k: distinct
    items in those rows' top-k lists / items."""
    names, values, has_test = per_user
    if subset is None:
        chosen = np.nonzero(has_test)[0]
    else:
        subset = np.asarray(subset, dtype=np.int64)
        chosen = subset[has_test[subset]]
    out = {name: float(values[chosen, m].mean()) if len(chosen) else 0.0 for m, name in enumerate(names)}
    for cutoff in cutoffs:
        listed = recs[chosen, :cutoff]
        distinct = len(np.unique(listed[listed >= 0]))
        out[f"coverage@{cutoff}"] = distinct / items if items else 0.0
    return dict(sorted(out.items()))


def evaluate_queries(model, seen, factors, group, test):
    k = max(CUTOFFS)
    metrics, per_user, lists = {}, {}, {}
    for name in RECOMMENDERS:
        recs, _ = recommend(name, model, seen, factors, group, k)
        scored = score_users(recs, test)
        metrics[name] = summarize(scored, recs, seen.shape[1])
        per_user[name], lists[name] = scored, recs
    return metrics, per_user, lists


def write_json_atomically(path, document):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".metrics.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run(args):
    start = time.perf_counter()
    timings = {}

    # Load: parse the raw log (paid for, as cohort pays), then take the split from its files.
    users = read_ids(os.path.join(args.split, "user_ids.txt"))
    items = read_ids(os.path.join(args.split, "item_ids.txt"))
    log, skipped = read_log(args.input, users, items)
    split, cold_users, truth, shape = read_split(args.split, len(users), len(items))
    timings["load"] = time.perf_counter() - start
    n_users, n_items = len(users), len(items)
    if "interactions" in shape and shape["interactions"] != log.nnz:
        print(f"e2e_job: warning: the log has {log.nnz} distinct (user, item) pairs, the split "
              f"{shape['interactions']}", file=sys.stderr)
    train = split["train"]

    phase = time.perf_counter()
    user_factors, item_factors = train_als(train, args)
    timings["train"] = time.perf_counter() - phase

    # Groups of the warm users (not cold, some training interactions) on their unit factors.
    phase = time.perf_counter()
    is_cold = np.zeros(n_users, bool)
    is_cold[cold_users] = True
    warm_users = np.nonzero(~is_cold & (np.diff(train.indptr) > 0))[0]
    if len(warm_users) < 3:
        raise InputError(f"only {len(warm_users)} users are left to cluster after the split; the data set is too small")
    with threadpool_limits(limits=args.threads):
        kmeans, chosen, k_scores = choose_groups(normalized(user_factors[warm_users]), args)
    centroids = kmeans.cluster_centers_.astype(np.float32)
    assignment = np.full(n_users, -1, np.int64)
    assignment[warm_users] = kmeans.labels_
    timings["groups"] = time.perf_counter() - phase

    # Recommend and evaluate: warm users, then cold-start users for each revealed count.
    phase = time.perf_counter()
    with threadpool_limits(limits=args.threads):
        model = RecommendModel(train, assignment, chosen["k"], item_factors, args.neighbours, args.threads)
        warm_test = split["test"]
        queries = warm_users[np.diff(warm_test.indptr)[warm_users] > 0]
        warm_metrics, warm_per_user, warm_lists = evaluate_queries(
            model, train[queries], user_factors[queries], assignment[queries], warm_test[queries])
        cold_metrics = {}
        for n in REVEAL_COUNTS:
            if len(cold_users) == 0:
                break
            seen = split[f"cold{n}_revealed"][cold_users]
            factors = fold_in(seen, item_factors, args.alpha, args.regularization)
            group = nearest_centroid(normalized(factors), centroids)
            cold_metrics[str(n)], _, _ = evaluate_queries(model, seen, factors, group, split[f"cold{n}_test"][cold_users])
        per_group = []
        warm_groups = assignment[queries]
        for g in range(chosen["k"]):
            subset = np.nonzero(warm_groups == g)[0]
            entry = {"group": g, "users": int(len(subset))}
            for name in RECOMMENDERS:
                entry[name] = summarize(warm_per_user[name], warm_lists[name], n_items, subset)
            per_group.append(entry)
    timings["evaluate"] = time.perf_counter() - phase

    # Every user gets a group, cold users from all their interactions, as cohort does before
    # it scores the groups against the truth.
    phase = time.perf_counter()
    groups = {"k": chosen["k"], "silhouette": chosen["silhouette"], "davies_bouldin": chosen["davies_bouldin"],
              "inertia": chosen["inertia"], "sizes": np.bincount(kmeans.labels_, minlength=chosen["k"]).tolist(),
              "k_scores": k_scores}
    if truth is not None:
        if len(cold_users):
            everything = (split["cold1_revealed"] + split["cold1_test"])[cold_users]
            cold_factors = fold_in(everything, item_factors, args.alpha, args.regularization)
            assignment[cold_users] = nearest_centroid(normalized(cold_factors), centroids)
        labelled = (assignment >= 0) & (truth >= 0)
        groups["ari"] = float(adjusted_rand_score(truth[labelled], assignment[labelled]))
        groups["nmi"] = float(normalized_mutual_info_score(truth[labelled], assignment[labelled]))

    metrics = {
        "version": 1,
        "dataset": {"users": n_users, "items": n_items, "interactions": int(log.nnz), "skipped_lines": skipped,
                    "train_interactions": int(train.nnz), "warm_test_users": int(len(queries)),
                    "cold_users": int(len(cold_users))},
        "config": {"backend": "python", "model": "als", "factors": args.factors, "iterations": args.iterations,
                   "regularization": args.regularization, "alpha": args.alpha, "seed": args.seed,
                   "k_min": min(args.k_min, min(args.k_max, len(warm_users) - 1)),
                   "k_max": min(args.k_max, len(warm_users) - 1), "restarts": args.restarts,
                   "threads": args.threads, "neighbours": args.neighbours,
                   "libraries": {"implicit": implicit.__version__, "scikit-learn": sklearn.__version__,
                                 "numpy": np.__version__}},
        "groups": groups,
        "recommendation": {"warm": warm_metrics, "cold_start": cold_metrics, "per_group": per_group},
    }
    os.makedirs(args.out, exist_ok=True)
    timings["write"] = time.perf_counter() - phase
    timings["total"] = time.perf_counter() - start
    metrics["timings_s"] = timings
    write_json_atomically(os.path.join(args.out, "metrics.json"), metrics)
    return metrics


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True, help="the raw interaction log (CSV with a header)")
    p.add_argument("--split", required=True, help="the folder `cohort_compare split` wrote")
    p.add_argument("--out", required=True, help="folder for metrics.json")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--factors", type=int, default=64)
    p.add_argument("--iterations", type=int, default=15)
    p.add_argument("--regularization", type=float, default=0.05)
    p.add_argument("--alpha", type=float, default=2.0)
    p.add_argument("--k-min", type=int, default=2)
    p.add_argument("--k-max", type=int, default=32)
    p.add_argument("--restarts", type=int, default=3)
    p.add_argument("--kmeans-iterations", type=int, default=50)
    p.add_argument("--silhouette-sample", type=int, default=10000)
    p.add_argument("--neighbours", type=int, default=100)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    checks = [(args.threads >= 1, "--threads must be >= 1"), (args.factors >= 1, "--factors must be >= 1"),
              (args.iterations >= 0, "--iterations must be >= 0"),
              (args.regularization >= 0, "--regularization must be >= 0"), (args.alpha >= 0, "--alpha must be >= 0"),
              (args.k_min >= 2, "--k-min must be >= 2"), (args.k_max >= args.k_min, "--k-max must be >= --k-min"),
              (args.restarts >= 1, "--restarts must be >= 1"),
              (args.kmeans_iterations >= 1, "--kmeans-iterations must be >= 1"),
              (args.silhouette_sample >= 2, "--silhouette-sample must be >= 2"),
              (args.neighbours >= 1, "--neighbours must be >= 1"), (args.seed >= 0, "--seed must be >= 0")]
    for ok, message in checks:
        if not ok:
            p.error(message)
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        metrics = run(args)
    except InputError as e:
        print(f"e2e_job: error: {e}", file=sys.stderr)
        return 2
    t = metrics["timings_s"]
    print(json.dumps({"out": os.path.join(args.out, "metrics.json"), "k": metrics["groups"]["k"],
                      "warm_blend_ndcg@10": metrics["recommendation"]["warm"]["blend"]["ndcg@10"],
                      "timings_s": t}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
