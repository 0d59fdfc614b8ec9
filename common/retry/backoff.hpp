#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <utility>

namespace rainbow::retry {

// The one place retries get their timing: exponential growth with "equal jitter" (a random delay in
// [cap/2, cap]) so that many clients retrying the same server do not come back in lockstep, yet no
// retry comes back at once.
struct BackoffPolicy {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{10'000};
  double multiplier = 2.0;
  int max_attempts = 0;  // 0 = unlimited; counts the first try too
};

// Not thread-safe: one Backoff per retry loop.
class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy = {});

  // The delay before the next attempt; also counts the attempt.
  std::chrono::milliseconds NextDelay();
  // True while another attempt is allowed by max_attempts.
  bool CanRetry() const;
  int attempts() const { return attempts_; }
  void Reset() { attempts_ = 0; }

 private:
  BackoffPolicy policy_;
  int attempts_ = 0;
  std::mt19937_64 rng_;
};

// Calls fn until it succeeds, should_retry(error) says no, or attempts run out; rethrows the last
// error. fn throws to signal failure.
template <typename Fn, typename ShouldRetry>
auto WithRetry(BackoffPolicy policy, Fn&& fn, ShouldRetry&& should_retry) {
  Backoff backoff(policy);
  for (;;) {
    try {
      return fn();
    } catch (const std::exception& e) {
      auto delay = backoff.NextDelay();
      if (!backoff.CanRetry() || !should_retry(e)) throw;
      std::this_thread::sleep_for(delay);
    }
  }
}

}  // namespace rainbow::retry
