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

// Whether order-api can take traffic: both servers listen, no drain has begun, and the database
// answers and holds every migration this binary knows (whoever applied them). The database is checked
// every `interval` on a thread and a connection of its own, so a probe never waits behind requests for
// a pool connection, nor takes one from them; /readyz and gRPC health report the last result.
class Readiness {
 public:
  struct Options {
    std::string dsn;
    std::string migration_history;  // table of applied migration versions
    std::chrono::milliseconds interval{1'000};
  };

  // Starts checking at once; the first result is there within a connection attempt.
  explicit Readiness(Options options);
  ~Readiness();
  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;

  // Empty when ready, else why not.
  std::string NotReadyReason() const;
  void SetListening();
  void SetDraining();
  // Called with the new state whenever readiness flips, and once at once with the current state.
  // Runs on the checking thread or the caller of Set*; it must not call back into this object.
  void OnChange(std::function<void(bool ready)> on_change);

 private:
  void Loop();
  std::string CheckDatabase();
  // Re-evaluates readiness and tells OnChange's callback if it flipped.
  void Publish();
  std::string ReasonLocked() const;

  const Options options_;
  std::unique_ptr<pg::Connection> conn_;  // the checking thread's own
  bool migrated_ = false;                 // the checking thread's own; migrations are never undone

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool listening_ = false;
  bool draining_ = false;
  bool checked_ = false;
  std::string database_problem_;
  std::chrono::steady_clock::time_point last_check_;

  // Held while a flip is logged and told, so callbacks see the flips in order.
  std::mutex publish_mu_;
  std::function<void(bool)> on_change_;
  bool published_ready_ = false;
  std::thread thread_;
};

// The DSN (key=value or URI form) with connect_timeout=5 unless it names one: a check must end even
// when the database host drops packets (libpq would wait for TCP to give up), or shutdown would too.
std::string WithConnectTimeout(const std::string& dsn);

}  // namespace rainbow::order
