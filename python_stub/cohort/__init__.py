"""cohort: user-group discovery for recommender systems, a thin ctypes + numpy layer over libcohort.

The library is found through the COHORT_LIBRARY environment variable (a path to libcohort.so),
else next to this package, else on the system's library path.

    ctx = cohort.Context(backend="cpu", seed=7)
    data = cohort.Dataset.from_coo(users, items, values)
    model = cohort.Model.train(ctx, data, factors=32)
    groups = cohort.Groups.discover(ctx, data, model, k=8)
    items, scores = cohort.recommend(ctx, data, [0, 1], k=10, kind="blend", model=model, groups=groups)

Every failure raises CohortError carrying the status and the library's message.
"""

import ctypes
import ctypes.util
import glob
import json
import os

import numpy as np

__all__ = [
    "CohortError", "Context", "Dataset", "Model", "Groups", "recommend", "evaluate",
    "version", "backends_available",
]

OK = 0
INVALID_ARGUMENT = 1
BAD_INPUT = 2
IO_ERROR = 3
OUT_OF_MEMORY = 4
BACKEND_ERROR = 5
INTERNAL = 6
BUFFER_TOO_SMALL = 7


class CohortError(RuntimeError):
    """A failed libcohort call: status (an int, see the module's constants), status_name, message."""

    def __init__(self, status, status_name, message):
        super().__init__(f"{status_name}: {message}")
        self.status = status
        self.status_name = status_name
        self.message = message


def _find_library():
    path = os.environ.get("COHORT_LIBRARY")
    if path:
        return path
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in sorted(glob.glob(os.path.join(here, "libcohort.so*"))) + \
            sorted(glob.glob(os.path.join(here, "libcohort*.dylib"))):
        return candidate
    found = ctypes.util.find_library("cohort")
    if found:
        return found
    raise OSError("libcohort not found: set COHORT_LIBRARY to the path of libcohort.so")


_lib = ctypes.CDLL(_find_library())

_c_size_p = ctypes.POINTER(ctypes.c_size_t)
_c_float_p = ctypes.POINTER(ctypes.c_float)
_c_int32_p = ctypes.POINTER(ctypes.c_int32)
_c_int64_p = ctypes.POINTER(ctypes.c_int64)


class _ContextConfig(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("backend", ctypes.c_char_p), ("threads", ctypes.c_int),
                ("seed", ctypes.c_uint64), ("tf32", ctypes.c_int), ("workers", ctypes.c_int64)]


class _ReadOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("format", ctypes.c_char_p), ("delimiter", ctypes.c_char),
                ("header", ctypes.c_int), ("user_column", ctypes.c_int), ("item_column", ctypes.c_int),
                ("value_column", ctypes.c_int), ("timestamp_column", ctypes.c_int),
                ("skip_bad_lines", ctypes.c_int), ("duplicates", ctypes.c_char_p)]


class _ModelConfig(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("model", ctypes.c_char_p), ("factors", ctypes.c_int),
                ("iterations", ctypes.c_int), ("regularization", ctypes.c_float), ("alpha", ctypes.c_float),
                ("solver", ctypes.c_char_p), ("cg_steps", ctypes.c_int), ("learning_rate", ctypes.c_float)]


class _GroupsConfig(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("k_min", ctypes.c_int), ("k_max", ctypes.c_int),
                ("k", ctypes.c_int), ("restarts", ctypes.c_int), ("max_iterations", ctypes.c_int),
                ("silhouette_sample", ctypes.c_int)]


class _RecommendConfig(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("kind", ctypes.c_char_p), ("k", ctypes.c_int),
                ("knn_neighbours", ctypes.c_int), ("blend_pivot", ctypes.c_double),
                ("text_sharpness", ctypes.c_double)]


def _declare(name, restype, *argtypes):
    function = getattr(_lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


_vp = ctypes.c_void_p
_pp = ctypes.POINTER(ctypes.c_void_p)
_status = ctypes.c_int

_version = _declare("cohort_version", ctypes.c_char_p)
_last_error = _declare("cohort_last_error", ctypes.c_char_p)
_status_name = _declare("cohort_status_name", ctypes.c_char_p, ctypes.c_int)
_backends_available = _declare("cohort_backends_available", _status, ctypes.c_char_p, ctypes.c_size_t, _c_size_p)
_context_create = _declare("cohort_context_create", _status, ctypes.POINTER(_ContextConfig), _pp)
_context_free = _declare("cohort_context_free", None, _vp)
_context_backend = _declare("cohort_context_backend", _status, _vp, ctypes.POINTER(ctypes.c_char_p))
_dataset_from_coo = _declare("cohort_dataset_from_coo", _status, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                             _c_int32_p, _c_int32_p, _c_float_p, _pp)
_dataset_from_file = _declare("cohort_dataset_from_file", _status, ctypes.c_char_p, ctypes.POINTER(_ReadOptions),
                              _pp)
_dataset_shape = _declare("cohort_dataset_shape", _status, _vp, _c_int64_p, _c_int64_p, _c_int64_p)
_dataset_user_id = _declare("cohort_dataset_user_id", _status, _vp, ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p))
_dataset_item_id = _declare("cohort_dataset_item_id", _status, _vp, ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p))
_dataset_set_item_text = _declare("cohort_dataset_set_item_text", _status, _vp, ctypes.c_int64, ctypes.c_int32,
                                  _c_float_p)
_dataset_item_text_from_file = _declare("cohort_dataset_item_text_from_file", _status, _vp, ctypes.c_char_p)
_dataset_free = _declare("cohort_dataset_free", None, _vp)
_model_train = _declare("cohort_model_train", _status, _vp, _vp, ctypes.POINTER(_ModelConfig), _pp)
_model_shape = _declare("cohort_model_shape", _status, _vp, _c_int64_p, _c_int64_p, _c_int32_p)
_model_factors = _declare("cohort_model_factors", _status, _vp, _c_float_p, ctypes.c_size_t, _c_float_p,
                          ctypes.c_size_t)
_model_fold_in = _declare("cohort_model_fold_in", _status, _vp, _vp, ctypes.c_int64, _c_int64_p, _c_int32_p,
                          _c_float_p, _c_float_p, ctypes.c_size_t)
_model_save = _declare("cohort_model_save", _status, _vp, _vp, ctypes.c_char_p)
_model_load = _declare("cohort_model_load", _status, ctypes.c_char_p, _pp, _pp)
_model_free = _declare("cohort_model_free", None, _vp)
_groups_discover = _declare("cohort_groups_discover", _status, _vp, _vp, _vp, ctypes.POINTER(_GroupsConfig), _pp)
_groups_k = _declare("cohort_groups_k", _status, _vp, ctypes.POINTER(ctypes.c_int), _c_int64_p)
_groups_assignment = _declare("cohort_groups_assignment", _status, _vp, _c_int32_p, _c_float_p, ctypes.c_size_t)
_groups_assign = _declare("cohort_groups_assign", _status, _vp, _vp, _vp, ctypes.c_int64, _c_int64_p, _c_int32_p,
                          _c_float_p, _c_int32_p, _c_float_p, ctypes.c_size_t)
_groups_free = _declare("cohort_groups_free", None, _vp)
_recommend = _declare("cohort_recommend", _status, _vp, _vp, _vp, _vp, ctypes.POINTER(_RecommendConfig),
                      ctypes.c_int64, _c_int32_p, _c_int32_p, _c_float_p, ctypes.c_size_t)
_evaluate = _declare("cohort_evaluate", _status, _vp, _vp, ctypes.POINTER(_ModelConfig),
                     ctypes.POINTER(_GroupsConfig), ctypes.c_char_p, ctypes.c_size_t, _c_size_p)


def _check(status):
    if status != OK:
        raise CohortError(status, _status_name(status).decode(), _last_error().decode(errors="replace"))


def _ptr(array, ctype):
    return array.ctypes.data_as(ctypes.POINTER(ctype)) if array is not None else None


def _text(call):
    """A text output: the call is made with a buffer, again with a larger one if it was too small."""
    needed = ctypes.c_size_t(0)
    buffer = ctypes.create_string_buffer(1 << 16)
    status = call(buffer, len(buffer), ctypes.byref(needed))
    if status == BUFFER_TOO_SMALL:
        buffer = ctypes.create_string_buffer(needed.value)
        status = call(buffer, len(buffer), ctypes.byref(needed))
    _check(status)
    return buffer.value.decode()


def _csr(item_lists, value_lists):
    """Lists of item indices (one list per user), optional matching values -> CSR arrays."""
    lengths = [len(items) for items in item_lists]
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    flat = [int(i) for items in item_lists for i in items]
    items = np.ascontiguousarray(flat, dtype=np.int32)
    values = None
    if value_lists is not None:
        if [len(v) for v in value_lists] != lengths:
            raise ValueError("values must have one list per user, as long as its items")
        values = np.ascontiguousarray([float(v) for vs in value_lists for v in vs], dtype=np.float32)
    return indptr, items, values


class _Handle:
    _free = None

    def __init__(self, handle):
        self._handle = handle

    @property
    def handle(self):
        if not self._handle:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._handle

    def close(self):
        if getattr(self, "_handle", None):
            type(self)._free(self._handle)
            self._handle = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _handle_of(obj):
    return obj.handle if obj is not None else None


def version():
    return _version().decode()


def backends_available():
    """Backend names usable now: "cpu", then "cuda:N" for each usable GPU."""
    return _text(_backends_available).split(",")


class Context(_Handle):
    """Where work runs: backend "auto" | "cpu" | "cuda" | "cuda:N", CPU threads (0 = default), seed.
    tf32: on a GPU, k-means distances on TF32 tensor cores (the labels stay FP32's).
    workers: workers sharding every call (one per GPU, or sharing the CPU threads)."""

    _free = _context_free

    def __init__(self, backend="auto", threads=0, seed=42, tf32=False, workers=1):
        config = _ContextConfig(ctypes.sizeof(_ContextConfig), backend.encode(), threads, seed, int(bool(tf32)),
                                workers)
        handle = ctypes.c_void_p()
        _check(_context_create(ctypes.byref(config), ctypes.byref(handle)))
        super().__init__(handle.value)

    @property
    def backend(self):
        name = ctypes.c_char_p()
        _check(_context_backend(self.handle, ctypes.byref(name)))
        return name.value.decode()


class Dataset(_Handle):
    """Interactions, users x items, with dense indices."""

    _free = _dataset_free

    @classmethod
    def from_coo(cls, users, items, values=None, n_users=None, n_items=None):
        """users, items: equal-length index arrays; values: floats or None for 1. Shape defaults to max index + 1."""
        users = np.ascontiguousarray(users, dtype=np.int32)
        items = np.ascontiguousarray(items, dtype=np.int32)
        if users.shape != items.shape or users.ndim != 1:
            raise ValueError("users and items must be 1-d arrays of the same length")
        if values is not None:
            values = np.ascontiguousarray(values, dtype=np.float32)
            if values.shape != users.shape:
                raise ValueError("values must be as long as users and items")
        if n_users is None:
            n_users = int(users.max()) + 1 if users.size else 0
        if n_items is None:
            n_items = int(items.max()) + 1 if items.size else 0
        handle = ctypes.c_void_p()
        _check(_dataset_from_coo(n_users, n_items, users.size, _ptr(users, ctypes.c_int32),
                                 _ptr(items, ctypes.c_int32), _ptr(values, ctypes.c_float), ctypes.byref(handle)))
        return cls(handle.value)

    @classmethod
    def from_file(cls, path, format="auto", delimiter=",", header=False, columns=(0, 1, 2, 3),
                  skip_bad_lines=False, duplicates="sum"):
        """columns: user, item, value, timestamp (0-based; -1 = absent)."""
        user, item, value, timestamp = columns
        options = _ReadOptions(ctypes.sizeof(_ReadOptions), format.encode(), delimiter.encode(), int(header),
                               user, item, value, timestamp, int(skip_bad_lines), duplicates.encode())
        handle = ctypes.c_void_p()
        _check(_dataset_from_file(os.fsencode(path), ctypes.byref(options), ctypes.byref(handle)))
        return cls(handle.value)

    @property
    def shape(self):
        """(users, items, interactions)."""
        users, items, nnz = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
        _check(_dataset_shape(self.handle, ctypes.byref(users), ctypes.byref(items), ctypes.byref(nnz)))
        return users.value, items.value, nnz.value

    def set_item_text(self, vectors):
        """The items' text embedded by a language model: (n_items, d) floats, row i for item i; all-zero rows
        mean no text. Enables the "text" recommender and its evaluation."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError("vectors must be a 2-d array (n_items, d)")
        _check(_dataset_set_item_text(self.handle, vectors.shape[0], vectors.shape[1], _ptr(vectors, ctypes.c_float)))

    def item_text_from_file(self, path):
        """The same from a file of item_id,v1,...,vd lines."""
        _check(_dataset_item_text_from_file(self.handle, os.fsencode(path)))

    def user_id(self, user):
        out = ctypes.c_char_p()
        _check(_dataset_user_id(self.handle, user, ctypes.byref(out)))
        return out.value.decode()

    def item_id(self, item):
        out = ctypes.c_char_p()
        _check(_dataset_item_id(self.handle, item, ctypes.byref(out)))
        return out.value.decode()


def _model_config(model="als", factors=64, iterations=15, regularization=0.05, alpha=2.0, solver="cg",
                  cg_steps=3, learning_rate=0.05):
    return _ModelConfig(ctypes.sizeof(_ModelConfig), model.encode(), factors, iterations, regularization, alpha,
                        solver.encode(), cg_steps, learning_rate)


def _groups_config(k=None, k_min=2, k_max=32, restarts=3, max_iterations=50, silhouette_sample=10000):
    return _GroupsConfig(ctypes.sizeof(_GroupsConfig), k_min, k_max, 0 if k is None else k, restarts,
                         max_iterations, silhouette_sample)


class Model(_Handle):
    """Trained user and item embeddings."""

    _free = _model_free

    def __init__(self, handle):
        super().__init__(handle)
        self.groups = None  # the groups saved with the model, set by load

    @classmethod
    def train(cls, context, dataset, model="als", factors=64, iterations=15, regularization=0.05, alpha=2.0,
              solver="cg", cg_steps=3, learning_rate=0.05):
        """model: "als" | "bpr" | "mf"; solver: "cg" | "cholesky". regularization: the L2 penalty; for "mf" it is
        scaled by each user's and item's count of ratings (try 0.1)."""
        config = _model_config(model, factors, iterations, regularization, alpha, solver, cg_steps, learning_rate)
        handle = ctypes.c_void_p()
        _check(_model_train(context.handle, dataset.handle, ctypes.byref(config), ctypes.byref(handle)))
        return cls(handle.value)

    @classmethod
    def load(cls, path):
        """A model file; the groups saved with it, if any, are in .groups."""
        handle, groups = ctypes.c_void_p(), ctypes.c_void_p()
        _check(_model_load(os.fsencode(path), ctypes.byref(handle), ctypes.byref(groups)))
        model = cls(handle.value)
        if groups.value:
            model.groups = Groups(groups.value)
        return model

    def save(self, path, groups=None):
        _check(_model_save(self.handle, _handle_of(groups), os.fsencode(path)))

    @property
    def shape(self):
        """(users, items, factors)."""
        users, items, factors = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int32()
        _check(_model_shape(self.handle, ctypes.byref(users), ctypes.byref(items), ctypes.byref(factors)))
        return users.value, items.value, factors.value

    @property
    def user_factors(self):
        users, _, factors = self.shape
        out = np.empty((users, factors), dtype=np.float32)
        _check(_model_factors(self.handle, _ptr(out, ctypes.c_float), out.size, None, 0))
        return out

    @property
    def item_factors(self):
        _, items, factors = self.shape
        out = np.empty((items, factors), dtype=np.float32)
        _check(_model_factors(self.handle, None, 0, _ptr(out, ctypes.c_float), out.size))
        return out

    def fold_in(self, context, item_lists, value_lists=None):
        """Factors of new users, one list of item indices each (values optional): (users, factors)."""
        indptr, items, values = _csr(item_lists, value_lists)
        out = np.empty((len(item_lists), self.shape[2]), dtype=np.float32)
        _check(_model_fold_in(context.handle, self.handle, len(item_lists), _ptr(indptr, ctypes.c_int64),
                              _ptr(items, ctypes.c_int32), _ptr(values, ctypes.c_float),
                              _ptr(out, ctypes.c_float), out.size))
        return out


class Groups(_Handle):
    """Users clustered on their normalised embeddings."""

    _free = _groups_free

    @classmethod
    def discover(cls, context, dataset, model, k=None, k_min=2, k_max=32, restarts=3, max_iterations=50,
                 silhouette_sample=10000):
        """k: a fixed number of groups, or None to choose it by silhouette over k_min..k_max."""
        config = _groups_config(k, k_min, k_max, restarts, max_iterations, silhouette_sample)
        handle = ctypes.c_void_p()
        _check(_groups_discover(context.handle, dataset.handle, model.handle, ctypes.byref(config),
                                ctypes.byref(handle)))
        return cls(handle.value)

    def _shape(self):
        k, users = ctypes.c_int(), ctypes.c_int64()
        _check(_groups_k(self.handle, ctypes.byref(k), ctypes.byref(users)))
        return k.value, users.value

    @property
    def k(self):
        return self._shape()[0]

    @property
    def assignment(self):
        """(group per user, -1 where not clustered; confidence per user in [0, 1])."""
        users = self._shape()[1]
        group = np.empty(users, dtype=np.int32)
        confidence = np.empty(users, dtype=np.float32)
        _check(_groups_assignment(self.handle, _ptr(group, ctypes.c_int32), _ptr(confidence, ctypes.c_float),
                                  users))
        return group, confidence

    def assign(self, context, model, item_lists, value_lists=None):
        """Routes new users (lists of item indices) to groups: (group, confidence) arrays."""
        indptr, items, values = _csr(item_lists, value_lists)
        n = len(item_lists)
        group = np.empty(n, dtype=np.int32)
        confidence = np.empty(n, dtype=np.float32)
        _check(_groups_assign(context.handle, self.handle, model.handle, n, _ptr(indptr, ctypes.c_int64),
                              _ptr(items, ctypes.c_int32), _ptr(values, ctypes.c_float),
                              _ptr(group, ctypes.c_int32), _ptr(confidence, ctypes.c_float), n))
        return group, confidence


def recommend(context, dataset, users, k=10, kind="als", model=None, groups=None, knn_neighbours=100,
              blend_pivot=10.0, text_sharpness=4.0):
    """Top-k items of existing users, seen items excluded: (items (n, k) int32 with -1 padding, scores (n, k)).
    kind: "popularity" | "als" | "group" | "blend" | "item_knn" | "text" (after dataset.set_item_text)."""
    users = np.ascontiguousarray(users, dtype=np.int32).reshape(-1)
    config = _RecommendConfig(ctypes.sizeof(_RecommendConfig), kind.encode(), k, knn_neighbours, blend_pivot,
                              text_sharpness)
    items = np.empty((users.size, k), dtype=np.int32)
    scores = np.empty((users.size, k), dtype=np.float32)
    _check(_recommend(context.handle, dataset.handle, _handle_of(model), _handle_of(groups), ctypes.byref(config),
                      users.size, _ptr(users, ctypes.c_int32), _ptr(items, ctypes.c_int32),
                      _ptr(scores, ctypes.c_float), items.size))
    return items, scores


def evaluate(context, dataset, model="als", factors=64, iterations=15, regularization=0.05, alpha=2.0, solver="cg",
             cg_steps=3, learning_rate=0.05, k=None, k_min=2, k_max=32, restarts=3, max_iterations=50,
             silhouette_sample=10000):
    """The evaluation protocol on dataset: the metrics.json document as a dict."""
    model_config = _model_config(model, factors, iterations, regularization, alpha, solver, cg_steps, learning_rate)
    groups_config = _groups_config(k, k_min, k_max, restarts, max_iterations, silhouette_sample)
    text = _text(lambda buffer, size, needed: _evaluate(context.handle, dataset.handle, ctypes.byref(model_config),
                                                        ctypes.byref(groups_config), buffer, size, needed))
    return json.loads(text)
