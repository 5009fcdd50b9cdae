/// @file cpu.hpp
/// @brief What the CPU running this process supports, and the SIMD level chosen for dispatched
/// kernels (overridable with the environment variable NT_SIMD=scalar|avx2|avx512|neon).
#pragma once

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define NT_CPU_X86_GNU 1
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
#define NT_CPU_X86_MSVC 1
#endif

namespace neural_trader {

/// SIMD levels, lowest first.
enum class simd_level : int { scalar = 0, neon = 1, avx2 = 2, avx512 = 3 };

inline const char* to_string(simd_level l) noexcept {
  switch (l) {
    case simd_level::neon: return "neon";
    case simd_level::avx2: return "avx2";
    case simd_level::avx512: return "avx512";
    default: return "scalar";
  }
}

/// Features the CPU reports (and the OS enables, for the AVX register state).
struct cpu_features {
  bool sse42 = false, avx = false, avx2 = false, fma = false, avx512f = false, avx512bw = false,
       avx512vl = false, neon = false;

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    if (sse42) out.emplace_back("sse4.2");
    if (avx) out.emplace_back("avx");
    if (avx2) out.emplace_back("avx2");
    if (fma) out.emplace_back("fma");
    if (avx512f) out.emplace_back("avx512f");
    if (avx512bw) out.emplace_back("avx512bw");
    if (avx512vl) out.emplace_back("avx512vl");
    if (neon) out.emplace_back("neon");
    return out;
  }
};

namespace detail {
#if defined(NT_CPU_X86_GNU) || defined(NT_CPU_X86_MSVC)
inline void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) noexcept {
#if defined(NT_CPU_X86_GNU)
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#else
  int regs[4];
  __cpuidex(regs, static_cast<int>(leaf), static_cast<int>(sub));
  for (int i = 0; i < 4; ++i) r[i] = static_cast<unsigned>(regs[i]);
#endif
}
inline unsigned long long xgetbv0() noexcept {
#if defined(NT_CPU_X86_GNU)
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
#else
  return _xgetbv(0);
#endif
}
#endif

inline cpu_features detect_cpu() noexcept {
  cpu_features f;
#if defined(NT_CPU_X86_GNU) || defined(NT_CPU_X86_MSVC)
  unsigned r[4];
  cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  if (max_leaf < 1) return f;
  cpuid(1, 0, r);
  f.sse42 = (r[2] >> 20) & 1u;
  const bool osxsave = (r[2] >> 27) & 1u;
  const bool avx_hw = (r[2] >> 28) & 1u;
  const bool fma_hw = (r[2] >> 12) & 1u;
  unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
  const bool ymm_state = (xcr0 & 0x6u) == 0x6u;
  const bool zmm_state = (xcr0 & 0xE6u) == 0xE6u;
  f.avx = avx_hw && ymm_state;
  f.fma = fma_hw && ymm_state;
  if (max_leaf >= 7) {
    cpuid(7, 0, r);
    f.avx2 = f.avx && ((r[1] >> 5) & 1u);
    f.avx512f = zmm_state && ((r[1] >> 16) & 1u);
    f.avx512bw = zmm_state && ((r[1] >> 30) & 1u);
    f.avx512vl = zmm_state && ((r[1] >> 31) & 1u);
  }
#elif defined(__aarch64__) || defined(_M_ARM64)
  f.neon = true;  // Advanced SIMD is mandatory on AArch64.
#endif
  return f;
}
}  // namespace detail

/// The features of this CPU, detected once.
inline const cpu_features& cpu() noexcept {
  static const cpu_features f = detail::detect_cpu();
  return f;
}

/// The best SIMD level this CPU runs.
inline simd_level best_simd_level() noexcept {
  const auto& f = cpu();
  if (f.avx512f && f.avx512bw && f.avx512vl && f.fma) return simd_level::avx512;
  if (f.avx2 && f.fma) return simd_level::avx2;
  if (f.neon) return simd_level::neon;
  return simd_level::scalar;
}

/// Parses a level name; false when the name is unknown.
inline bool parse_simd_level(const char* name, simd_level& out) noexcept {
  if (std::strcmp(name, "scalar") == 0) out = simd_level::scalar;
  else if (std::strcmp(name, "neon") == 0) out = simd_level::neon;
  else if (std::strcmp(name, "avx2") == 0) out = simd_level::avx2;
  else if (std::strcmp(name, "avx512") == 0) out = simd_level::avx512;
  else return false;
  return true;
}

/// The level dispatched kernels use: NT_SIMD when set to a level this CPU runs (a higher or an
/// unknown request falls back to the best level, and `requested_simd_level_ignored()` says so),
/// else the best level.
struct simd_choice {
  simd_level level = simd_level::scalar;
  std::string requested;  // NT_SIMD as given, empty when unset
  bool ignored = false;   // the request could not be honoured
};

inline simd_choice choose_simd_level() {
  simd_choice c;
  c.level = best_simd_level();
  const char* env = std::getenv("NT_SIMD");
  if (env == nullptr || *env == '\0') return c;
  c.requested = env;
  simd_level want;
  if (!parse_simd_level(env, want)) {
    c.ignored = true;
    return c;
  }
  const bool runnable = want == simd_level::scalar || (want == simd_level::neon && cpu().neon) ||
                        (want != simd_level::neon && static_cast<int>(want) <= static_cast<int>(c.level) &&
                         c.level != simd_level::neon);
  if (runnable) c.level = want;
  else c.ignored = true;
  return c;
}

// Builds whose headers compile AVX2 + FMA copies of hot loops with a target attribute (GCC and
// Clang on x86-64; elsewhere only the baseline loops exist).
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define NT_AVX2_FMA_CLONES 1
#endif

/// Whether those AVX2 + FMA copies run: this build has them, the CPU has both and NT_SIMD does
/// not ask for less. Decided once per process.
inline bool use_avx2_fma_kernels() noexcept {
#if defined(NT_AVX2_FMA_CLONES)
  static const bool use = [] {
    const auto level = choose_simd_level().level;
    return level == simd_level::avx2 || level == simd_level::avx512;
  }();
  return use;
#else
  return false;
#endif
}

}  // namespace neural_trader
