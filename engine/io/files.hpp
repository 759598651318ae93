// Files the engine writes: atomically (temporary name, then rename), .npy arrays.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "engine/data/csr.hpp"

namespace cohort {

// Calls write(stream) on "<path>.tmp.<pid>" and renames it to path; on any failure the
// temporary is removed and Error(io_error) names the path (an Error thrown by write itself
// passes through unchanged).
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);
// NumPy .npy v1.0, little-endian float32, C order, shape (rows, cols).
void write_npy(const std::string& path, const Matrix& m);
// 1-D arrays, shape (n,): float32 '<f4', int32 '<i4', int64 '<i8' (CSR parts for other tools).
void write_npy(const std::string& path, const std::vector<float>& v);
void write_npy(const std::string& path, const std::vector<int32_t>& v);
void write_npy(const std::string& path, const std::vector<int64_t>& v);
Matrix read_npy(const std::string& path);
// Creates a directory and its parents; Error(io_error) if that fails.
void make_directories(const std::string& dir);

}  // namespace cohort
