#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/redis/client.hpp"

namespace rainbow::state {

enum class FileState { kPending, kInProgress, kCompleted, kFailed };

std::string_view ToString(FileState state);  // "PENDING" | "IN_PROGRESS" | "COMPLETED" | "FAILED"
std::optional<FileState> ParseFileState(std::string_view text);

struct Transition {
  std::string from;  // empty for the first registration
  std::string to;
  int64_t ts_ms = 0;
  std::string worker_id;
  std::string error;
};

// One file version (bucket, key, etag) and where it stands. `attempts` counts claims; it is also the
// lease token: Heartbeat/Complete/Fail must name the attempt they hold.
struct FileRecord {
  std::string bucket;
  std::string key;
  std::string etag;
  FileState state = FileState::kPending;
  uint32_t attempts = 0;
  uint64_t size = 0;
  std::string worker_id;
  int64_t lease_expires_ms = 0;
  std::string output_key;
  std::string sha256;
  std::string error;
  bool retryable = false;
  int64_t updated_ms = 0;
  std::vector<Transition> history;  // newest first; filled by Get only
};

// The caller does not hold the file (another worker's lease, an older attempt, or not IN_PROGRESS).
class FencingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class NotFoundError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StoreOptions {
  // Every key starts with it; the {hash tag} keeps all keys of one tracker in one Redis Cluster slot
  // (the scripts touch keys they compute, which Cluster allows only within one slot).
  std::string prefix = "rainbow:{files}:";
  uint32_t max_attempts = 3;                     // claims before a file is terminally FAILED
  std::chrono::milliseconds retry_delay{1'000};  // a retryable failure is claimable again after this
  size_t history_cap = 50;                       // transitions kept per file
};

struct Stats {
  uint64_t pending = 0;
  uint64_t in_progress = 0;
  uint64_t completed = 0;
  uint64_t failed = 0;
};

struct RegisterResult {
  FileRecord record;
  bool created = false;  // false: this (bucket, key, etag) was already known
};

struct FailResult {
  FileRecord record;
  bool terminal = false;  // no attempts left (or not retryable): FAILED for good
};

struct ListResult {
  std::vector<FileRecord> files;
  std::string next_cursor;  // empty on the last page
};

// A small pool of Redis connections (redis::Client is not thread-safe): a call borrows one for its
// duration. Thread-safe.
class RedisPool {
 public:
  RedisPool(redis::RedisConfig config, size_t size);
  class Lease {
   public:
    Lease(RedisPool& pool, std::unique_ptr<redis::Client> client) : pool_(pool), client_(std::move(client)) {}
    ~Lease() { pool_.Return(std::move(client_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    redis::Client* operator->() { return client_.get(); }

   private:
    RedisPool& pool_;
    std::unique_ptr<redis::Client> client_;
  };
  Lease Borrow();

 private:
  void Return(std::unique_ptr<redis::Client> client);
  redis::RedisConfig config_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<redis::Client>> idle_;
  size_t created_ = 0;
  size_t size_;
};

// File states in Redis; every transition is one Lua script (EVALSHA), so the script is the arbiter
// between any number of trackers sharing the Redis: a file is handed to one claimer only, and a
// worker whose lease expired cannot heartbeat, complete or fail a file it no longer holds.
// Data model (keys under the prefix P; id = "<bucket>/<key>", one current version per key):
//   P f:<id>          hash: bucket key etag state attempts size worker lease_exp output_key sha256
//                     error retryable created_ms updated_ms
//   P h:<id>          list: transitions as JSON, newest first, capped at history_cap
//   P state:<STATE>   sorted set (score 0, members ordered by id): List paging and Stats
//   P ready           sorted set by "claimable from" time: PENDING, and retryable FAILED files
//   P leases          sorted set by lease expiry: IN_PROGRESS files
// Time comes from the Redis server (TIME), one clock for all trackers.
// Threading: thread-safe (connections from the pool). Throws redis::RedisError when Redis fails.
class StateStore {
 public:
  StateStore(RedisPool& pool, StoreOptions options);

  // Idempotent on (bucket, key, etag): a known version is returned unchanged (created=false); a new
  // ETag for a known key is a new version and starts again as PENDING.
  RegisterResult Register(const std::string& bucket, const std::string& key, const std::string& etag,
                          uint64_t size);
  // Moves up to max_files claimable files (PENDING, or FAILED retryable whose retry time came) to
  // IN_PROGRESS for worker_id with a lease of lease_ms, oldest first.
  std::vector<FileRecord> Claim(const std::string& worker_id, uint32_t max_files,
                                std::chrono::milliseconds lease);
  // Extends the lease; returns the new expiry (ms since epoch). attempt 0 skips the attempt check.
  int64_t Heartbeat(const std::string& bucket, const std::string& key, const std::string& worker_id,
                    uint32_t attempt, std::chrono::milliseconds lease);
  // IN_PROGRESS -> COMPLETED. Repeating the same Complete (same worker, attempt and SHA-256: a lost
  // reply) returns the record again with `repeated` set and no new transition.
  FileRecord Complete(const std::string& bucket, const std::string& key, const std::string& worker_id,
                      uint32_t attempt, const std::string& output_key, const std::string& sha256,
                      bool* repeated = nullptr);
  // IN_PROGRESS -> FAILED, claimable again after retry_delay if retryable and attempts remain.
  FailResult Fail(const std::string& bucket, const std::string& key, const std::string& worker_id,
                  uint32_t attempt, const std::string& error, bool retryable);
  std::optional<FileRecord> Get(const std::string& bucket, const std::string& key);
  // Files in `state` ordered by id, after `cursor` (an id from a previous page's next_cursor).
  ListResult List(FileState state, uint32_t limit, const std::string& cursor);
  Stats GetStats();
  // Expired leases: back to PENDING, or terminally FAILED when max_attempts claims were used.
  // Returns the files it moved.
  std::vector<FileRecord> SweepExpired(uint32_t limit);

  const StoreOptions& options() const { return options_; }

 private:
  RedisPool& pool_;
  StoreOptions options_;
};

// The Lua script Register runs (for the benchmark, which runs the same script under redis-benchmark).
// KEYS: prefix; ARGV: id bucket key etag size history_cap.
const redis::Script& RegisterScript();

// "<bucket>/<key>": bucket names never contain '/', so the id is unambiguous.
std::string FileId(const std::string& bucket, const std::string& key);

}  // namespace rainbow::state
