"""Runs cohort and its Python baselines on the same data, split and cores, and writes the table.

Per data set: `cohort generate` (or --input), `cohort_compare split`, then each comparison
--repeats times, cohort and the baseline alternating so that load on a shared machine falls on
both; every figure reported is the median over the repeats. cohort runs through its tools,
each baseline in a fresh Python process (baselines.py). Quality is measured by metrics.py, the
same code for cohort's factors and the baseline's, and cross-checked against cohort's own
evaluation (it must agree within 1e-4 or the run fails).

Writes the section between <!-- compare:begin --> and <!-- compare:end --> of --results (with
--smoke, a separate file in the work directory) and the raw figures as JSON in --work.
Exit status: 0 when every step ran and every cross-check agreed, 1 otherwise (goals that are not
met are reported in the table, not in the exit status).
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import baselines  # noqa: E402
import metrics  # noqa: E402

BEGIN, END = "<!-- compare:begin -->", "<!-- compare:end -->"
HEADING = "## Against implicit, FAISS and scikit-learn"
SIZES = {"default": [], "10x": ["--users", "200000", "--items", "50000"],
         "smoke": ["--users", "2000", "--items", "500"]}
LIBRARIES = ("implicit", "faiss-cpu", "scikit-learn", "numpy", "scipy", "threadpoolctl")
CROSS_CHECK_TOLERANCE = 1e-4
NDCG_TOLERANCE = 0.02      # equal quality: cohort's NDCG@10 at least 98% of the baseline's
INERTIA_TOLERANCE = 0.01   # equal quality: cohort's inertia at most 101% of the baseline's
SWEEP_SPEEDUP_GOAL = 3.0   # batched sweep at least 3x faster than one call per (k, restart)
QUALITY_CELLS = 2e8        # above users x items, quality is measured on the first run only


class StepFailed(Exception):
    pass


def log(msg):
    print(f"[compare] {msg}", file=sys.stderr, flush=True)


def run_json(cmd, env=None, what=None):
    """Runs cmd, returns (its stdout's last JSON line as a dict, wall seconds)."""
    what = what or Path(cmd[0]).name
    start = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise StepFailed(f"{what} exited {proc.returncode}: {shlex.join(map(str, cmd))}\n{tail}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1]), wall
    except (IndexError, json.JSONDecodeError) as e:
        raise StepFailed(f"{what} printed no JSON ({e}): {shlex.join(map(str, cmd))}\n{proc.stdout[-500:]}")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


class Harness:
    def __init__(self, args):
        self.a = args
        self.repo = HERE.parent.parent
        self.build = Path(args.build_dir).resolve() if args.build_dir else self.repo / "build"
        self.cohort = self.build / "cohort"
        self.compare = self.build / "benchmarks" / "cohort_compare"
        self.work = Path(args.work).resolve()
        self.threads = args.threads
        self.failures = []
        self.notes = []
        self.env = dict(os.environ, OMP_NUM_THREADS=str(self.threads), OPENBLAS_NUM_THREADS=str(self.threads),
                        MKL_NUM_THREADS=str(self.threads))

    # ---- helpers -------------------------------------------------------------------------
    def fail(self, what, err):
        msg = f"{what}: {err}"
        log(f"FAILED {msg}")
        self.failures.append(msg)

    def baseline(self, task, out, *opts):
        cmd = [sys.executable, HERE / "baselines.py", task, "--out", out, "--threads", self.threads,
               "--seed", self.a.seed, *opts]
        return run_json(cmd, env=self.env, what=f"baselines.py {task}")[0]

    def cohort_compare(self, sub, *opts):
        return run_json([self.compare, sub, "--threads", self.threads, *opts], what=f"cohort_compare {sub}")[0]

    def cohort_kmeans(self, data, out, *opts):
        """cohort_compare kmeans, its inertia recomputed from its centroids by the baselines' code
        (baselines.inertia), so both sides are measured alike; cohort's own figure must agree."""
        result = self.cohort_compare("kmeans", "--data", data, "--out", out, *opts)
        X = np.load(data)
        stacked = np.load(Path(out) / "centroids.npy")
        at = 0
        for p in result["problems"]:
            reported = p["inertia"]
            p["inertia"] = baselines.inertia(X, stacked[at:at + p["k"]])
            at += p["k"]
            if abs(p["inertia"] - reported) > 1e-3 * max(abs(reported), 1e-12):
                raise StepFailed(f"cohort_compare kmeans reports inertia {reported} for k={p['k']} restart "
                                 f"{p['restart']}, its centroids give {p['inertia']}")
            p["reported_inertia"] = reported
        return result

    # ---- data ----------------------------------------------------------------------------
    def datasets(self):
        if self.a.input:
            name = Path(self.a.input).stem
            return [{"name": name, "input": str(Path(self.a.input).resolve()),
                     "items": self.a.items and str(Path(self.a.items).resolve()),
                     "truth": self.a.truth and str(Path(self.a.truth).resolve()), "generate": None}]
        sizes = ["smoke"] if self.a.smoke else (["default"] if self.a.quick else self.a.sizes.split(","))
        out = []
        for size in sizes:
            if size not in SIZES:
                raise SystemExit(f"harness: unknown size '{size}' (default, 10x)")
            d = self.work / f"data-{size}"
            out.append({"name": size, "input": str(d / "interactions.csv"), "items": str(d / "items.csv"),
                        "truth": str(d / "truth.csv"), "generate": SIZES[size]})
        return out

    def prepare(self, ds):
        if ds["generate"] is not None:
            d = Path(ds["input"]).parent
            stamp = d / "generate.json"
            args = ds["generate"] + ["--seed", str(self.a.seed)]
            if not (stamp.exists() and json.loads(stamp.read_text()) == args and Path(ds["input"]).exists()):
                log(f"generating {ds['name']} data: cohort generate {' '.join(args)}")
                d.mkdir(parents=True, exist_ok=True)
                proc = subprocess.run([str(self.cohort), "generate", *args, "--out", str(d), "--quiet"],
                                      stderr=subprocess.PIPE, text=True)
                if proc.returncode != 0:
                    raise StepFailed(f"cohort generate exited {proc.returncode}: {proc.stderr[-1000:]}")
                stamp.write_text(json.dumps(args))
        split = self.work / ds["name"] / "split"
        opts = ["split", "--input", ds["input"], "--seed", self.a.seed, "--out", split]
        if ds["truth"]:
            opts[3:3] = ["--truth", ds["truth"]]
        info, wall = run_json([self.compare, *opts], what="cohort_compare split")
        shape = json.loads((split / "shape.json").read_text())
        log(f"{ds['name']}: {shape['users']} users x {shape['items']} items, {shape['interactions']} interactions "
            f"(split in {wall:.1f} s)")
        return split, shape

    # ---- comparisons ---------------------------------------------------------------------
    def factor_model(self, ds, model, split, train, test, quality_runs):
        """cohort's als|bpr against implicit's, s/iteration and warm NDCG@10 / recall@20."""
        base = self.work / ds["name"] / model
        opts = ["--factors", self.a.factors, "--iterations", self.a.iterations,
                "--regularization", self.a.regularization, "--seed", self.a.seed]
        if model == "als":
            opts += ["--alpha", self.a.alpha, "--solver", "cg", "--cg-steps", 3]
        else:
            opts += ["--learning-rate", self.a.learning_rate]
        runs = {"cohort": [], "implicit": []}
        for r in range(self.a.repeats):
            c = self.cohort_compare(model, "--split", split, "--out", base / f"cohort-r{r}", *opts)
            b = self.baseline(model, base / f"implicit-r{r}", "--split", split, *map(str, opts))
            if r < quality_runs:
                for who, info in (("cohort", c), ("implicit", b)):
                    d = base / f"{who}-r{r}"
                    m = metrics.evaluate_factors(np.load(d / "user_factors.npy"), np.load(d / "item_factors.npy"),
                                                 train, test)
                    info["metrics_py"] = {"ndcg@10": m["ndcg@10"], "recall@20": m["recall@20"]}
                for key in ("ndcg@10", "recall@20"):
                    diff = abs(c["metrics_py"][key] - c[key])
                    if diff > CROSS_CHECK_TOLERANCE:
                        raise StepFailed(f"metric cross-check: metrics.py gives {key} {c['metrics_py'][key]:.6f} "
                                         f"for cohort's {model} factors, cohort_compare printed {c[key]:.6f} "
                                         f"(difference {diff:.2e} > {CROSS_CHECK_TOLERANCE})")
            runs["cohort"].append(c)
            runs["implicit"].append(b)
            log(f"{ds['name']} {model} run {r + 1}: cohort {c['s_per_iteration']:.4f} s/it, "
                f"implicit {b['s_per_iteration']:.4f} s/it")
        out = {"runs": runs}
        for who in runs:
            out[who] = {"s_per_iteration": median([x["s_per_iteration"] for x in runs[who]]),
                        "fit_s": median([x["fit_s"] for x in runs[who]]),
                        "ndcg@10": median([x.get("metrics_py", {}).get("ndcg@10") for x in runs[who]]),
                        "recall@20": median([x.get("metrics_py", {}).get("recall@20") for x in runs[who]])}
        out["cohort"]["cohort_printed_ndcg@10"] = median([x["ndcg@10"] for x in runs["cohort"]])
        out["quality_runs"] = quality_runs
        return out

    def cosine(self, ds, split, shape):
        k = min(self.a.neighbours, shape["items"] - 1)
        base = self.work / ds["name"] / "cosine"
        runs = {"cohort": [], "implicit": [], "sklearn": []}
        for r in range(self.a.repeats):
            runs["cohort"].append(self.cohort_compare("cosine", "--split", split, "--k", k, "--out", base / f"cohort-r{r}"))
            for lib in ("implicit", "sklearn"):
                runs[lib].append(self.baseline(f"cosine-{lib}", base / f"{lib}-r{r}", "--split", split, "--k", str(k)))
            log(f"{ds['name']} cosine run {r + 1}: " +
                ", ".join(f"{w} {runs[w][-1]['fit_s']:.3f} s" for w in runs))
        mine = load_neighbours(base / "cohort-r0", k, shape["items"])
        out = {"k": k, "runs": runs}
        for who in runs:
            out[who] = {"fit_s": median([x["fit_s"] for x in runs[who]])}
            if who != "cohort":
                out[who].update(neighbour_agreement(mine, load_neighbours(base / f"{who}-r0", k, shape["items"])))
        return out

    def kmeans_data(self, ds, split, train):
        """cohort's ALS user factors of the users with training rows, each row scaled to unit length."""
        U = np.load(self.work / ds["name"] / "als" / "cohort-r0" / "user_factors.npy").astype(np.float32)
        norms = np.linalg.norm(U, axis=1)
        keep = (np.diff(train.indptr) > 0) & (norms > 0)
        X = np.ascontiguousarray(U[keep] / norms[keep, None], dtype=np.float32)
        path = self.work / ds["name"] / "kmeans" / "user_factors_unit.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, X)
        return path, X.shape

    def kmeans(self, ds, data, data_shape):
        base = self.work / ds["name"] / "kmeans"
        sweep = ["--k-min", self.a.k_min, "--k-max", self.a.k_max, "--restarts", self.a.restarts]
        common = ["--iterations", self.a.kmeans_iterations, "--tolerance", self.a.tolerance, "--seed", self.a.seed]
        sweep_runs = {"cohort": [], "cohort_loop": [], "sklearn": [], "faiss": []}
        single_runs = {"cohort": [], "sklearn": [], "faiss": []}
        base_opts = ["--kmeans-iterations", str(self.a.kmeans_iterations), "--tolerance", str(self.a.tolerance)]
        for r in range(self.a.repeats):
            sweep_runs["cohort"].append(self.cohort_kmeans(data, base / f"cohort-r{r}", *sweep, *common))
            sweep_runs["cohort_loop"].append(self.cohort_kmeans(data, base / f"cohort-loop-r{r}", *sweep, *common,
                                                                "--loop"))
            for lib in ("sklearn", "faiss"):
                sweep_runs[lib].append(self.baseline(f"kmeans-{lib}", base / f"{lib}-r{r}", "--data", str(data),
                                                     *map(str, sweep), *base_opts))
            log(f"{ds['name']} k-means sweep run {r + 1}: " +
                ", ".join(f"{w} {sweep_runs[w][-1]['fit_s']:.2f} s" for w in sweep_runs))
            single_runs["cohort"].append(self.cohort_kmeans(data, base / f"cohort-single-r{r}", "--k",
                                                            self.a.single_k, "--restarts", 1, *common))
            for lib in ("sklearn", "faiss"):
                single_runs[lib].append(self.baseline(f"kmeans-{lib}", base / f"{lib}-single-r{r}", "--data",
                                                      str(data), "--k", str(self.a.single_k), *base_opts))
            log(f"{ds['name']} k-means k={self.a.single_k} run {r + 1}: " +
                ", ".join(f"{w} {single_runs[w][-1]['fit_s']:.2f} s" for w in single_runs))
        out = {"sweep": {"runs": sweep_runs}, "single": {"k": self.a.single_k, "runs": single_runs},
               "data": {"path": str(data), "rows": data_shape[0], "dims": data_shape[1]}}
        for who, runs in sweep_runs.items():
            totals = [sum(best_inertia_per_k(x["problems"]).values()) for x in runs]
            out["sweep"][who] = {"fit_s": median([x["fit_s"] for x in runs]), "best_inertia_total": median(totals),
                                 "problems": len(runs[0]["problems"])}
        for who in ("sklearn", "faiss", "cohort_loop"):
            per_run = [worst_per_k_ratio(c["problems"], b["problems"]) for c, b in zip(sweep_runs["cohort"],
                                                                                   sweep_runs[who])]
            out["sweep"][who]["worst_per_k_inertia_ratio"] = median(per_run)
        for who, runs in single_runs.items():
            out["single"][who] = {"fit_s": median([x["fit_s"] for x in runs]),
                                  "inertia": median([x["problems"][0]["inertia"] for x in runs])}
        return out

    def end_to_end(self, ds, split):
        """`cohort pipeline` against e2e_job.py, the same job in Python, with the same parameters;
        neither gets item metadata or true groups, so both do the same work."""
        job = Path(self.a.e2e_job) if self.a.e2e_job else HERE / "e2e_job.py"
        if not job.exists():
            note = f"skipped: {job} is not there"
            log(f"end to end {note}")
            return {"skipped": note}
        base = self.work / ds["name"] / "e2e"
        a = self.a
        params = ["--factors", a.factors, "--iterations", a.iterations, "--regularization", a.regularization,
                  "--alpha", a.alpha, "--k-min", a.k_min, "--k-max", a.k_max, "--restarts", a.restarts,
                  "--kmeans-iterations", a.kmeans_iterations, "--neighbours", a.neighbours, "--seed", a.seed,
                  "--threads", self.threads]
        runs = {"cohort": [], "python": []}
        for r in range(a.repeats):
            d = base / f"cohort-r{r}"
            cmd = [self.cohort, "pipeline", "--input", ds["input"], *params, "--quiet", "--out", d]
            runs["cohort"].append(self.timed_job(cmd, d, "cohort pipeline"))
            d = base / f"python-r{r}"
            cmd = [sys.executable, job, "--input", ds["input"], "--split", split, *params, "--out", d]
            runs["python"].append(self.timed_job(cmd, d, "e2e_job.py", env=self.env))
            log(f"{ds['name']} end to end run {r + 1}: cohort {runs['cohort'][-1]['wall_s']:.1f} s, "
                f"python {runs['python'][-1]['wall_s']:.1f} s")
        out = {"runs": runs}
        for who, rs in runs.items():
            out[who] = {k: median([x[k] for x in rs]) for k in ("wall_s", "total_s", "ndcg@10", "recall@20")}
            out[who]["groups_k"] = rs[0]["groups_k"]
        return out

    def timed_job(self, cmd, out_dir, what, env=None):
        start = time.perf_counter()
        proc = subprocess.run([str(c) for c in cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env=env)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise StepFailed(f"{what} exited {proc.returncode}: {shlex.join(map(str, cmd))}\n{proc.stderr[-1500:]}")
        try:
            m = json.loads((Path(out_dir) / "metrics.json").read_text())
            als = m["recommendation"]["warm"]["als"]
            return {"wall_s": wall, "total_s": m["timings_s"]["total"], "timings_s": m["timings_s"],
                    "ndcg@10": als["ndcg@10"], "recall@20": als["recall@20"], "groups_k": m.get("groups", {}).get("k")}
        except (OSError, KeyError, TypeError, json.JSONDecodeError) as e:
            raise StepFailed(f"{what}: {out_dir}/metrics.json unreadable or missing a key ({e!r})")

    # ---- one data set ----------------------------------------------------------------------
    def run_dataset(self, ds, checkpoint=lambda res: None):
        """Every comparison on one data set; checkpoint(res) saves what is done so far after each
        step, so a run stopped half-way (the 10x Python job alone can take 20 minutes) keeps it."""
        res = {"name": ds["name"], "input": ds["input"]}
        try:
            split, shape = self.prepare(ds)
        except StepFailed as e:
            self.fail(f"{ds['name']} data/split", e)
            return res
        res["shape"] = shape
        train = baselines.load_csr(split, "train")
        test = baselines.load_csr(split, "test")
        quality_runs = self.a.repeats if shape["users"] * shape["items"] <= QUALITY_CELLS else 1
        steps = [("als", lambda: self.factor_model(ds, "als", split, train, test, quality_runs)),
                 ("bpr", lambda: self.factor_model(ds, "bpr", split, train, test, quality_runs)),
                 ("cosine", lambda: self.cosine(ds, split, shape))]
        steps.append(("kmeans", lambda: self.kmeans(ds, *self.kmeans_data(ds, split, train)) if "als" in res
                      else self.skip(f"{ds['name']} k-means skipped: it clusters cohort's ALS factors, which failed")))
        steps.append(("e2e", lambda: self.end_to_end(ds, split)))
        for name, step in steps:
            try:
                out = step()
                if out is not None:
                    res[name] = out
            except StepFailed as e:
                self.fail(f"{ds['name']} {name}", e)
            except Exception as e:  # a bug or unexpected output: record it and go on with the next step
                self.fail(f"{ds['name']} {name}", f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
            checkpoint(res)
        return res

    def skip(self, note):
        log(note)
        self.notes.append(note)

    def run(self):
        for tool in (self.cohort, self.compare):
            if not tool.exists():
                raise SystemExit(f"harness: {tool} not found; build cohort first (scripts/build) or pass --build-dir")
        self.work.mkdir(parents=True, exist_ok=True)
        machine = describe_machine(self.threads, self.build.parent)
        started = time.time()
        results = {"machine": machine, "command": command_line(), "repeats": self.a.repeats,
                   "params": {k: getattr(self.a, k) for k in ("factors", "iterations", "regularization", "alpha",
                                                              "learning_rate", "neighbours", "k_min", "k_max",
                                                              "restarts", "single_k", "kmeans_iterations",
                                                              "tolerance", "seed")},
                   "datasets": []}
        tag = "smoke" if self.a.smoke else "results"
        partial = self.work / f"{tag}.partial.json"
        for ds in self.datasets():
            results["datasets"].append(self.run_dataset(ds, lambda res: partial.write_text(
                json.dumps({**results, "datasets": results["datasets"] + [res]}, indent=1, default=float))))
        results["elapsed_s"] = time.time() - started
        results["failures"] = self.failures
        results["notes"] = self.notes
        raw = self.work / f"{tag}.json"
        raw.write_text(json.dumps(results, indent=1, default=float))
        section = render(results)
        target = self.work / "RESULTS-smoke.md" if self.a.smoke else Path(self.a.results)
        write_section(target, section)
        print(section)
        log(f"raw results: {raw}; table: {target}")
        if self.failures:
            log(f"{len(self.failures)} step(s) failed:\n  " + "\n  ".join(f.splitlines()[0] for f in self.failures))
            return 1
        return 0


def load_neighbours(d, k, items):
    """knn_index.npy and knn_score.npy as items x k arrays (a flat items * k file is reshaped)."""
    out = []
    for name in ("knn_index.npy", "knn_score.npy"):
        a = np.load(Path(d) / name)
        if a.ndim == 1 and a.size == items * k:
            a = a.reshape(items, k)
        if a.shape != (items, k):
            raise StepFailed(f"{d}/{name} has shape {a.shape}, expected {(items, k)}")
        out.append(a)
    return tuple(out)


def best_inertia_per_k(problems):
    best = {}
    for p in problems:
        best[p["k"]] = min(best.get(p["k"], float("inf")), p["inertia"])
    return best


def worst_per_k_ratio(mine, theirs):
    a, b = best_inertia_per_k(mine), best_inertia_per_k(theirs)
    ratios = [a[k] / b[k] for k in a if k in b and b[k] > 0]
    return max(ratios) if ratios else None


def neighbour_agreement(mine, theirs):
    """Mean share of cohort's neighbours that the other also lists, and the largest difference of
    the scores rank by rank (tie-proof: items tied at the k-th score may be swapped)."""
    (ia, sa), (ib, sb) = mine, theirs
    width = min(ia.shape[1], ib.shape[1])
    ia, sa, ib, sb = ia[:, :width], sa[:, :width], ib[:, :width], sb[:, :width]
    shares = []
    for x, y in zip(ia, ib):
        x = x[x >= 0]
        if len(x):
            shares.append(len(np.intersect1d(x, y[y >= 0])) / len(x))
    valid = (ia >= 0) & (ib >= 0)
    diff = float(np.abs(sa - sb)[valid].max()) if valid.any() else 0.0
    return {"overlap": float(np.mean(shares)) if shares else 1.0, "max_score_diff": diff,
            "count_mismatch_rows": int(((ia >= 0).sum(axis=1) != (ib >= 0).sum(axis=1)).sum())}


def describe_machine(threads, repo):
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) / 2**20
    except OSError:
        pass
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            versions[lib] = "missing"
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True).stdout.strip() or "unknown"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem, "threads": threads,
            "load_average": os.getloadavg(), "python": platform.python_version(), "versions": versions,
            "cohort_commit": commit, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def command_line():
    return "benchmarks/compare " + shlex.join(sys.argv[1:])


# ---- the table ---------------------------------------------------------------------------------
def fmt_s(x):
    if x is None:
        return "-"
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def fmt_r(x):
    return "-" if x is None else f"{x:.2f}"


def yes(ok):
    return "-" if ok is None else ("yes" if ok else "**no**")


def render(res):
    m = res["machine"]
    mem = f"{m['memory_gib']:.0f} GiB" if m["memory_gib"] else "?"
    lines = [BEGIN, "",
             f"Generated by `{res['command']}` on {m['date']} (cohort {m['cohort_commit']}). Do not edit by hand:",
             "the harness rewrites everything between the compare markers.", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {mem}; every library ran on the same {m['threads']} "
             f"threads (load average at the start {m['load_average'][0]:.1f}). Python {m['python']}, " +
             ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".", "",
             f"Every figure is the median of {res['repeats']} run(s); each baseline run is a fresh Python process. "
             "Ratios are cohort / baseline (time: below 1.0 means cohort is faster). Quality: NDCG@10 and "
             "recall@20 of the warm users' held-out items (evaluation.md split, training items excluded), "
             "computed by the same code (benchmarks/comparison/metrics.py) for both sides; k-means inertia "
             "is the best of the restarts for each k, summed over k, computed from each library's final "
             "centroids by the same code (baselines.inertia). Goals (issue 4): time ratio <= 1.0 at "
             f"equal quality (NDCG@10 within {NDCG_TOLERANCE:.0%}, inertia within {INERTIA_TOLERANCE:.0%}), "
             f"and the batched sweep >= {SWEEP_SPEEDUP_GOAL:.0f}x faster than one call per (k, restart).", ""]
    p = res["params"]
    lines.append(f"Parameters: {p['factors']} factors, {p['iterations']} iterations, regularization "
                 f"{p['regularization']}, alpha {p['alpha']} (implicit is given C = 1 + alpha R), CG 3 steps, BPR "
                 f"learning rate {p['learning_rate']}; cosine k = {p['neighbours']}; k-means k = "
                 f"{p['k_min']}..{p['k_max']} x {p['restarts']} restarts and a single k = {p['single_k']}, "
                 f"at most {p['kmeans_iterations']} iterations, tolerance {p['tolerance']}, on cohort's ALS user "
                 f"factors scaled to unit rows; seed {p['seed']}.")
    lines.append("")
    for ds in res["datasets"]:
        lines += render_dataset(ds)
    if res["failures"]:
        lines += ["Failed steps:", ""] + [f"- {f.splitlines()[0]}" for f in res["failures"]] + [""]
    if res["notes"]:
        lines += [f"- {n}" for n in res["notes"]] + [""]
    lines.append(END)
    return "\n".join(lines)


def render_dataset(ds):
    shape = ds.get("shape")
    title = f"### {ds['name']}"
    if shape:
        title += (f": {shape['users']:,} users x {shape['items']:,} items, {shape['interactions']:,} interactions "
                  f"({shape['train']:,} train, {shape['test']:,} test)")
    out = [title, "", "| comparison | cohort | baseline | ratio cohort/baseline | quality cohort vs baseline | goal met? |",
           "|---|---|---|---|---|---|"]

    def row(name, mine, theirs, quality, quality_ok, r=None, goal=None):
        r = ratio(mine, theirs) if r is None else r
        ok = goal if goal is not None else (None if r is None else (r <= 1.0 and quality_ok is not False))
        out.append(f"| {name} | {fmt_s(mine)} | {fmt_s(theirs)} | {fmt_r(r)} | {quality} | {yes(ok)} |")

    for model, label, unit in (("als", "iALS", "s/iteration"), ("bpr", "BPR", "s/epoch")):
        if model not in ds:
            continue
        c, b = ds[model]["cohort"], ds[model]["implicit"]
        q_ok = None
        if c["ndcg@10"] is not None and b["ndcg@10"] is not None:
            q_ok = c["ndcg@10"] >= (1.0 - NDCG_TOLERANCE) * b["ndcg@10"]
            quality = (f"NDCG@10 {c['ndcg@10']:.4f} vs {b['ndcg@10']:.4f}; recall@20 {c['recall@20']:.4f} vs "
                       f"{b['recall@20']:.4f}")
        else:
            quality = "-"
        row(f"{label} {unit} vs implicit", c["s_per_iteration"], b["s_per_iteration"], quality, q_ok)
    if "cosine" in ds:
        cs = ds["cosine"]
        for lib, label in (("implicit", "implicit CosineRecommender"), ("sklearn", "sklearn cosine + argpartition")):
            b = cs[lib]
            q_ok = b["overlap"] >= 0.99 or b["max_score_diff"] <= 1e-4
            quality = (f"neighbours shared {b['overlap']:.3f}, largest score difference by rank "
                       f"{b['max_score_diff']:.1e}")
            row(f"item-item cosine top-{cs['k']} vs {label}", cs["cohort"]["fit_s"], b["fit_s"], quality, q_ok)
    if "kmeans" in ds:
        sw, single = ds["kmeans"]["sweep"], ds["kmeans"]["single"]
        c = sw["cohort"]
        n = c["problems"]
        for lib, label in (("sklearn", "sklearn KMeans loop"), ("faiss", "faiss.Kmeans loop")):
            b = sw[lib]
            ir = ratio(c["best_inertia_total"], b["best_inertia_total"])
            q_ok = ir is not None and ir <= 1.0 + INERTIA_TOLERANCE
            quality = f"inertia ratio {fmt_r(ir)} (worst k {fmt_r(b['worst_per_k_inertia_ratio'])})"
            row(f"k-means sweep ({n} problems) vs {label}", c["fit_s"], b["fit_s"], quality, q_ok)
        lp = sw["cohort_loop"]
        r = ratio(c["fit_s"], lp["fit_s"])
        speedup = ratio(lp["fit_s"], c["fit_s"])
        row(f"k-means sweep batched vs cohort one call per problem", c["fit_s"], lp["fit_s"],
            f"{fmt_r(speedup)}x faster; inertia ratio {fmt_r(ratio(c['best_inertia_total'], lp['best_inertia_total']))}",
            None, r=r, goal=None if speedup is None else speedup >= SWEEP_SPEEDUP_GOAL)
        for lib, label in (("sklearn", "sklearn KMeans"), ("faiss", "faiss.Kmeans")):
            ir = ratio(single["cohort"]["inertia"], single[lib]["inertia"])
            quality = (f"inertia {single['cohort']['inertia']:.1f} vs {single[lib]['inertia']:.1f} "
                       f"(ratio {fmt_r(ir)})")
            row(f"k-means k = {single['k']} vs {label}", single["cohort"]["fit_s"], single[lib]["fit_s"], quality,
                ir is not None and ir <= 1.0 + INERTIA_TOLERANCE)
    e2e = ds.get("e2e")
    if e2e and "skipped" not in e2e:
        c, b = e2e["cohort"], e2e["python"]
        q_ok = c["ndcg@10"] >= (1.0 - NDCG_TOLERANCE) * b["ndcg@10"]
        quality = (f"als NDCG@10 {c['ndcg@10']:.4f} vs {b['ndcg@10']:.4f}; recall@20 {c['recall@20']:.4f} vs "
                   f"{b['recall@20']:.4f}; k chosen {c['groups_k']} vs {b['groups_k']}; reported totals "
                   f"{fmt_s(c['total_s'])} vs {fmt_s(b['total_s'])}")
        row("end to end (wall) vs the Python job", c["wall_s"], b["wall_s"], quality, q_ok)
    elif e2e:
        out.append(f"| end to end | - | - | - | {e2e['skipped']} | - |")
    if "als" in ds:
        q = ds["als"]["quality_runs"]
        out += ["", f"Quality figures from {q} run(s) of each model (metrics.py); cohort's own evaluation printed "
                f"NDCG@10 {ds['als']['cohort']['cohort_printed_ndcg@10']:.4f} for its iALS factors (cross-checked "
                f"to {CROSS_CHECK_TOLERANCE:g})."]
    if "kmeans" in ds:
        d = ds["kmeans"]["data"]
        out.append(f"k-means data: {d['rows']:,} x {d['dims']} (users with training rows).")
    out.append("")
    return out


def write_section(path, section):
    path = Path(path)
    text = path.read_text() if path.exists() else "# cohort: comparison (smoke run)\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\n{section}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def parse_args(argv=None):
    repo = HERE.parent.parent
    p = argparse.ArgumentParser(description="cohort against implicit, FAISS and scikit-learn: same data, split, "
                                            "cores; writes the comparison section of benchmarks/RESULTS.md")
    p.add_argument("--sizes", default="default,10x", help="generated data sets to run: default, 10x (comma list)")
    p.add_argument("--quick", action="store_true", help="the default size only")
    p.add_argument("--input", help="an interaction log (MovieLens or CSV) instead of generated data")
    p.add_argument("--items", help="item metadata for --input (passed to cohort pipeline)")
    p.add_argument("--truth", help="true groups user_id,group for --input")
    p.add_argument("--repeats", type=int, default=3, help="runs of everything; figures are medians")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for every library")
    p.add_argument("--work", default=str(repo / "build" / "compare-work"), help="data, outputs and raw JSON")
    p.add_argument("--results", default=str(repo / "benchmarks" / "RESULTS.md"), help="file whose section is rewritten")
    p.add_argument("--build-dir", help="where cohort was built (default <repo>/build)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny generated data, 1 run, table in the work directory; fails on any error (CI)")
    p.add_argument("--e2e-job", help="the Python end-to-end job (default: e2e_job.py next to this file)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--factors", type=int, default=64)
    p.add_argument("--iterations", type=int, default=15)
    p.add_argument("--regularization", type=float, default=0.05)
    p.add_argument("--alpha", type=float, default=2.0)
    p.add_argument("--learning-rate", type=float, default=0.05)
    p.add_argument("--neighbours", type=int, default=100)
    p.add_argument("--k-min", type=int, default=2)
    p.add_argument("--k-max", type=int, default=32)
    p.add_argument("--restarts", type=int, default=3)
    p.add_argument("--single-k", type=int, default=64)
    p.add_argument("--kmeans-iterations", type=int, default=50)
    p.add_argument("--tolerance", type=float, default=1e-4)
    a = p.parse_args(argv)
    if a.smoke:
        a.repeats = 1
    if a.repeats < 1:
        p.error("--repeats must be at least 1")
    if a.threads < 1:
        p.error("--threads must be at least 1")
    if (a.items or a.truth) and not a.input:
        p.error("--items and --truth go with --input")
    if a.input and not Path(a.input).exists():
        p.error(f"--input {a.input} does not exist")
    return a


def main(argv=None):
    return Harness(parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
