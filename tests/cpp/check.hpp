// A minimal self-contained check harness for the C++ tests (no third-party framework).
//
//   CHECK(cond)                 records a failure when cond is false
//   CHECK_EQ(a, b)              records a failure when !(a == b), printing both values
//   CHECK_THROWS(expr, type)    records a failure unless evaluating expr throws `type`
//   CHECK_NOTHROW(expr)         records a failure when evaluating expr throws anything
//   NT_RUN(fn)                  runs one test function, counting an escaped exception as a failure
//   nt_check::finish("name")    prints the summary; its value is main()'s exit status
//
// Failures print "file:line: ..." on stderr and are counted; a test binary exits non-zero when
// any check failed. Include this header first in every test (it undefines NDEBUG).
#pragma once

#ifdef NDEBUG
#undef NDEBUG
#endif
#include <cassert>

#include <cstdio>
#include <exception>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

namespace nt_check {

struct counters {
  long checks = 0;
  long failures = 0;
};

inline counters& state() noexcept {
  static counters c;
  return c;
}

template <class T, class = void>
struct is_streamable : std::false_type {};
template <class T>
struct is_streamable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const T&>())>>
    : std::true_type {};

/// Text for a value in a failure message ("<unprintable>" for types without operator<<).
template <class T>
std::string show(const T& v) {
  if constexpr (std::is_same_v<T, unsigned char> || std::is_same_v<T, signed char> || std::is_same_v<T, char>) {
    return std::to_string(static_cast<int>(v));
  } else if constexpr (std::is_enum_v<T>) {
    return std::to_string(static_cast<long long>(v));
  } else if constexpr (is_streamable<T>::value) {
    std::ostringstream os;
    os.precision(17);
    os << v;
    return os.str();
  } else {
    return "<unprintable>";
  }
}

inline void fail(const char* file, int line, const std::string& what) {
  ++state().failures;
  std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
  std::fflush(stderr);
}

inline void pass() noexcept { ++state().checks; }

template <class Fn>
void run(const char* name, Fn&& fn) {
  const long before = state().failures;
  try {
    fn();
  } catch (const std::exception& e) {
    fail(__FILE__, __LINE__, std::string(name) + " threw " + e.what());
  } catch (...) {
    fail(__FILE__, __LINE__, std::string(name) + " threw a non-std exception");
  }
  std::printf("[%s] %s\n", state().failures == before ? "ok  " : "FAIL", name);
  std::fflush(stdout);
}

/// Prints the summary; returns the process exit status (0 only when nothing failed).
inline int finish(const char* suite) {
  const auto& s = state();
  std::printf("%s: %ld checks, %ld failures\n", suite, s.checks + s.failures, s.failures);
  return s.failures == 0 ? 0 : 1;
}

}  // namespace nt_check

#define CHECK(cond)                                                   \
  do {                                                                \
    if (cond) {                                                       \
      ::nt_check::pass();                                             \
    } else {                                                          \
      ::nt_check::fail(__FILE__, __LINE__, "CHECK(" #cond ")");       \
    }                                                                 \
  } while (0)

#define CHECK_EQ(a, b)                                                                               \
  do {                                                                                               \
    const auto& nt_check_a_ = (a);                                                                   \
    const auto& nt_check_b_ = (b);                                                                   \
    if (nt_check_a_ == nt_check_b_) {                                                                \
      ::nt_check::pass();                                                                            \
    } else {                                                                                         \
      ::nt_check::fail(__FILE__, __LINE__,                                                           \
                       "CHECK_EQ(" #a ", " #b "): " + ::nt_check::show(nt_check_a_) + " != " +       \
                           ::nt_check::show(nt_check_b_));                                           \
    }                                                                                                \
  } while (0)

#define CHECK_THROWS(expr, type)                                                                     \
  do {                                                                                               \
    bool nt_check_caught_ = false;                                                                   \
    try {                                                                                            \
      static_cast<void>(expr);                                                                       \
    } catch (const type&) {                                                                          \
      nt_check_caught_ = true;                                                                       \
    } catch (const std::exception& nt_check_e_) {                                                    \
      ::nt_check::fail(__FILE__, __LINE__,                                                           \
                       "CHECK_THROWS(" #expr ", " #type "): threw another exception: " +             \
                           std::string(nt_check_e_.what()));                                         \
      break;                                                                                         \
    } catch (...) {                                                                                  \
      ::nt_check::fail(__FILE__, __LINE__, "CHECK_THROWS(" #expr ", " #type "): threw a non-std exception"); \
      break;                                                                                         \
    }                                                                                                \
    if (nt_check_caught_) {                                                                          \
      ::nt_check::pass();                                                                            \
    } else {                                                                                         \
      ::nt_check::fail(__FILE__, __LINE__, "CHECK_THROWS(" #expr ", " #type "): nothing thrown");    \
    }                                                                                                \
  } while (0)

#define CHECK_NOTHROW(expr)                                                                          \
  do {                                                                                               \
    try {                                                                                            \
      static_cast<void>(expr);                                                                       \
      ::nt_check::pass();                                                                            \
    } catch (const std::exception& nt_check_e_) {                                                    \
      ::nt_check::fail(__FILE__, __LINE__, "CHECK_NOTHROW(" #expr "): threw " + std::string(nt_check_e_.what())); \
    } catch (...) {                                                                                  \
      ::nt_check::fail(__FILE__, __LINE__, "CHECK_NOTHROW(" #expr "): threw a non-std exception");  \
    }                                                                                                \
  } while (0)

#define NT_RUN(fn) ::nt_check::run(#fn, fn)
