// Buffer<T>: a move-only array in a Backend's memory.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/backend.hpp"
#include "kernels/error.hpp"

namespace cohort {

template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend& backend, int64_t size) : backend_(&backend), size_(size) {
    COHORT_CHECK(size >= 0, "Buffer: negative size {}", size);
    if (size_ > 0) data_ = static_cast<T*>(backend.allocate(bytes()));
  }
  // Allocates and uploads host data.
  Buffer(Backend& backend, const std::vector<T>& host) : Buffer(backend, static_cast<int64_t>(host.size())) {
    upload(host);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept { swap(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      swap(o);
    }
    return *this;
  }
  ~Buffer() { reset(); }

  T* data() const { return data_; }
  int64_t size() const { return size_; }
  std::size_t bytes() const { return static_cast<std::size_t>(size_) * sizeof(T); }
  bool empty() const { return size_ == 0; }

  void upload(const std::vector<T>& host) {
    COHORT_CHECK(static_cast<int64_t>(host.size()) == size_, "Buffer::upload: {} elements into {}",
                 host.size(), size_);
    if (size_ > 0) backend_->copy_to_backend(data_, host.data(), bytes());
  }
  // Blocks until the data is on the host.
  std::vector<T> to_host() const {
    std::vector<T> host(static_cast<std::size_t>(size_));
    if (size_ > 0) backend_->copy_to_host(host.data(), data_, bytes());
    return host;
  }
  void zero() {
    if (size_ > 0) backend_->fill_zero(data_, bytes());
  }
  MatrixView<T> matrix(int64_t rows, int64_t cols) const {
    COHORT_CHECK(rows * cols <= size_, "Buffer::matrix: {} x {} over {} elements", rows, cols, size_);
    return {data_, rows, cols, cols};
  }

 private:
  void reset() {
    if (data_ != nullptr) backend_->release(data_);
    data_ = nullptr;
    size_ = 0;
  }
  void swap(Buffer& o) noexcept {
    std::swap(backend_, o.backend_);
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
  }

  Backend* backend_ = nullptr;
  T* data_ = nullptr;
  int64_t size_ = 0;
};

}  // namespace cohort
