/// @file distance.hpp
/// @brief Distance kernels of the HNSW index and the table that dispatches them.
///
/// Two primitive kernels cover the three metrics (hnswlib's conventions):
///
///   l2      squared Euclidean distance            sum (a_i - b_i)^2
///   ip      1 - dot(a, b)
///   cosine  1 - dot(a, b) on vectors normalised when they enter the index
///
/// `kernel_table` holds function pointers to one implementation of both primitives. The
/// portable one below (`scalar_kernels()`) is always available, header-only, and is the
/// reference the others are tested against. An AVX2+FMA implementation lives in
/// distance_avx2.hpp, which is meant to be included by exactly one translation unit compiled
/// with `-mavx2 -mfma` (or `/arch:AVX2`); the program chooses between them once, at start-up,
/// with `choose_simd_level()` (common/cpu.hpp). Nothing here is compiled with `-march=native`.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace neural_trader::hnsw {

/// Distance of two float vectors of `dim` elements.
using distance_fn = float (*)(const float* a, const float* b, std::size_t dim) noexcept;

/// One implementation of the primitive kernels.
struct kernel_table {
  const char* name;  ///< "scalar", "avx2", ...
  distance_fn l2sq;  ///< squared L2 distance
  distance_fn dot;   ///< dot product
};

/// The metrics of the index.
enum class metric : std::uint8_t { l2 = 0, ip = 1, cosine = 2 };

inline const char* to_string(metric m) noexcept {
  switch (m) {
    case metric::ip: return "ip";
    case metric::cosine: return "cosine";
    default: return "l2";
  }
}

/// Parses "l2", "ip" or "cosine" (also "euclidean", "sqeuclidean", "inner_product", "dot").
inline metric parse_metric(std::string_view s) {
  if (s == "l2" || s == "euclidean" || s == "sqeuclidean") return metric::l2;
  if (s == "ip" || s == "inner_product" || s == "dot") return metric::ip;
  if (s == "cosine") return metric::cosine;
  throw std::invalid_argument("unknown metric '" + std::string(s) + "': use 'l2', 'ip' or 'cosine'");
}

namespace detail {

// Eight independent partial sums: short dependency chains, and a loop the compiler can
// vectorise without reassociating (the order of additions is fixed by the source).
inline float l2sq_scalar(const float* a, const float* b, std::size_t dim) noexcept {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    for (std::size_t j = 0; j < 8; ++j) {
      const float d = a[i + j] - b[i + j];
      s[j] += d * d;
    }
  }
  float tail = 0;
  for (; i < dim; ++i) {
    const float d = a[i] - b[i];
    tail += d * d;
  }
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + tail;
}

inline float dot_scalar(const float* a, const float* b, std::size_t dim) noexcept {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    for (std::size_t j = 0; j < 8; ++j) s[j] += a[i + j] * b[i + j];
  }
  float tail = 0;
  for (; i < dim; ++i) tail += a[i] * b[i];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + tail;
}

}  // namespace detail

/// The portable kernels (always available; the reference for the dispatched ones).
inline const kernel_table& scalar_kernels() noexcept {
  static const kernel_table t{"scalar", &detail::l2sq_scalar, &detail::dot_scalar};
  return t;
}

/// Distance under `m` from the primitive kernels (cosine expects normalised inputs).
inline float distance(const kernel_table& k, metric m, const float* a, const float* b, std::size_t dim) noexcept {
  return m == metric::l2 ? k.l2sq(a, b, dim) : 1.0f - k.dot(a, b, dim);
}

/// Scales v in place to unit L2 norm (a zero vector stays zero). Used for the cosine metric.
inline void normalize(float* v, std::size_t dim) noexcept {
  double s = 0;
  for (std::size_t i = 0; i < dim; ++i) s += static_cast<double>(v[i]) * v[i];
  if (s > 0) {
    const float inv = static_cast<float>(1.0 / std::sqrt(s));
    for (std::size_t i = 0; i < dim; ++i) v[i] *= inv;
  }
}

}  // namespace neural_trader::hnsw
