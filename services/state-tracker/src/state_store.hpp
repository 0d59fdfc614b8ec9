#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/redis/client.hpp"
#include "services/state-tracker/src/redis_pipeline.hpp"

#include "common/error/error.hpp"

namespace rainbow::state {

enum class FileState { kPending, kInProgress, kCompleted, kFailed, kRemoved };

// "PENDING" | "IN_PROGRESS" | "COMPLETED" | "FAILED" | "REMOVED"
std::string_view ToString(FileState state);
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
class FencingError : public error::Error {
 public:
  explicit FencingError(const std::string& message) : error::Error(message, error::Kind::kConflict) {}
};
class NotFoundError : public error::Error {
 public:
  explicit NotFoundError(const std::string& message) : error::Error(message, error::Kind::kNotFound) {}
};

struct StoreOptions {
  // Every key starts with it; the {hash tag} keeps all keys of one tracker in one Redis Cluster slot
  // (the scripts touch keys they compute, which Cluster allows only within one slot).
  std::string prefix = "rainbow:{files}:";
  uint32_t max_attempts = 3;                     // claims before a file is terminally FAILED
  std::chrono::milliseconds retry_delay{1'000};  // a retryable failure is claimable again after this
  // An infrastructure failure's delay doubles per such failure in a row, up to this.
  std::chrono::milliseconds max_retry_delay{60'000};
  size_t history_cap = 50;  // transitions kept per file
};

struct Stats {
  uint64_t pending = 0;
  uint64_t in_progress = 0;
  uint64_t completed = 0;
  uint64_t failed = 0;
  uint64_t removed = 0;
};

// Whose failure a Fail reports.
enum class FailCause {
  kFile,            // the file's own (bad JSON, a checksum that does not match): uses up an attempt
  kInfrastructure,  // a dependency's (S3 down, a timeout): see FailRequest.infrastructure
  kSourceRemoved,   // the source object is gone: the file ends REMOVED, not FAILED
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

// The store's Redis connections: concurrent calls' scripts are written together on a few pipelined
// connections (services/state-tracker/src/redis_pipeline.hpp), each script still one atomic EVALSHA.
// RedisPool(config, connections). Thread-safe.
using RedisPool = PipelinedClient;

struct CompleteResult {
  FileRecord record;
  bool repeated = false;  // the same Complete again (a lost reply): no new transition
};

// The outcome of an asynchronous store call: the value, or the exception the blocking form throws.
template <typename T>
class AsyncResult {
 public:
  static AsyncResult Value(T value) {
    AsyncResult o;
    o.value_.emplace(std::move(value));
    return o;
  }
  static AsyncResult Error(std::exception_ptr error) {
    AsyncResult o;
    o.error_ = std::move(error);
    return o;
  }
  // The value, or rethrows the error.
  T& get() {
    if (error_) std::rethrow_exception(error_);
    return *value_;
  }

 private:
  std::optional<T> value_;
  std::exception_ptr error_;
};
// Runs on a Redis I/O thread: must not block, nor call a blocking StateStore method.
template <typename T>
using Done = std::function<void(AsyncResult<T>)>;

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
// Threading: thread-safe. Throws redis::RedisError when Redis fails. The hot transitions also come
// asynchronously (`...Async`: `done` gets the result or the same exception, on a Redis I/O thread);
// the blocking forms wait for them and must not be called from a `done` callback.
class StateStore {
 public:
  StateStore(RedisPool& pool, StoreOptions options);

  // Idempotent on (bucket, key, etag): a known version is returned unchanged (created=false); a new
  // ETag for a known key is a new version and starts again as PENDING. `sequencer` (the bucket
  // notification's, hex; may be empty) orders events for one key: an event not later than the newest
  // one seen is a replay of history and changes nothing, so an old version's notification arriving
  // again cannot reset the newer version's state.
  RegisterResult Register(const std::string& bucket, const std::string& key, const std::string& etag,
                          uint64_t size, const std::string& sequencer = "");
  void RegisterAsync(const std::string& bucket, const std::string& key, const std::string& etag,
                     uint64_t size, const std::string& sequencer, Done<RegisterResult> done);
  // Registers the version only when the key is unknown (reconciliation: an object listed in S3 whose
  // notification never came). A known key is left alone whatever its ETag, so a listing that raced
  // with a newer upload cannot set the newer version back.
  RegisterResult RegisterIfAbsent(const std::string& bucket, const std::string& key, const std::string& etag,
                                  uint64_t size);
  // Moves up to max_files claimable files (PENDING, or FAILED retryable whose retry time came) to
  // IN_PROGRESS for worker_id with a lease of lease_ms, oldest first.
  std::vector<FileRecord> Claim(const std::string& worker_id, uint32_t max_files,
                                std::chrono::milliseconds lease);
  void ClaimAsync(const std::string& worker_id, uint32_t max_files, std::chrono::milliseconds lease,
                  Done<std::vector<FileRecord>> done);
  // Extends the lease; returns the new expiry (ms since epoch). attempt 0 skips the attempt check.
  int64_t Heartbeat(const std::string& bucket, const std::string& key, const std::string& worker_id,
                    uint32_t attempt, std::chrono::milliseconds lease);
  void HeartbeatAsync(const std::string& bucket, const std::string& key, const std::string& worker_id,
                      uint32_t attempt, std::chrono::milliseconds lease, Done<int64_t> done);
  // IN_PROGRESS -> COMPLETED. Repeating the same Complete (same worker, attempt and SHA-256: a lost
  // reply) returns the record again with `repeated` set and no new transition.
  FileRecord Complete(const std::string& bucket, const std::string& key, const std::string& worker_id,
                      uint32_t attempt, const std::string& output_key, const std::string& sha256,
                      bool* repeated = nullptr);
  void CompleteAsync(const std::string& bucket, const std::string& key, const std::string& worker_id,
                     uint32_t attempt, const std::string& output_key, const std::string& sha256,
                     Done<CompleteResult> done);
  // IN_PROGRESS -> FAILED, claimable again after retry_delay if retryable and attempts remain.
  FailResult Fail(const std::string& bucket, const std::string& key, const std::string& worker_id,
                  uint32_t attempt, const std::string& error, bool retryable,
                  FailCause cause = FailCause::kFile);
  void FailAsync(const std::string& bucket, const std::string& key, const std::string& worker_id,
                 uint32_t attempt, const std::string& error, bool retryable, Done<FailResult> done,
                 FailCause cause = FailCause::kFile);
  // The source object was deleted (an s3:ObjectRemoved record; `sequencer` as in Register): a file not
  // converted yet ends REMOVED (lua/remove.lua says which states move). nullopt when the key is
  // unknown; `moved` false when nothing changed.
  struct RemoveResult {
    FileRecord record;
    bool moved = false;
  };
  std::optional<RemoveResult> Remove(const std::string& bucket, const std::string& key,
                                     const std::string& sequencer = "");
  std::optional<FileRecord> Get(const std::string& bucket, const std::string& key);
  // Files in `state` ordered by id, after `cursor` (an id from a previous page's next_cursor).
  ListResult List(FileState state, uint32_t limit, const std::string& cursor);
  Stats GetStats();
  // Expired leases: back to PENDING, or terminally FAILED when max_attempts claims were used.
  // Returns the files it moved.
  std::vector<FileRecord> SweepExpired(uint32_t limit);

  // FAILED (terminal or retryable) -> PENDING with attempts reset and the error cleared: every FAILED
  // file (bucket empty), one file (bucket and key), or those whose key starts with key_prefix (bucket
  // given, key empty). Returns how many moved; each transition is published as usual.
  uint64_t Redrive(const std::string& bucket, const std::string& key, const std::string& key_prefix);

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
