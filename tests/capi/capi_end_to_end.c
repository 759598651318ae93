/* The C API end to end, from a program compiled as C: a planted dataset of two groups of users,
 * each on its own half of the items; train, discover groups, recommend, fold in, route, save,
 * load, evaluate, and the error paths. argv[1]: a scratch directory. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cohort/cohort.h"

enum { kUsers = 200, kItems = 60, kBlock = 30, kPerUser = 12, kFactors = 8, kTopK = 10 };

static int failures = 0;

#define EXPECT(cond, ...)                                             \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                   \
      fprintf(stderr, "\n");                                          \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

/* A call that must succeed; on failure the test cannot go on. */
#define MUST(call)                                                                           \
  do {                                                                                       \
    cohort_status status_ = (call);                                                          \
    if (status_ != COHORT_OK) {                                                              \
      fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,               \
              cohort_status_name(status_), cohort_last_error());                             \
      exit(1);                                                                               \
    }                                                                                        \
  } while (0)

static uint32_t rng_state = 12345u;
static uint32_t next_random(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state >> 8;
}

/* The block (planted group) of a user and of an item. */
static int user_block(int u) { return u < kUsers / 2 ? 0 : 1; }
static int item_block(int i) { return i < kBlock ? 0 : 1; }

/* Each user picks kPerUser distinct items of its block. */
static int64_t plant(int32_t* users, int32_t* items, float* values) {
  int64_t nnz = 0;
  for (int u = 0; u < kUsers; ++u) {
    char taken[kBlock] = {0};
    for (int n = 0; n < kPerUser;) {
      int j = (int)(next_random() % kBlock);
      if (taken[j]) continue;
      taken[j] = 1;
      users[nnz] = u;
      items[nnz] = user_block(u) * kBlock + j;
      values[nnz] = 1.0f + (float)(next_random() % 3);
      ++nnz;
      ++n;
    }
  }
  return nnz;
}

static int seen_by(const int32_t* users, const int32_t* items, int64_t nnz, int user, int item) {
  for (int64_t e = 0; e < nnz; ++e)
    if (users[e] == user && items[e] == item) return 1;
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
    return 2;
  }
  const char* dir = argv[1];
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "cannot create %s\n", dir);
    return 2;
  }
  printf("cohort %s\n", cohort_version());

  char backends[256];
  size_t needed = 0;
  MUST(cohort_backends_available(backends, sizeof backends, &needed));
  EXPECT(strncmp(backends, "cpu", 3) == 0, "backends '%s' do not start with cpu", backends);
  EXPECT(needed == strlen(backends) + 1, "needed %zu for '%s'", needed, backends);

  cohort_context_config cc = COHORT_CONTEXT_CONFIG_INIT;
  cc.backend = "cpu";
  cc.seed = 7;
  cohort_context* ctx = NULL;
  MUST(cohort_context_create(&cc, &ctx));
  const char* backend_name = NULL;
  MUST(cohort_context_backend(ctx, &backend_name));
  EXPECT(strcmp(backend_name, "cpu") == 0, "backend '%s'", backend_name);

  static int32_t users[kUsers * kPerUser], items[kUsers * kPerUser];
  static float values[kUsers * kPerUser];
  const int64_t nnz = plant(users, items, values);
  cohort_dataset* data = NULL;
  MUST(cohort_dataset_from_coo(kUsers, kItems, nnz, users, items, values, &data));
  int64_t n_users = 0, n_items = 0, n_nnz = 0;
  MUST(cohort_dataset_shape(data, &n_users, &n_items, &n_nnz));
  EXPECT(n_users == kUsers && n_items == kItems && n_nnz == nnz, "shape %lld x %lld, %lld", (long long)n_users,
         (long long)n_items, (long long)n_nnz);

  /* Train. */
  cohort_model_config mc = COHORT_MODEL_CONFIG_INIT;
  mc.factors = kFactors;
  mc.iterations = 10;
  mc.solver = "cholesky";
  mc.regularization = 0.1f;
  cohort_model* model = NULL;
  MUST(cohort_model_train(ctx, data, &mc, &model));
  int64_t m_users = 0, m_items = 0;
  int32_t m_factors = 0;
  MUST(cohort_model_shape(model, &m_users, &m_items, &m_factors));
  EXPECT(m_users == kUsers && m_items == kItems && m_factors == kFactors, "model shape");
  static float user_factors[kUsers * kFactors], item_factors[kItems * kFactors];
  MUST(cohort_model_factors(model, user_factors, kUsers * kFactors, item_factors, kItems * kFactors));

  /* Groups with k = 2 recover the planted blocks. */
  cohort_groups_config gc = COHORT_GROUPS_CONFIG_INIT;
  gc.k = 2;
  cohort_groups* groups = NULL;
  MUST(cohort_groups_discover(ctx, data, model, &gc, &groups));
  int k = 0;
  int64_t g_users = 0;
  MUST(cohort_groups_k(groups, &k, &g_users));
  EXPECT(k == 2 && g_users == kUsers, "k %d, users %lld", k, (long long)g_users);
  static int32_t assignment[kUsers];
  static float confidence[kUsers];
  MUST(cohort_groups_assignment(groups, assignment, confidence, kUsers));
  const int32_t label0 = assignment[0], label1 = assignment[kUsers - 1];
  EXPECT(label0 != label1 && label0 >= 0 && label1 >= 0, "planted groups share label %d", label0);
  int misplaced = 0;
  for (int u = 0; u < kUsers; ++u) {
    if (assignment[u] != (user_block(u) == 0 ? label0 : label1)) ++misplaced;
    EXPECT(confidence[u] >= 0.0f && confidence[u] <= 1.0f, "confidence[%d] = %f", u, confidence[u]);
  }
  EXPECT(misplaced == 0, "%d users outside their planted group", misplaced);

  /* Recommend: never a seen item; the top item is from the user's block. */
  const char* kinds[] = {"als", "popularity", "group", "blend", "item_knn"};
  const int32_t query[2] = {3, kUsers - 5};
  for (size_t t = 0; t < sizeof kinds / sizeof kinds[0]; ++t) {
    cohort_recommend_config rc = COHORT_RECOMMEND_CONFIG_INIT;
    rc.kind = kinds[t];
    rc.k = kTopK;
    int32_t rec_items[2 * kTopK];
    float rec_scores[2 * kTopK];
    MUST(cohort_recommend(ctx, data, model, groups, &rc, 2, query, rec_items, rec_scores, 2 * kTopK));
    for (int q = 0; q < 2; ++q) {
      for (int j = 0; j < kTopK; ++j) {
        const int32_t item = rec_items[q * kTopK + j];
        EXPECT(item >= -1 && item < kItems, "%s: item %d", kinds[t], item);
        if (item >= 0)
          EXPECT(!seen_by(users, items, nnz, query[q], item), "%s: user %d was recommended its seen item %d",
                 kinds[t], query[q], item);
        if (j > 0 && item >= 0)
          EXPECT(rec_scores[q * kTopK + j] <= rec_scores[q * kTopK + j - 1], "%s: scores not descending", kinds[t]);
      }
      if (strcmp(kinds[t], "popularity") != 0)
        EXPECT(rec_items[q * kTopK] >= 0 && item_block(rec_items[q * kTopK]) == user_block(query[q]),
               "%s: user %d's top item %d is outside its block", kinds[t], query[q], rec_items[q * kTopK]);
    }
  }

  /* A new user on block 1's items folds in near block 1 and is routed to its group. */
  const int64_t indptr[3] = {0, 5, 9};
  const int32_t new_items[9] = {31, 35, 40, 47, 52, 2, 7, 11, 20};
  float new_factors[2 * kFactors];
  MUST(cohort_model_fold_in(ctx, model, 2, indptr, new_items, NULL, new_factors, 2 * kFactors));
  float norm = 0.0f;
  for (int f = 0; f < kFactors; ++f) norm += new_factors[f] * new_factors[f];
  EXPECT(norm > 0.0f, "folded-in factors are zero");
  int32_t new_group[2];
  float new_confidence[2];
  MUST(cohort_groups_assign(ctx, groups, model, 2, indptr, new_items, NULL, new_group, new_confidence, 2));
  EXPECT(new_group[0] == label1, "new user on block 1 routed to %d, block 1 is %d", new_group[0], label1);
  EXPECT(new_group[1] == label0, "new user on block 0 routed to %d, block 0 is %d", new_group[1], label0);

  /* Save and load: the same factors and groups. */
  char path[1024];
  snprintf(path, sizeof path, "%s/model.cohort", dir);
  MUST(cohort_model_save(model, groups, path));
  cohort_model* loaded = NULL;
  cohort_groups* loaded_groups = NULL;
  MUST(cohort_model_load(path, &loaded, &loaded_groups));
  static float loaded_users[kUsers * kFactors], loaded_items[kItems * kFactors];
  MUST(cohort_model_factors(loaded, loaded_users, kUsers * kFactors, loaded_items, kItems * kFactors));
  EXPECT(memcmp(loaded_users, user_factors, sizeof user_factors) == 0, "loaded user factors differ");
  EXPECT(memcmp(loaded_items, item_factors, sizeof item_factors) == 0, "loaded item factors differ");
  EXPECT(loaded_groups != NULL, "loaded model has no groups");
  if (loaded_groups != NULL) {
    static int32_t loaded_assignment[kUsers];
    MUST(cohort_groups_assignment(loaded_groups, loaded_assignment, NULL, kUsers));
    EXPECT(memcmp(loaded_assignment, assignment, sizeof assignment) == 0, "loaded assignment differs");
  }

  /* Evaluate: a too-small buffer reports the size, then the metrics.json text. */
  cohort_model_config ec = mc;
  ec.iterations = 5;
  char small[8];
  size_t json_size = 0;
  cohort_status status = cohort_evaluate(ctx, data, &ec, &gc, small, sizeof small, &json_size);
  EXPECT(status == COHORT_ERROR_BUFFER_TOO_SMALL && json_size > sizeof small, "evaluate: %s, needed %zu",
         cohort_status_name(status), json_size);
  if (status == COHORT_ERROR_BUFFER_TOO_SMALL && json_size > 0) {
    char* json = malloc(json_size);
    MUST(cohort_evaluate(ctx, data, &ec, &gc, json, json_size, &json_size));
    EXPECT(strstr(json, "\"recommendation\"") != NULL && strstr(json, "\"version\"") != NULL,
           "metrics.json lacks its keys");
    free(json);
  }

  /* Error paths. */
  status = cohort_model_train(NULL, data, &mc, &model);
  EXPECT(status == COHORT_ERROR_INVALID_ARGUMENT, "NULL context gave %s", cohort_status_name(status));
  EXPECT(strlen(cohort_last_error()) > 0 && strstr(cohort_last_error(), "context") != NULL, "message '%s'",
         cohort_last_error());
  char missing[1024];
  snprintf(missing, sizeof missing, "%s/no-such-file.csv", dir);
  cohort_dataset* none = NULL;
  status = cohort_dataset_from_file(missing, NULL, &none);
  EXPECT(status == COHORT_ERROR_IO, "missing file gave %s", cohort_status_name(status));
  EXPECT(strstr(cohort_last_error(), missing) != NULL, "message '%s' does not name %s", cohort_last_error(), missing);
  EXPECT(none == NULL, "a handle came back from a failed call");
  status = cohort_model_load(missing, &loaded, NULL);
  EXPECT(status == COHORT_ERROR_IO, "loading a missing model gave %s", cohort_status_name(status));

  cohort_groups_free(loaded_groups);
  cohort_model_free(loaded);
  cohort_groups_free(groups);
  cohort_model_free(model);
  cohort_dataset_free(data);
  cohort_context_free(ctx);
  cohort_context_free(NULL);
  if (failures > 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("capi end to end: ok\n");
  return 0;
}
