#include "common/retry/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace rainbow::retry {

Backoff::Backoff(BackoffPolicy policy) : policy_(policy), rng_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::NextDelay() {
  ++attempts_;
  const double grown = static_cast<double>(policy_.initial.count()) *
                       std::pow(policy_.multiplier, static_cast<double>(attempts_ - 1));
  const auto cap = static_cast<int64_t>(std::min(grown, static_cast<double>(policy_.max.count())));
  std::uniform_int_distribution<int64_t> jitter(cap / 2, std::max<int64_t>(cap, 1));
  return std::chrono::milliseconds(jitter(rng_));
}

bool Backoff::CanRetry() const { return policy_.max_attempts == 0 || attempts_ < policy_.max_attempts; }

}  // namespace rainbow::retry
