#!/usr/bin/env python3
"""How many (problem, row) pairs the split-TF32 k-means assignment leaves to its FP32 pass.

The fused kernel (kernels/cuda/kmeans_split_tf32_kernels.cuh) lists a pair when
second - e(max |c| of the problem) <= best + e(|c_best|), e(c) = split_tf32_distance_error(d) |x| |c|;
the exact test would use each centroid's own error. Uniform random rows and centroids in [-1, 1]
(gpu_ops' data), in float64 here. Usage: benchmarks/split_tf32_listing.py [rows]
"""
import sys

import numpy as np


def split_error(d):
    return 6 / 1048576 + 3 * d / 4194304  # as split_tf32_distance_error in kmeans_tf32_kernels.cuh


def listed(x, c, err):
    xn = np.linalg.norm(x, axis=1)
    cn = np.linalg.norm(c, axis=1)
    dist = (x**2).sum(1)[:, None] + (c**2).sum(1)[None, :] - 2 * x @ c.T
    rows = np.arange(len(x))
    order = np.argsort(dist, axis=1)
    best_c = order[:, 0]
    best = dist[rows, best_c]
    second = dist[rows, order[:, 1]]
    e_best = err * xn * cn[best_c]
    conservative = second - err * xn * cn.max() <= best + e_best
    lower = dist - err * xn[:, None] * cn[None, :]
    lower[rows, best_c] = np.inf
    exact = lower.min(1) <= best + e_best
    return conservative.sum(), exact.sum()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (n, 64))
    totals = np.zeros(2)
    for k in range(2, 65):
        totals += listed(x, rng.uniform(-1, 1, (k, 64)), split_error(64))
    print(f"sweep k=2..64, d=64: kernel's test lists {totals[0] / (63 * n):.3%}, exact test {totals[1] / (63 * n):.3%}")
    x = rng.uniform(-1, 1, (n, 128))
    one = listed(x, rng.uniform(-1, 1, (1024, 128)), split_error(128))
    print(f"k=1024, d=128: kernel's test lists {one[0] / n:.3%}, exact test {one[1] / n:.3%}")


if __name__ == "__main__":
    main()
