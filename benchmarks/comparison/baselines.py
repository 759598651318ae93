"""The baselines cohort is compared against, set up as compare-spec.md ("Matching the baselines").

Each run_* function times one fit and returns (timings and scalars as a dict, arrays as a dict).
The harness runs each one in a fresh process through the command line below, so no memory,
thread pool or warm cache carries from one run to the next:

    python baselines.py als|bpr --split DIR --out DIR2 --threads T [model options]
    python baselines.py cosine-implicit|cosine-sklearn --split DIR --out DIR2 --k 100 --threads T
    python baselines.py kmeans-sklearn|kmeans-faiss --data X.npy --out DIR2 --threads T
                        [--k-min 2 --k-max 32 --restarts 3 | --k 64]

It prints one JSON object on stdout and writes the arrays to DIR2 as .npy files.
Library imports stay inside the functions so that the harness can import the helpers here
without loading implicit or faiss.
"""

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp

SPLIT_SETS = ("train", "test", "cold1_revealed", "cold1_test", "cold3_revealed", "cold3_test",
              "cold5_revealed", "cold5_test")


def load_csr(split_dir, name):
    """One users x items matrix of a `cohort_compare split` directory."""
    with open(os.path.join(split_dir, "shape.json")) as f:
        shape = json.load(f)
    parts = [np.load(os.path.join(split_dir, f"{name}_{part}.npy")) for part in ("data", "indices", "indptr")]
    return sp.csr_matrix(tuple(parts), shape=(shape["users"], shape["items"]))


def inertia(X, centroids, block=8192):
    """Sum over rows of the squared distance to the nearest centroid (float64 accumulation)."""
    X = np.asarray(X, dtype=np.float32)
    C = np.asarray(centroids, dtype=np.float32)
    c_norms = (C.astype(np.float64) ** 2).sum(axis=1)
    total = 0.0
    for start in range(0, X.shape[0], block):
        x = X[start:start + block].astype(np.float64)
        d = (x ** 2).sum(axis=1)[:, None] - 2.0 * (x @ C.T.astype(np.float64)) + c_norms[None, :]
        total += float(np.maximum(d.min(axis=1), 0.0).sum())
    return total


def kmeans_problems(k_min, k_max, restarts, k=None):
    """(k, restart) pairs in cohort_compare's order: k ascending, restarts inside."""
    if k is not None:
        return [(k, r) for r in range(restarts)]
    return [(kk, r) for kk in range(k_min, k_max + 1) for r in range(restarts)]


def run_als(train, factors, regularization, alpha, iterations, solver, cg_steps, threads, seed):
    """implicit's AlternatingLeastSquares on C = 1 + alpha * R with its own alpha at 1.

    implicit solves (YtY + reg I + sum (c - 1) y yT) x = sum c y over the stored entries c,
    the same normal equations as cohort's confidence 1 + alpha * r with preference 1.
    """
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    confidence = train.astype(np.float32, copy=True)
    confidence.data = 1.0 + alpha * confidence.data
    iteration_s = []
    with threadpool_limits(limits=1, user_api="blas"):
        model = AlternatingLeastSquares(factors=factors, regularization=regularization, alpha=1.0,
                                        iterations=iterations, use_cg=(solver == "cg"),
                                        calculate_training_loss=False, num_threads=threads,
                                        random_state=seed)
        model.cg_steps = cg_steps
        start = time.perf_counter()
        model.fit(confidence, show_progress=False, callback=lambda it, elapsed, loss: iteration_s.append(elapsed))
        fit_s = time.perf_counter() - start
    info = {"model": "implicit.als", "factors": factors, "iterations": iterations, "threads": threads,
            "fit_s": fit_s, "s_per_iteration": fit_s / max(iterations, 1), "iteration_s": iteration_s}
    return info, {"user_factors": np.asarray(model.user_factors, np.float32),
                  "item_factors": np.asarray(model.item_factors, np.float32)}


def run_bpr(train, factors, learning_rate, regularization, iterations, threads, seed):
    """implicit's BayesianPersonalizedRanking; its factors carry an item bias as one more column
    (users hold a 1 there), so U.Vt of the saved matrices is its full score."""
    from implicit.bpr import BayesianPersonalizedRanking
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        model = BayesianPersonalizedRanking(factors=factors, learning_rate=learning_rate,
                                            regularization=regularization, iterations=iterations,
                                            num_threads=threads, random_state=seed)
        start = time.perf_counter()
        model.fit(train.astype(np.float32), show_progress=False)
        fit_s = time.perf_counter() - start
    info = {"model": "implicit.bpr", "factors": factors, "iterations": iterations, "threads": threads,
            "fit_s": fit_s, "s_per_iteration": fit_s / max(iterations, 1)}
    return info, {"user_factors": np.asarray(model.user_factors, np.float32),
                  "item_factors": np.asarray(model.item_factors, np.float32)}


def _neighbour_arrays(rows, k):
    """I x k index (-1 padded) and score arrays from per-item (indices, scores) sorted by score."""
    index = np.full((len(rows), k), -1, np.int32)
    score = np.zeros((len(rows), k), np.float32)
    for i, (idx, val) in enumerate(rows):
        n = min(k, len(idx))
        index[i, :n] = idx[:n]
        score[i, :n] = val[:n]
    return index, score


def run_cosine_implicit(train, k, threads):
    """implicit's CosineRecommender over the item columns of train (raw values).

    Its K neighbours include the item itself, so it is fitted with K = k + 1 and the item is
    dropped afterwards; the fit is what is timed."""
    from implicit.nearest_neighbours import CosineRecommender

    model = CosineRecommender(K=k + 1, num_threads=threads)
    user_items = train.astype(np.float32).tocsr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.fit(user_items, show_progress=False)
        fit_s = time.perf_counter() - start
    sim = model.similarity.tocsr()
    rows = []
    for i in range(sim.shape[0]):
        lo, hi = sim.indptr[i], sim.indptr[i + 1]
        idx, val = sim.indices[lo:hi], sim.data[lo:hi]
        keep = idx != i
        idx, val = idx[keep], val[keep]
        order = np.argsort(-val, kind="stable")
        rows.append((idx[order], val[order]))
    index, score = _neighbour_arrays(rows, k)
    return {"library": "implicit", "k": k, "threads": threads, "fit_s": fit_s}, {"knn_index": index, "knn_score": score}


def run_cosine_sklearn(train, k, threads, block_bytes=256 << 20):
    """scikit-learn cosine similarity of every item row of X = train.T, a block of rows at a time
    (dense blocks of at most block_bytes), the item itself excluded, top k by argpartition.

    The rows are L2-normalised once (sklearn.preprocessing.normalize) and each block is
    linear_kernel(Xn[block], Xn): exactly cosine_similarity, without renormalising all of X
    for every block."""
    from sklearn.metrics.pairwise import linear_kernel
    from sklearn.preprocessing import normalize
    from threadpoolctl import threadpool_limits

    items = train.shape[1]
    index = np.full((items, k), -1, np.int32)
    score = np.zeros((items, k), np.float32)
    with threadpool_limits(limits=threads):
        start = time.perf_counter()
        X = normalize(train.T.tocsr().astype(np.float32), norm="l2", axis=1)
        block = max(1, min(items, block_bytes // (8 * max(items, 1))))
        width = min(k, items - 1)
        for lo in range(0, items, block):
            hi = min(items, lo + block)
            S = np.asarray(linear_kernel(X[lo:hi], X, dense_output=True))
            S[np.arange(hi - lo), np.arange(lo, hi)] = -np.inf
            if width <= 0:
                continue
            part = np.argpartition(-S, width - 1, axis=1)[:, :width]
            vals = np.take_along_axis(S, part, axis=1)
            order = np.argsort(-vals, axis=1, kind="stable")
            index[lo:hi, :width] = np.take_along_axis(part, order, axis=1)
            score[lo:hi, :width] = np.take_along_axis(vals, order, axis=1)
        fit_s = time.perf_counter() - start
    # Items with no interactions have no neighbours (their similarities are all 0).
    score[index < 0] = 0.0
    return ({"library": "sklearn", "k": k, "threads": threads, "fit_s": fit_s, "block_rows": int(block)},
            {"knn_index": index, "knn_score": score})


def run_kmeans_sklearn(X, problems, iterations, tolerance, threads, seed):
    """scikit-learn KMeans, one fit per (k, restart), k-means++ and random_state seed + restart."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    out = []
    with threadpool_limits(limits=threads):
        start = time.perf_counter()
        fits = []
        for k, r in problems:
            t = time.perf_counter()
            model = KMeans(n_clusters=k, init="k-means++", n_init=1, max_iter=iterations, tol=tolerance,
                           random_state=seed + r)
            model.fit(X)
            fits.append((k, r, model.cluster_centers_.astype(np.float32), int(model.n_iter_),
                         time.perf_counter() - t))
        fit_s = time.perf_counter() - start
    for k, r, c, n_iter, s in fits:
        out.append({"k": k, "restart": r, "inertia": inertia(X, c), "iterations": n_iter, "fit_s": s})
    return {"library": "sklearn", "threads": threads, "fit_s": fit_s, "problems": out}, {}


def run_kmeans_faiss(X, problems, iterations, threads, seed):
    """faiss.Kmeans, one train per (k, restart), seed + restart, every row used
    (max_points_per_centroid = n); faiss has no tolerance and runs all the iterations."""
    import faiss

    faiss.omp_set_num_threads(threads)
    n, d = X.shape
    out, fits = [], []
    start = time.perf_counter()
    for k, r in problems:
        t = time.perf_counter()
        km = faiss.Kmeans(d, k, niter=iterations, nredo=1, seed=seed + r, max_points_per_centroid=n,
                          min_points_per_centroid=1, verbose=False)
        km.train(X)
        fits.append((k, r, np.array(km.centroids, np.float32), time.perf_counter() - t))
    fit_s = time.perf_counter() - start
    for k, r, c, s in fits:
        out.append({"k": k, "restart": r, "inertia": inertia(X, c), "iterations": iterations, "fit_s": s})
    return {"library": "faiss", "threads": threads, "fit_s": fit_s, "problems": out}, {}


def _parser():
    p = argparse.ArgumentParser(description="Run one baseline once and print its JSON.")
    p.add_argument("task", choices=["als", "bpr", "cosine-implicit", "cosine-sklearn", "kmeans-sklearn",
                                    "kmeans-faiss"])
    p.add_argument("--split", help="cohort_compare split directory (als, bpr, cosine-*)")
    p.add_argument("--data", help="float32 n x d .npy (kmeans-*)")
    p.add_argument("--out", required=True, help="directory for the .npy outputs")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--factors", type=int, default=64)
    p.add_argument("--iterations", type=int, default=15)
    p.add_argument("--regularization", type=float, default=0.05)
    p.add_argument("--alpha", type=float, default=2.0)
    p.add_argument("--solver", choices=["cg", "cholesky"], default="cg")
    p.add_argument("--cg-steps", type=int, default=3)
    p.add_argument("--learning-rate", type=float, default=0.05)
    p.add_argument("--k", type=int, help="neighbours (cosine-*) or a single k (kmeans-*)")
    p.add_argument("--k-min", type=int, default=2)
    p.add_argument("--k-max", type=int, default=32)
    p.add_argument("--restarts", type=int, default=3)
    p.add_argument("--kmeans-iterations", type=int, default=50)
    p.add_argument("--tolerance", type=float, default=1e-4)
    return p


def main(argv=None):
    a = _parser().parse_args(argv)
    if a.threads <= 0:
        a.threads = os.cpu_count()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(a.threads))
    os.makedirs(a.out, exist_ok=True)
    if a.task in ("als", "bpr", "cosine-implicit", "cosine-sklearn"):
        if not a.split:
            sys.exit(f"baselines {a.task}: --split is required")
        train = load_csr(a.split, "train")
    if a.task == "als":
        info, arrays = run_als(train, a.factors, a.regularization, a.alpha, a.iterations, a.solver, a.cg_steps,
                               a.threads, a.seed)
    elif a.task == "bpr":
        info, arrays = run_bpr(train, a.factors, a.learning_rate, a.regularization, a.iterations, a.threads,
                               a.seed)
    elif a.task.startswith("cosine"):
        k = a.k or 100
        run = run_cosine_implicit if a.task == "cosine-implicit" else run_cosine_sklearn
        info, arrays = run(train, k, a.threads)
    else:
        if not a.data:
            sys.exit(f"baselines {a.task}: --data is required")
        X = np.ascontiguousarray(np.load(a.data), dtype=np.float32)
        problems = kmeans_problems(a.k_min, a.k_max, a.restarts if a.k is None else 1, a.k)
        if a.task == "kmeans-sklearn":
            info, arrays = run_kmeans_sklearn(X, problems, a.kmeans_iterations, a.tolerance, a.threads, a.seed)
        else:
            info, arrays = run_kmeans_faiss(X, problems, a.kmeans_iterations, a.threads, a.seed)
    for name, arr in arrays.items():
        np.save(os.path.join(a.out, f"{name}.npy"), arr)
    json.dump(info, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
