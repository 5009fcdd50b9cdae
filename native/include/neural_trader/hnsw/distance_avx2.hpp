/// @file distance_avx2.hpp
/// @brief AVX2+FMA implementations of the HNSW distance kernels.
///
/// Include from exactly ONE translation unit compiled with `-mavx2 -mfma` (GCC/Clang) or
/// `/arch:AVX2` (MSVC), and call it only after checking the CPU (choose_simd_level()). Everything
/// here has internal linkage (the including file builds its `kernel_table` from `l2sq_avx2` and
/// `dot_avx2`) and uses intrinsics only, so no inline function compiled with AVX2
/// enabled can be merged by the linker into code that runs on CPUs without it.
#pragma once

#if !defined(__AVX2__) || (!defined(__FMA__) && !defined(_MSC_VER))  // MSVC: /arch:AVX2 implies FMA
#error "distance_avx2.hpp needs a translation unit compiled with AVX2 and FMA enabled"
#endif

#include <immintrin.h>

#include <cstddef>

#include "distance.hpp"

namespace neural_trader::hnsw {
namespace {

inline float avx2_hsum(__m256 v) noexcept {
  const __m128 lo = _mm256_castps256_ps128(v);
  const __m128 hi = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(lo, hi);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
  return _mm_cvtss_f32(s);
}

float l2sq_avx2(const float* a, const float* b, std::size_t dim) noexcept {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
  }
  if (i + 8 <= dim) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    i += 8;
  }
  float r = avx2_hsum(_mm256_add_ps(s0, s1));
  for (; i < dim; ++i) {
    const float d = a[i] - b[i];
    r += d * d;
  }
  return r;
}

float dot_avx2(const float* a, const float* b, std::size_t dim) noexcept {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  if (i + 8 <= dim) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    i += 8;
  }
  float r = avx2_hsum(_mm256_add_ps(s0, s1));
  for (; i < dim; ++i) r += a[i] * b[i];
  return r;
}

}  // namespace
}  // namespace neural_trader::hnsw
