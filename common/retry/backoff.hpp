#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <random>
#include <stop_token>
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

// Sleeps for `delay` unless `stop` is requested first; false when it was (at once or while waiting).
inline bool SleepFor(std::stop_token stop, std::chrono::milliseconds delay) {
  if (stop.stop_requested()) return false;
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_for(lock, stop, delay, [] { return false; });  // nobody notifies: ends on timeout or stop
  return !stop.stop_requested();
}

// Calls fn until it succeeds, should_retry(error) says no, attempts run out, or `stop` is requested
// (between attempts: a running attempt is not interrupted); then rethrows the last error. fn throws
// to signal failure; should_retry gets the std::exception it threw.
template <typename Fn, typename ShouldRetry>
auto WithRetry(std::stop_token stop, BackoffPolicy policy, Fn&& fn, ShouldRetry&& should_retry) {
  Backoff backoff(policy);
  for (;;) {
    try {
      return fn();
    } catch (const std::exception& e) {
      auto delay = backoff.NextDelay();
      if (!backoff.CanRetry() || !should_retry(e)) throw;
      if (!SleepFor(stop, delay)) throw;
    }
  }
}

// The same, for a loop nobody stops from outside.
template <typename Fn, typename ShouldRetry>
auto WithRetry(BackoffPolicy policy, Fn&& fn, ShouldRetry&& should_retry) {
  return WithRetry(std::stop_token(), policy, std::forward<Fn>(fn), std::forward<ShouldRetry>(should_retry));
}

}  // namespace rainbow::retry
