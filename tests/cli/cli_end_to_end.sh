#!/usr/bin/env bash
# The cohort CLI as a user runs it: generate, prepare, pipeline on CSV, cache and MovieLens
# files, train/groups/recommend, and the error paths with their exit codes and messages.
# Usage: cli_end_to_end.sh path/to/cohort scratch-dir
set -u
cohort=$1
work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_exit() {  # expected-code description command...
  local want=$1 what=$2; shift 2
  "$@" >out.txt 2>err.txt
  local got=$?
  [ "$got" -eq "$want" ] || { fail "$what: exit $got, expected $want"; cat err.txt; }
}
expect_stderr() {  # pattern description
  grep -q -- "$1" err.txt || { fail "$2: stderr lacks '$1'"; cat err.txt; }
}

expect_exit 0 "info" "$cohort" info
grep -q "backends compiled: cpu" out.txt || fail "info lists the cpu backend"
# OpenBLAS's kernels: a user's OPENBLAS_CORETYPE is kept; otherwise a CPU with AVX-512 or AVX2
# gets kernels of that width even where OpenBLAS does not know its model (blas_kernels.hpp).
OPENBLAS_CORETYPE=Prescott expect_exit 0 "info with OPENBLAS_CORETYPE" "$cohort" info
grep -q "cpu BLAS kernels:  OpenBLAS Prescott" out.txt || fail "info keeps the user's OPENBLAS_CORETYPE"
expect_exit 0 "info" env -u OPENBLAS_CORETYPE "$cohort" info
if grep -qw avx512bw /proc/cpuinfo 2>/dev/null && grep -qw avx512vl /proc/cpuinfo; then
  grep -qE "OpenBLAS (SkylakeX|Cooperlake|SapphireRapids)" out.txt || fail "an AVX-512 CPU runs AVX-512 BLAS kernels"
elif grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo; then
  grep -qE "OpenBLAS (Haswell|Zen|Excavator|SkylakeX|Cooperlake|SapphireRapids)" out.txt || fail "an AVX2 CPU runs AVX2 BLAS kernels"
fi

expect_exit 0 "generate" "$cohort" generate --out gen --users 1500 --items 400 --groups 4 --item-clusters 8 --interactions-per-user 30 --seed 3
for f in interactions.csv items.csv item_text_vectors.csv truth.csv; do [ -s gen/$f ] || fail "generate wrote $f"; done

expect_exit 0 "pipeline on csv" "$cohort" pipeline --input gen/interactions.csv --header --items gen/items.csv \
  --item-text-vectors gen/item_text_vectors.csv --truth gen/truth.csv --factors 16 --iterations 6 --k-max 8 --restarts 2 --out run1 --backend cpu
for f in metrics.json groups.csv groups.json user_embeddings.npy item_embeddings.npy model.cohort; do
  [ -s run1/$f ] || fail "pipeline wrote $f"
done
grep -q '"ari"' run1/metrics.json || fail "metrics.json has ari with --truth"
grep -q '"ndcg@10"' run1/metrics.json || fail "metrics.json has ndcg@10"
grep -q "NDCG@10" out.txt || fail "pipeline prints its summary"
grep -q "\[als\]" err.txt || fail "pipeline shows training progress on stderr"
[ "$(wc -l < run1/groups.csv)" -eq 1501 ] || fail "groups.csv has a line per user"
ls run1 | grep -q tmp && fail "no temporary files left behind"

expect_exit 0 "prepare" "$cohort" prepare --input gen/interactions.csv --header --out gen/data.cache --quiet
expect_exit 0 "evaluate from the cache" "$cohort" evaluate --input gen/data.cache --factors 8 --iterations 3 --k 4 --out run2 --quiet
[ -s run2/metrics.json ] || fail "evaluate wrote metrics.json"
grep -q '"rating_prediction"' run2/metrics.json && fail "rating errors only for explicit MF"
# Sharded runs (host/workers.hpp): thread workers, and processes under mpiexec where this build
# has MPI, give the one-worker metrics; only the first process prints and writes.
# The silhouettes' GEMMs may round differently with another thread count: compared to 1e-6.
same_metrics='import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
def silhouettes(m):
    g = m["groups"]
    return [s.pop("silhouette") for s in g["k_scores"]] + [g.pop("silhouette")]
close = all(abs(x - y) <= 1e-6 for x, y in zip(silhouettes(a), silhouettes(b)))
keys = ("recommendation", "groups")
sys.exit(0 if close and all(a[k] == b[k] for k in keys) and b["config"]["workers"] == int(sys.argv[3]) else 1)'
expect_exit 0 "evaluate with 3 workers" "$cohort" evaluate --input gen/data.cache --factors 8 --iterations 3 --k 4 \
  --workers 3 --out run2_workers --quiet
python3 -c "$same_metrics" run2/metrics.json run2_workers/metrics.json 3 || fail "3 workers give the one-worker metrics"
expect_exit 2 "workers on one named GPU" "$cohort" evaluate --input gen/data.cache --workers 2 --backend cuda:0 --quiet
expect_stderr "names one GPU" "workers on one named GPU say why not"
if grep -q "MPI (mpiexec" <("$cohort" info) && command -v mpiexec >/dev/null; then
  expect_exit 0 "evaluate as 2 MPI processes" mpiexec -n 2 "$cohort" evaluate --input gen/data.cache --factors 8 \
    --iterations 3 --k 4 --out run2_mpi
  python3 -c "$same_metrics" run2/metrics.json run2_mpi/metrics.json 2 || fail "2 MPI processes give the one-worker metrics"
  [ "$(grep -c '^NDCG@10' out.txt)" -eq 1 ] || fail "only the first MPI process prints the summary"
  expect_exit 2 "workers under mpiexec" mpiexec -n 2 "$cohort" evaluate --input gen/data.cache --workers 2 --quiet
  expect_stderr "one process per worker" "threads and processes together are refused"
fi
expect_exit 0 "explicit MF" "$cohort" evaluate --input gen/data.cache --model mf --factors 8 --iterations 3 --k 4 \
  --regularization 0.1 --out run_mf --quiet
grep -q '"rating_prediction"' run_mf/metrics.json || fail "explicit MF reports its rating errors"
# The generator's ratings carry user and item effects, so the model must beat the training mean.
python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))["rating_prediction"]; sys.exit(0 if r["rmse"] < 0.98 * r["mean_rating_rmse"] else 1)' \
  run_mf/metrics.json || fail "explicit MF predicts held-out ratings better than the training mean"
grep -q "ratings: RMSE" out.txt || fail "explicit MF prints its rating errors"

expect_exit 0 "train" "$cohort" train --input gen/interactions.csv --header --factors 8 --iterations 3 --out model --quiet
expect_exit 0 "groups" "$cohort" groups --model-file model/model.cohort --input gen/interactions.csv --header --k 4 --out grp --quiet
expect_exit 0 "train with 2 workers" "$cohort" train --input gen/interactions.csv --header --factors 8 --iterations 3 \
  --out model_workers --workers 2 --quiet
cmp -s model/user_embeddings.npy model_workers/user_embeddings.npy || fail "2 workers train the one-worker embeddings"
expect_exit 0 "groups with 2 workers" "$cohort" groups --model-file model/model.cohort --input gen/interactions.csv \
  --header --k 4 --out grp_workers --workers 2 --quiet
cmp -s grp/groups.csv grp_workers/groups.csv || fail "2 workers find the one-worker groups"
[ "$(wc -l < grp/groups.csv)" -eq 1501 ] || fail "groups wrote a line per user"
user=$(sed -n 2p gen/interactions.csv | cut -d, -f1)
expect_exit 0 "recommend" "$cohort" recommend --model-file grp/model.cohort --input gen/interactions.csv --header \
  --users "$user" -n 5 --quiet
[ "$(grep -c "^$user," out.txt)" -eq 5 ] || fail "recommend gives 5 items for $user"
for kind in item_knn blend; do
  expect_exit 0 "recommend $kind" "$cohort" recommend --model-file grp/model.cohort --input gen/interactions.csv \
    --header --all-users --kind $kind -n 5 --out rec_one.csv --quiet
  expect_exit 0 "recommend $kind with 3 workers" "$cohort" recommend --model-file grp/model.cohort \
    --input gen/interactions.csv --header --all-users --kind $kind -n 5 --workers 3 --out rec_workers.csv --quiet
  cmp -s rec_one.csv rec_workers.csv || fail "3 workers recommend ($kind) as one does"
done
expect_exit 2 "recommend for an unknown user" "$cohort" recommend --model-file grp/model.cohort --input gen/interactions.csv \
  --header --users nobody --quiet
expect_stderr "nobody" "unknown user named"

# Item text vectors (a language model's embeddings of the items' text): the text recommender.
expect_exit 0 "recommend from text" "$cohort" recommend --model-file grp/model.cohort --input gen/interactions.csv \
  --header --item-text-vectors gen/item_text_vectors.csv --kind text --users "$user" -n 5 --quiet
[ "$(grep -c "^$user," out.txt)" -eq 5 ] || fail "recommend --kind text gives 5 items for $user"
expect_exit 2 "text without vectors" "$cohort" recommend --model-file grp/model.cohort --input gen/interactions.csv \
  --header --kind text --users "$user" --quiet
expect_stderr "needs the items' text vectors: --item-text-vectors" "text without vectors says what is missing"
# A pipeline run with item text keeps it in model.cohort: recommend needs no vectors file then.
expect_exit 0 "recommend from the model's text" "$cohort" recommend --model-file run1/model.cohort \
  --input gen/interactions.csv --header --kind text --users "$user" -n 5 --quiet
cp out.txt text_from_model.txt
expect_exit 0 "recommend from the text file" "$cohort" recommend --model-file run1/model.cohort \
  --input gen/interactions.csv --header --item-text-vectors gen/item_text_vectors.csv --kind text --users "$user" -n 5 --quiet
cmp -s out.txt text_from_model.txt || fail "the model's item text recommends as the vectors file does"
[ "$(grep -c "^$user," out.txt)" -eq 5 ] || fail "recommend --kind text from the model gives 5 items for $user"
expect_exit 0 "evaluate with text" "$cohort" evaluate --input gen/interactions.csv --header --item-text-vectors \
  gen/item_text_vectors.csv --factors 8 --iterations 3 --k 4 --out run_text
grep -q '"text"' run_text/metrics.json || fail "metrics.json has the text recommender"
grep -qE "NDCG@10 .* text" out.txt || fail "the summary has a text column"
head -3 gen/item_text_vectors.csv > short.csv
echo "i00999,1,2" >> short.csv
expect_exit 2 "text vectors of the wrong width" "$cohort" evaluate --input gen/interactions.csv --header \
  --item-text-vectors short.csv --quiet --out run_bad
expect_stderr "short.csv:4: 2 numbers where the first vector has" "a bad text vector names its file and line"

# MovieLens 100K layout: u.data (tab) and u.item ('|', genre flags).
: > u.data
for u in $(seq 1 60); do for i in $(seq 1 12); do
  item=$(( (u % 3) * 12 + i )); echo -e "$u\t$item\t$(( (u + i) % 5 + 1 ))\t$(( 880000000 + u * 100 + i ))" >> u.data
done; done
: > u.item
for i in $(seq 1 40); do echo "$i|Movie $i (1995)|01-Jan-1995||http://x|0|1|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0" >> u.item; done
expect_exit 0 "pipeline on movielens" "$cohort" pipeline --input u.data --format movielens --items u.item --factors 8 \
  --iterations 4 --k-max 5 --out ml --quiet
[ -s ml/groups.json ] || fail "movielens run wrote groups.json"

# A plain user,item log needs no --columns: every value is 1.
tail -n +2 gen/interactions.csv | cut -d, -f1,2 > clicks.csv
expect_exit 0 "a user,item csv" "$cohort" prepare --input clicks.csv --out clicks.cache
expect_stderr "read 1500 users x" "a user,item csv read whole"

# One interaction per user: nothing can be held out, and the summary says so (not a row of zeros).
for u in $(seq 1 40); do echo "u$u,i$((u % 7))"; done > single.csv
expect_exit 0 "one interaction per user" "$cohort" pipeline --input single.csv --k 3 --factors 4 --iterations 2 \
  --out single --quiet
grep -q "^warm users *none held out" out.txt || { fail "no warm test users reported as none"; cat out.txt; }
grep -q "^cold start *none held out" out.txt || { fail "no cold-start users reported as none"; cat out.txt; }

# Bad input: clear errors, exit code 2.
expect_exit 2 "missing file" "$cohort" pipeline --input does-not-exist.csv --quiet
expect_stderr "does-not-exist.csv" "missing file named"
printf 'u1,i1,5\nu2,i2,4\nu3,i1,abc\nu1,i2,3\nu2,i1,1\n' > bad.csv
expect_exit 2 "malformed line" "$cohort" prepare --input bad.csv --columns 0,1,2,-1 --out bad.cache --quiet
expect_stderr "bad.csv:3" "malformed line named by file and line"
expect_exit 0 "skip bad lines" "$cohort" prepare --input bad.csv --columns 0,1,2,-1 --skip-bad-lines --out bad.cache
expect_stderr "1 bad lines skipped" "skipped lines counted"
: > empty.csv
printf 'u1\ti1\nu2\ti2\n' > plays.txt
expect_exit 2 "tab-separated without --delimiter" "$cohort" prepare --input plays.txt --out p.cache --quiet
expect_stderr "the line contains tabs" "the other delimiter named"
expect_exit 2 "empty file" "$cohort" prepare --input empty.csv --out e.cache --quiet
head -c 4096 /dev/urandom > garbage.bin
expect_exit 2 "binary garbage" "$cohort" prepare --input garbage.bin --out g.cache --quiet
printf 'u1,i1,3\nu1,i2,-1\nu2,i1,2\nu2,i2,1\n' > signed.csv
expect_exit 2 "negative values under implicit ALS" "$cohort" train --input signed.csv --quiet --out signed
expect_stderr "user 'u1' has item 'i2' with value -1" "the negative value named by user and item"
printf 'u1,i1,1\nu1,i2,1\n' > one_user.csv
expect_exit 2 "a single user" "$cohort" prepare --input one_user.csv --columns 0,1,2,-1 --out o.cache --quiet
cp gen/data.cache corrupt.cache && printf '\xff\xff\xff\xff' | dd of=corrupt.cache bs=1 seek=200 conv=notrunc 2>/dev/null
expect_exit 2 "corrupted cache" "$cohort" evaluate --input corrupt.cache --quiet
expect_exit 2 "unknown option" "$cohort" pipeline --no-such-option
expect_exit 2 "bad --k" "$cohort" pipeline --input gen/interactions.csv --header --k zero --quiet
expect_exit 2 "--k above the users" "$cohort" pipeline --input gen/interactions.csv --header --k 5000 --iterations 1 --quiet
expect_stderr "k = 5000 is more than the" "--k above the users explained"

if [ "$failures" -gt 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "cli end to end: all checks passed"
