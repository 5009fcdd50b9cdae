/// @file config.hpp
/// @brief Platform constants and small macros shared by every component of the core.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../version.hpp"

#if defined(_MSC_VER)
#include <intrin.h>
#endif

/// Keeps a function out of line: a rare path (growth, a slow case) out of a hot caller's body.
#if defined(__GNUC__) || defined(__clang__)
#define NT_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define NT_NOINLINE __declspec(noinline)
#else
#define NT_NOINLINE
#endif

namespace neural_trader {

/// Distance in bytes that keeps two independently written atomics from sharing a cache line.
/// Fixed (not std::hardware_destructive_interference_size) so that layouts placed in shared
/// memory are identical in every build; 128 also covers the adjacent-line prefetcher on x86-64
/// and the 128-byte lines of Apple silicon.
inline constexpr std::size_t false_sharing_range = 128;

/// Whether x is a power of two (0 is not).
constexpr bool is_power_of_two(std::uint64_t x) noexcept { return x != 0 && (x & (x - 1)) == 0; }

/// CPU hint for spin loops.
inline void cpu_relax() noexcept {
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
  _mm_pause();
#elif defined(_MSC_VER) && defined(_M_ARM64)
  __yield();
#elif defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace neural_trader
