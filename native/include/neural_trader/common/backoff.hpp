/// @file backoff.hpp
/// @brief Spin, then yield, then sleep: how blocking calls wait on a lock-free structure.
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>

#include "config.hpp"

namespace neural_trader {

/// Seconds on the steady clock (for deadlines; not wall time).
inline double monotonic_seconds() noexcept {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Escalating wait for one side of a lock-free channel: a few pause-spins (cheap when the other
/// side is about to act), then yields, then sleeps growing to `max_sleep`.
class backoff {
 public:
  explicit backoff(std::chrono::microseconds max_sleep = std::chrono::microseconds(200)) noexcept
      : max_sleep_(max_sleep) {}

  void wait() noexcept {
    if (step_ < spin_steps) {
      for (int i = 0; i < (1 << std::min(step_, 6)); ++i) cpu_relax();
    } else if (step_ < spin_steps + yield_steps) {
      std::this_thread::yield();
    } else {
      const auto shift = std::min(step_ - spin_steps - yield_steps, 10);
      std::this_thread::sleep_for(std::min(std::chrono::microseconds(1LL << shift), max_sleep_));
    }
    ++step_;
  }

  void reset() noexcept { step_ = 0; }

 private:
  static constexpr int spin_steps = 10;
  static constexpr int yield_steps = 20;
  std::chrono::microseconds max_sleep_;
  int step_ = 0;
};

}  // namespace neural_trader
