/* cohort: the public C API.
 *
 * Opaque handles over the engine: a context (backend, threads, seed), a dataset (users x items
 * interactions), a model (user and item embeddings) and groups (a clustering of the users).
 *
 * Conventions
 * - Every function that can fail returns cohort_status; COHORT_OK is 0. On failure the message
 *   is kept for cohort_last_error() on the calling thread and every output is left untouched
 *   unless its comment says otherwise. Nothing aborts and nothing throws across this API.
 * - Users and items are dense indices: 0 .. n_users-1 and 0 .. n_items-1. A dataset read from
 *   a file numbers its ids in order of first appearance (cohort_dataset_user_id gives them back).
 * - Arrays are caller-allocated and row-major. Each output array comes with its capacity in
 *   elements; a capacity below what the call writes is COHORT_ERROR_INVALID_ARGUMENT.
 * - A NULL handle or pointer where one is required, or a value out of range, is
 *   COHORT_ERROR_INVALID_ARGUMENT with a message naming the parameter. _free functions accept NULL.
 * - Config structs start with struct_size; initialise them with their _INIT macro and then set
 *   fields, so a program built against this header keeps working as the structs grow.
 * - Every function blocks until its work is done (GPU work included) and is safe to call from
 *   several threads on different handles. A context must not be used by two threads at once;
 *   datasets, models and groups are read-only after creation and may be shared.
 */
#ifndef COHORT_COHORT_H
#define COHORT_COHORT_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define COHORT_API
#else
#define COHORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Mirrors cohort::Status (kernels/error.hpp); BUFFER_TOO_SMALL exists only at this API. */
typedef enum cohort_status {
  COHORT_OK = 0,
  COHORT_ERROR_INVALID_ARGUMENT = 1, /* bad usage: NULL, out of range, wrong shape */
  COHORT_ERROR_BAD_INPUT = 2,        /* bad data: malformed file, corrupted model */
  COHORT_ERROR_IO = 3,               /* a file could not be opened, read or written */
  COHORT_ERROR_OUT_OF_MEMORY = 4,
  COHORT_ERROR_BACKEND = 5,          /* a CUDA/cuBLAS call failed, or no GPU usable */
  COHORT_ERROR_INTERNAL = 6,
  COHORT_ERROR_BUFFER_TOO_SMALL = 7  /* a text buffer is too small; *out_needed says how big */
} cohort_status;

typedef struct cohort_context cohort_context;
typedef struct cohort_dataset cohort_dataset;
typedef struct cohort_model cohort_model;
typedef struct cohort_groups cohort_groups;

/* ---- library ---- */

/* The library version, "MAJOR.MINOR.PATCH"; a static string. Never fails. */
COHORT_API const char* cohort_version(void);

/* The message of the last failure on this thread ("" when none); valid until the next failing
 * call on this thread. Successful calls leave it unchanged. Never fails. */
COHORT_API const char* cohort_last_error(void);

/* A short name of a status ("ok", "invalid_argument", ...); a static string. Never fails. */
COHORT_API const char* cohort_status_name(cohort_status status);

/* The backends usable now, comma-separated: "cpu" always, then "cuda:0", "cuda:1", ... for each
 * usable GPU (a context also accepts "auto" and "cuda", meaning cuda:0).
 * Text buffers: out_text holds capacity bytes; *out_needed (required) receives the length plus
 * one for the terminating NUL. If capacity is smaller (out_text may then be NULL) the call
 * returns COHORT_ERROR_BUFFER_TOO_SMALL and writes nothing. */
COHORT_API cohort_status cohort_backends_available(char* out_text, size_t capacity, size_t* out_needed);

/* ---- context: where work runs ---- */

typedef struct cohort_context_config {
  size_t struct_size;
  const char* backend; /* "auto" (a GPU when one is usable, else the CPU) | "cpu" | "cuda" | "cuda:N" */
  int threads;         /* CPU threads; 0 = OpenMP's default */
  uint64_t seed;       /* seeds training, clustering and the evaluation split */
  int tf32;            /* CUDA: k-means distances on TF32 tensor cores (labels stay FP32's) */
  int64_t workers;     /* workers sharding every call (training, grouping, fold-in, recommending,
                          evaluation), one per GPU ("auto"/"cuda") or sharing the CPU threads;
                          0 or 1 = one. Under mpiexec each process is one worker of the MPI run
                          instead (README, "Several GPUs and machines"). 64-bit so that the
                          struct outgrows the version without it (struct_size). */
} cohort_context_config;

#define COHORT_CONTEXT_CONFIG_INIT {sizeof(cohort_context_config), "auto", 0, 42u, 0, 1}

/* config: NULL means COHORT_CONTEXT_CONFIG_INIT. *out_context: free with cohort_context_free.
 * COHORT_ERROR_BACKEND when "cuda" is asked for and no GPU is usable. */
COHORT_API cohort_status cohort_context_create(const cohort_context_config* config, cohort_context** out_context);
COHORT_API void cohort_context_free(cohort_context* context);

/* The backend the context runs on ("cpu", "cuda:0"); *out_name is owned by the context and
 * valid until it is freed. */
COHORT_API cohort_status cohort_context_backend(const cohort_context* context, const char** out_name);

/* ---- dataset: interactions, users x items ---- */

/* From COO triplets. users, items: nnz indices each, in [0, n_users) and [0, n_items).
 * values: nnz finite floats (counts, ratings), or NULL for all 1. Repeated (user, item) pairs
 * are summed. The arrays are copied; the caller keeps ownership. */
COHORT_API cohort_status cohort_dataset_from_coo(int64_t n_users, int64_t n_items, int64_t nnz,
                                                 const int32_t* users, const int32_t* items, const float* values,
                                                 cohort_dataset** out_dataset);

typedef struct cohort_read_options {
  size_t struct_size;
  const char* format;     /* "auto" | "movielens" | "csv" | "cache" */
  char delimiter;         /* csv */
  int header;             /* csv: nonzero when the first line is a header */
  int user_column;        /* csv: 0-based columns; -1 = absent (value then 1, no timestamps) */
  int item_column;
  int value_column;
  int timestamp_column;
  int skip_bad_lines;     /* nonzero: count malformed lines instead of failing */
  const char* duplicates; /* repeated (user, item): "sum" | "max" | "last" */
} cohort_read_options;

#define COHORT_READ_OPTIONS_INIT {sizeof(cohort_read_options), "auto", ',', 0, 0, 1, 2, 3, 0, "sum"}

/* Reads an interaction log (MovieLens u.data / ratings.dat / ratings.csv, delimited text, or a
 * cohort cache). options: NULL means COHORT_READ_OPTIONS_INIT. COHORT_ERROR_IO naming the path
 * when it cannot be read; COHORT_ERROR_BAD_INPUT naming file and line for malformed content. */
COHORT_API cohort_status cohort_dataset_from_file(const char* path, const cohort_read_options* options,
                                                  cohort_dataset** out_dataset);

/* Any output may be NULL (not wanted), but not all three. */
COHORT_API cohort_status cohort_dataset_shape(const cohort_dataset* dataset, int64_t* out_users, int64_t* out_items,
                                              int64_t* out_nnz);

/* The id in the input of a user / item index (the decimal index for a COO dataset); *out_id is
 * owned by the dataset and valid until it is freed. */
COHORT_API cohort_status cohort_dataset_user_id(const cohort_dataset* dataset, int64_t user, const char** out_id);
COHORT_API cohort_status cohort_dataset_item_id(const cohort_dataset* dataset, int64_t item, const char** out_id);

/* The items' text embedded by a language model (title, description, what was written), for the
 * "text" recommender and the evaluation: vectors is n_items x dims floats, row-major, row i
 * for item i of the dataset (n_items must be the dataset's); an all-zero row means no text.
 * Rows are scaled to unit length; a value that is not finite is an error naming its row. */
COHORT_API cohort_status cohort_dataset_set_item_text(cohort_dataset* dataset, int64_t n_items, int32_t dims,
                                                      const float* vectors);
/* The same from a file of "item_id,v1,...,vd" lines (comma or tab; header optional); items the
 * file lacks get no text, its items the dataset lacks are ignored. */
COHORT_API cohort_status cohort_dataset_item_text_from_file(cohort_dataset* dataset, const char* path);

COHORT_API void cohort_dataset_free(cohort_dataset* dataset);

/* ---- model: user and item embeddings ---- */

typedef struct cohort_model_config {
  size_t struct_size;
  const char* model;    /* "als" (implicit iALS) | "bpr" | "mf" (explicit ratings) */
  int factors;
  int iterations;       /* ALS/MF sweeps or BPR epochs */
  float regularization; /* L2 penalty; "mf": scaled by each row's count of ratings (try 0.1) */
  float alpha;          /* iALS confidence 1 + alpha * value */
  const char* solver;   /* ALS: "cg" | "cholesky" */
  int cg_steps;
  float learning_rate;  /* BPR */
} cohort_model_config;

#define COHORT_MODEL_CONFIG_INIT {sizeof(cohort_model_config), "als", 64, 15, 0.05f, 2.0f, "cg", 3, 0.05f}

/* Trains on every interaction of dataset. config: NULL means COHORT_MODEL_CONFIG_INIT.
 * The model remembers the dataset's ids and item popularity, not the dataset itself. */
COHORT_API cohort_status cohort_model_train(cohort_context* context, const cohort_dataset* dataset,
                                            const cohort_model_config* config, cohort_model** out_model);

/* Any output may be NULL, but not all three. */
COHORT_API cohort_status cohort_model_shape(const cohort_model* model, int64_t* out_users, int64_t* out_items,
                                            int32_t* out_factors);

/* Copies the factors out. out_user_factors: n_users x factors floats, row-major, caller-allocated,
 * user_capacity floats; out_item_factors: n_items x factors likewise. Either (not both) may be
 * NULL when not wanted. */
COHORT_API cohort_status cohort_model_factors(const cohort_model* model, float* out_user_factors, size_t user_capacity,
                                              float* out_item_factors, size_t item_capacity);

/* Factors of new users from their items, item factors fixed (one least-squares solve per user).
 * The users are given as CSR rows: indptr: n_new + 1 nondecreasing offsets starting at 0;
 * items: indptr[n_new] item indices; values: as many values, or NULL for all 1.
 * A user with no items gets zero factors.
 * out_factors: n_new x factors floats, row-major, caller-allocated, capacity floats. */
COHORT_API cohort_status cohort_model_fold_in(cohort_context* context, const cohort_model* model, int64_t n_new,
                                              const int64_t* indptr, const int32_t* items, const float* values,
                                              float* out_factors, size_t capacity);

/* Writes a model file (written to a temporary name, then renamed), with groups when groups is
 * not NULL (they must come from this model). COHORT_ERROR_IO naming the path on failure. */
COHORT_API cohort_status cohort_model_save(const cohort_model* model, const cohort_groups* groups, const char* path);

/* Reads a model file (from cohort_model_save or the cohort CLI). out_groups: NULL when not
 * wanted; else receives the saved groups, or NULL when the file holds none.
 * COHORT_ERROR_IO naming the path when it cannot be read, COHORT_ERROR_BAD_INPUT when it is not
 * a cohort model or is corrupted. */
COHORT_API cohort_status cohort_model_load(const char* path, cohort_model** out_model, cohort_groups** out_groups);

COHORT_API void cohort_model_free(cohort_model* model);

/* ---- groups: users clustered on their normalised embeddings (cosine k-means) ---- */

typedef struct cohort_groups_config {
  size_t struct_size;
  int k_min;             /* sweep k_min..k_max and keep the k with the best silhouette */
  int k_max;
  int k;                 /* >= 2: this k only, no sweep; 0: sweep */
  int restarts;          /* k-means++ restarts per k; the lowest inertia wins */
  int max_iterations;
  int silhouette_sample; /* users sampled to score silhouette */
} cohort_groups_config;

#define COHORT_GROUPS_CONFIG_INIT {sizeof(cohort_groups_config), 2, 32, 0, 3, 50, 10000}

/* Clusters the users of dataset that have interactions, on model's user factors (the model must
 * have been trained on this dataset: same users and items). config: NULL means
 * COHORT_GROUPS_CONFIG_INIT. At least 3 users must have interactions; a fixed k must be below
 * their number, and k_max is capped at it minus one. */
COHORT_API cohort_status cohort_groups_discover(cohort_context* context, const cohort_dataset* dataset,
                                                const cohort_model* model, const cohort_groups_config* config,
                                                cohort_groups** out_groups);

/* The number of groups and of users covered by the assignment. Either output may be NULL, not both. */
COHORT_API cohort_status cohort_groups_k(const cohort_groups* groups, int* out_k, int64_t* out_users);

/* Per user: out_group: n_users int32 (-1 for users that were not clustered), out_confidence:
 * n_users floats in [0, 1] (1 - nearest / second-nearest distance); each holds capacity elements.
 * Either (not both) may be NULL. */
COHORT_API cohort_status cohort_groups_assignment(const cohort_groups* groups, int32_t* out_group,
                                                  float* out_confidence, size_t capacity);

/* Routes new users to groups: folds them in on model (the model the groups were discovered
 * on), normalises, and takes the nearest centroid. Users as CSR rows as in cohort_model_fold_in.
 * A user with no items gets group -1 and confidence 0.
 * out_group, out_confidence: n_new elements each, capacity elements; either (not both) may be NULL. */
COHORT_API cohort_status cohort_groups_assign(cohort_context* context, const cohort_groups* groups,
                                              const cohort_model* model, int64_t n_new, const int64_t* indptr,
                                              const int32_t* items, const float* values, int32_t* out_group,
                                              float* out_confidence, size_t capacity);

COHORT_API void cohort_groups_free(cohort_groups* groups);

/* ---- recommend ---- */

typedef struct cohort_recommend_config {
  size_t struct_size;
  const char* kind;    /* "popularity" | "als" (the model's U.Vt; "embedding", "bpr", "mf" alike)
                          | "group" | "blend" | "item_knn" | "text" (needs the dataset's item text) */
  int k;               /* items per user */
  int knn_neighbours;  /* item_knn: neighbours kept per item */
  double blend_pivot;  /* blend: group weight pivot / (pivot + interactions of the user) */
  double text_sharpness; /* text: sharpness * cos(user's text profile, item) + log(popularity) */
} cohort_recommend_config;

#define COHORT_RECOMMEND_CONFIG_INIT {sizeof(cohort_recommend_config), "als", 10, 100, 10.0, 4.0}

/* Top-k items for existing users of dataset, best first; items the user has in dataset are never
 * returned. users: n_queries user indices. model: required for "als" and "blend", else may be
 * NULL; groups: required for "group" and "blend", else may be NULL (both must match dataset).
 * out_items: n_queries x k int32, row-major, -1 padding short lists; out_scores: n_queries x k
 * floats (may be NULL); each holds capacity elements. config: NULL means
 * COHORT_RECOMMEND_CONFIG_INIT. */
COHORT_API cohort_status cohort_recommend(cohort_context* context, const cohort_dataset* dataset,
                                          const cohort_model* model, const cohort_groups* groups,
                                          const cohort_recommend_config* config, int64_t n_queries,
                                          const int32_t* users, int32_t* out_items, float* out_scores,
                                          size_t capacity);

/* ---- evaluate ---- */

/* Runs the evaluation protocol (seeded split with warm and cold-start users, training, group
 * discovery, every recommender scored at k = 10 and 20; "text" too when the dataset has item
 * text) on dataset and writes the metrics.json
 * document as text. model_config, groups_config: NULL means their _INIT defaults.
 * out_json: capacity bytes; *out_needed (required) receives the text length plus one. When the
 * buffer is too small the call returns COHORT_ERROR_BUFFER_TOO_SMALL and writes nothing; the
 * context keeps the document, and the next cohort_evaluate on this context with the same dataset
 * and configs returns it without running again (so a retry with *out_needed bytes succeeds). */
COHORT_API cohort_status cohort_evaluate(cohort_context* context, const cohort_dataset* dataset,
                                         const cohort_model_config* model_config,
                                         const cohort_groups_config* groups_config, char* out_json,
                                         size_t capacity, size_t* out_needed);

#ifdef __cplusplus
}
#endif

#endif /* COHORT_COHORT_H */
