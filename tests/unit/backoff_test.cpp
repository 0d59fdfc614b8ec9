#include <gtest/gtest.h>

#include <stdexcept>

#include "common/retry/backoff.hpp"

namespace rainbow::retry {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DelaysGrowWithinJitterBoundsAndAreCapped) {
  Backoff b({milliseconds(100), milliseconds(1000), 2.0, 0});
  const int64_t caps[] = {100, 200, 400, 800, 1000, 1000};
  for (int64_t cap : caps) {
    const auto d = b.NextDelay().count();
    EXPECT_GE(d, cap / 2);
    EXPECT_LE(d, cap);
  }
}

TEST(Backoff, JitterSpreadsClients) {
  // Two clients failing together should not retry at the same instant every time.
  Backoff a({milliseconds(1000), milliseconds(1000), 2.0, 0});
  Backoff b({milliseconds(1000), milliseconds(1000), 2.0, 0});
  int same = 0;
  for (int i = 0; i < 50; ++i) same += a.NextDelay() == b.NextDelay();
  EXPECT_LT(same, 10);
}

TEST(WithRetry, StopsAfterMaxAttemptsAndRethrows) {
  int calls = 0;
  EXPECT_THROW(WithRetry(
                   {milliseconds(1), milliseconds(2), 2.0, 3},
                   [&]() -> int {
                     ++calls;
                     throw std::runtime_error("down");
                   },
                   [](const std::exception&) { return true; }),
               std::runtime_error);
  EXPECT_EQ(calls, 3);
}

TEST(WithRetry, DoesNotRetryPermanentErrors) {
  int calls = 0;
  EXPECT_THROW(
      WithRetry(
          {milliseconds(1), milliseconds(2), 2.0, 5},
          [&]() -> int {
            ++calls;
            throw std::invalid_argument("bad");
          },
          [](const std::exception& e) { return dynamic_cast<const std::invalid_argument*>(&e) == nullptr; }),
      std::invalid_argument);
  EXPECT_EQ(calls, 1);
}

TEST(WithRetry, ReturnsTheFirstSuccess) {
  int calls = 0;
  const int v = WithRetry(
      {milliseconds(1), milliseconds(2), 2.0, 5},
      [&] {
        if (++calls < 3) throw std::runtime_error("flaky");
        return 7;
      },
      [](const std::exception&) { return true; });
  EXPECT_EQ(v, 7);
  EXPECT_EQ(calls, 3);
}

// A stop request ends the waiting at once: the last error is rethrown instead of sleeping on.
TEST(WithRetry, StopsWaitingWhenStopIsRequested) {
  std::stop_source stop;
  int calls = 0;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_THROW(WithRetry(
                   stop.get_token(), {std::chrono::seconds(30), std::chrono::seconds(30), 2.0, 0},
                   [&]() -> int {
                     ++calls;
                     stop.request_stop();
                     throw std::runtime_error("down");
                   },
                   [](const std::exception&) { return true; }),
               std::runtime_error);
  EXPECT_EQ(calls, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(SleepFor, WakesOnStop) {
  std::stop_source stop;
  EXPECT_TRUE(SleepFor(stop.get_token(), milliseconds(1)));
  std::jthread stopper([&] {
    std::this_thread::sleep_for(milliseconds(50));
    stop.request_stop();
  });
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(SleepFor(stop.get_token(), std::chrono::seconds(30)));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

}  // namespace
}  // namespace rainbow::retry
