// common/pg's EventLoop without a server.
#include "common/pg/event_loop.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace rainbow::pg {
namespace {

// No connection can be opened (nothing listens on port 1): jobs are refused, for the caller to run
// its blocking way, and Stop does not wait for the reconnect attempts.
TEST(EventLoop, RefusesJobsWhileNoConnectionIsUp) {
  EventLoop loop("host=127.0.0.1 port=1 dbname=none connect_timeout=1", 2, {{"s", "SELECT 1"}}, "unit");
  loop.Start(nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  bool called = false;
  EventLoop::Job job{"s", {}, [&](PGresult*, bool) { called = true; }};
  EXPECT_FALSE(loop.Submit(job));
  EXPECT_FALSE(called);
  ASSERT_TRUE(job.done) << "a refused job must stay with the caller";
  const auto stats = loop.stats();
  EXPECT_EQ(stats.size, 2);
  EXPECT_EQ(stats.up, 0);
  const auto start = std::chrono::steady_clock::now();
  loop.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

}  // namespace
}  // namespace rainbow::pg
