#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/pg/connection.hpp"

namespace rainbow::pg {

struct PoolConfig {
  std::string dsn;  // PG_DSN, a libpq connection string
  int size = 8;
  std::chrono::milliseconds acquire_timeout{5'000};
  // Named statements every connection prepares on first use (SQL lives next to the code using it).
  std::map<std::string, std::string> statements;
  Timeouts timeouts;  // of every connection (PG_* vars, TimeoutsFromEnv)
};

struct PoolStats {
  int size = 0;     // max connections
  int open = 0;     // connections currently open
  int in_use = 0;   // leased out
  int waiting = 0;  // threads blocked in Acquire
};

// A fixed-size pool of connections, opened lazily. Thread-safe. A lease gives one thread exclusive use
// of a connection; when it ends, a connection that is broken or left inside a transaction is closed
// instead of reused, so one failure never leaks into the next user.
class Pool {
 public:
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    ~Lease();
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection* operator->() { return conn_.get(); }
    Connection& operator*() { return *conn_; }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  explicit Pool(PoolConfig config);

  // Waits up to acquire_timeout for a free connection; throws PgError (kRetryable) on timeout or when
  // a new connection cannot be opened.
  Lease Acquire();
  PoolStats Stats() const;

 private:
  void Release(std::unique_ptr<Connection> conn);

  PoolConfig config_;
  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
  int waiting_ = 0;
};

}  // namespace rainbow::pg
