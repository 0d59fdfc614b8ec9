#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/pg/connection.hpp"

namespace rainbow::order {

// order-api's readiness condition on its database (a polled check of ops::Readiness): the database
// answers and holds every migration this binary knows (whoever applied them). It is checked every
// `interval` on a thread and a connection of its own, so a probe never waits behind requests for a pool
// connection, nor takes one from them; Problem() reports the last result. Owned by main; thread-safe.
class DatabaseCheck {
 public:
  struct Options {
    std::string dsn;
    std::string migration_history;  // table of applied migration versions
    // The service's (PG_* vars); the check's statements are held to kStatementTimeout at most.
    pg::Timeouts timeouts;
    std::chrono::milliseconds interval{1'000};
  };

  explicit DatabaseCheck(Options options);
  // Starts checking; the first result is there within a connection attempt. `on_checked` runs on the
  // checking thread after every check (e.g. ops::Readiness::Refresh). Call once.
  void Start(std::function<void()> on_checked);
  ~DatabaseCheck();
  DatabaseCheck(const DatabaseCheck&) = delete;
  DatabaseCheck& operator=(const DatabaseCheck&) = delete;

  // Empty when the database is fine, else why not.
  std::string Problem() const;

 private:
  void Loop();
  std::string CheckDatabase();

  const Options options_;
  std::function<void()> on_checked_;      // set by Start, before the thread
  std::unique_ptr<pg::Connection> conn_;  // the checking thread's own
  bool migrated_ = false;                 // the checking thread's own; migrations are never undone

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool checked_ = false;
  std::string database_problem_;
  std::chrono::steady_clock::time_point last_check_;
  std::thread thread_;
};

}  // namespace rainbow::order
