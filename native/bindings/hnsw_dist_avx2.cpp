// The AVX2+FMA distance kernels of the HNSW index: the only translation unit compiled with
// -mavx2 -mfma (/arch:AVX2 on MSVC), see CMakeLists.txt. Called only when choose_simd_level()
// says the CPU runs AVX2 and FMA (bind_hnsw.cpp).
#include <neural_trader/hnsw/distance_avx2.hpp>

namespace nt_bind {

const neural_trader::hnsw::kernel_table& hnsw_avx2_kernels() noexcept {
  static const neural_trader::hnsw::kernel_table t{"avx2", &neural_trader::hnsw::l2sq_avx2,
                                                   &neural_trader::hnsw::dot_avx2};
  return t;
}

}  // namespace nt_bind
