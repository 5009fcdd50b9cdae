/// @file simd.hpp
/// @brief When the sketches' batch loops take their AVX2 kernels.
///
/// The kernels are compiled inside the headers with a target attribute (GCC and Clang on
/// x86-64; elsewhere NT_SKETCH_AVX2 stays undefined and only the scalar loops exist) and run only
/// when the CPU has AVX2 and NT_SIMD does not ask for less (choose_simd_level, read once).
/// Every kernel produces exactly what the scalar loop produces; the tests compare them.
#pragma once

#include "../common/cpu.hpp"

#if defined(NT_AVX2_FMA_CLONES)
#include <immintrin.h>
#define NT_SKETCH_AVX2 1
#endif

namespace neural_trader::sketch {

/// Whether batch calls use the AVX2 kernels.
inline bool sketch_use_avx2() noexcept { return use_avx2_fma_kernels(); }

}  // namespace neural_trader::sketch
