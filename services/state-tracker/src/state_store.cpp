#include "services/state-tracker/src/state_store.hpp"

#include <future>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "services/state-tracker/src/lua_scripts.hpp"

namespace rainbow::state {

namespace {

// The scripts (lua/*.lua, embedded at build time: lua::kCommon, lua::kRegister, ...).
using lua::kClaim;
using lua::kComplete;
using lua::kFail;
using lua::kGet;
using lua::kHeartbeat;
using lua::kList;
using lua::kRedrive;
using lua::kRegister;
using lua::kRemove;
using lua::kStats;
using lua::kSweep;

const redis::Script& Script(const char* body) {
  // One Script per body (its SHA-1 computed once); bodies are the lua:: constants. Built once on
  // first use (thread-safe static init) and read-only afterwards, so calls take no lock.
  static const auto* const scripts = [] {
    auto* m = new std::map<const char*, std::unique_ptr<redis::Script>>();
    for (const char* b :
         {kRegister, kClaim, kHeartbeat, kComplete, kFail, kSweep, kGet, kList, kStats, kRedrive, kRemove}) {
      (*m)[b] = std::make_unique<redis::Script>(std::string(lua::kCommon) + b);
    }
    return m;
  }();
  const auto it = scripts->find(body);
  if (it == scripts->end()) throw std::logic_error("state-tracker: unknown Lua script");
  return *it->second;
}

// Every script may be resent once on a fresh connection when the link broke (a restarted Redis),
// which may run it twice when the link broke after the server ran it; every script tolerates that:
// Register, Heartbeat, Complete and Sweep are idempotent, a repeated Fail is fenced
// (FAILED_PRECONDITION), and a repeated Claim only leaves the first batch IN_PROGRESS until its lease
// expires (never assigned twice).
constexpr auto kResend = PipelinedClient::Resend::kOnce;

redis::Reply Eval(RedisPool& pool, const redis::Script& script, const std::vector<std::string>& keys,
                  const std::vector<std::string>& args) {
  return pool.Eval(script, keys, args, kResend);
}

// Runs a script asynchronously; `parse` turns the reply into the result (or throws, e.g. FencingError).
template <typename T, typename Parse>
void EvalThen(RedisPool& pool, const redis::Script& script, const std::vector<std::string>& keys,
              const std::vector<std::string>& args, Parse parse, Done<T> done) {
  pool.EvalAsync(
      script, keys, args, kResend,
      [parse = std::move(parse), done = std::move(done)](redis::Reply reply, std::exception_ptr error) {
        if (error) return done(AsyncResult<T>::Error(std::move(error)));
        std::optional<T> value;
        try {
          value.emplace(parse(reply));
        } catch (...) {
          return done(AsyncResult<T>::Error(std::current_exception()));
        }
        done(AsyncResult<T>::Value(std::move(*value)));
      });
}

// The blocking form of an asynchronous call.
template <typename T, typename Start>
T Wait(Start&& start) {
  auto promise = std::make_shared<std::promise<T>>();
  auto result = promise->get_future();
  start([promise](AsyncResult<T> outcome) {
    try {
      promise->set_value(std::move(outcome.get()));
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  });
  return result.get();
}

int64_t ToInt(const std::string& s) {
  if (s.empty()) return 0;
  return std::stoll(s);
}

FileRecord ParseRecord(const redis::Reply& flat) {
  FileRecord r;
  std::string_view state;
  for (size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
    const std::string_view name = flat.elements[i].str;
    const std::string& value = flat.elements[i + 1].str;
    if (name == "bucket") {
      r.bucket = value;
    } else if (name == "key") {
      r.key = value;
    } else if (name == "etag") {
      r.etag = value;
    } else if (name == "state") {
      state = value;
    } else if (name == "attempts") {
      r.attempts = static_cast<uint32_t>(ToInt(value));
    } else if (name == "size") {
      r.size = static_cast<uint64_t>(ToInt(value));
    } else if (name == "worker") {
      r.worker_id = value;
    } else if (name == "lease_exp") {
      r.lease_expires_ms = ToInt(value);
    } else if (name == "output_key") {
      r.output_key = value;
    } else if (name == "sha256") {
      r.sha256 = value;
    } else if (name == "error") {
      r.error = value;
    } else if (name == "retryable") {
      r.retryable = value == "1";
    } else if (name == "updated_ms") {
      r.updated_ms = ToInt(value);
    }
  }
  r.state = ParseFileState(state).value_or(FileState::kPending);
  return r;
}

Transition ParseTransition(const std::string& text) {
  Transition t;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return t;
  auto str = [&](const char* name) {
    auto it = j.find(name);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  t.from = str("from");
  t.to = str("to");
  t.worker_id = str("worker_id");
  t.error = str("error");
  if (auto it = j.find("ts_ms"); it != j.end() && it->is_number()) t.ts_ms = it->get<int64_t>();
  return t;
}

std::vector<FileRecord> ParseRecords(const redis::Reply& reply) {
  std::vector<FileRecord> out;
  for (const auto& e : reply.elements) out.push_back(ParseRecord(e));
  return out;
}

// A transition script that refused answers {0, reason}: the file is unknown, or the caller does not
// hold it (fencing).
[[noreturn]] void ThrowRefusal(const redis::Reply& reply, const std::string& id) {
  const auto& why = reply.elements.at(1).str;
  if (why == "not found") throw NotFoundError("no file " + id);
  throw FencingError(why);
}

}  // namespace

std::string_view ToString(FileState state) {
  switch (state) {
    case FileState::kPending:
      return "PENDING";
    case FileState::kInProgress:
      return "IN_PROGRESS";
    case FileState::kCompleted:
      return "COMPLETED";
    case FileState::kFailed:
      return "FAILED";
    case FileState::kRemoved:
      return "REMOVED";
  }
  return "PENDING";
}

std::optional<FileState> ParseFileState(std::string_view text) {
  if (text == "PENDING") return FileState::kPending;
  if (text == "IN_PROGRESS") return FileState::kInProgress;
  if (text == "COMPLETED") return FileState::kCompleted;
  if (text == "FAILED") return FileState::kFailed;
  if (text == "REMOVED") return FileState::kRemoved;
  return std::nullopt;
}

const redis::Script& RegisterScript() { return Script(kRegister); }

std::string FileId(const std::string& bucket, const std::string& key) { return bucket + "/" + key; }

StateStore::StateStore(RedisPool& pool, StoreOptions options) : pool_(pool), options_(std::move(options)) {}

RegisterResult StateStore::Register(const std::string& bucket, const std::string& key,
                                    const std::string& etag, uint64_t size, const std::string& sequencer) {
  return Wait<RegisterResult>(
      [&](Done<RegisterResult> done) { RegisterAsync(bucket, key, etag, size, sequencer, std::move(done)); });
}

void StateStore::RegisterAsync(const std::string& bucket, const std::string& key, const std::string& etag,
                               uint64_t size, const std::string& sequencer, Done<RegisterResult> done) {
  EvalThen<RegisterResult>(
      pool_, Script(kRegister), {options_.prefix},
      {FileId(bucket, key), bucket, key, etag, std::to_string(size), std::to_string(options_.history_cap),
       sequencer},
      [](const redis::Reply& reply) {
        return RegisterResult{ParseRecord(reply.elements.at(1)), reply.elements.at(0).integer == 1};
      },
      std::move(done));
}

RegisterResult StateStore::RegisterIfAbsent(const std::string& bucket, const std::string& key,
                                            const std::string& etag, uint64_t size) {
  const auto reply = Eval(pool_, Script(kRegister), {options_.prefix},
                          {FileId(bucket, key), bucket, key, etag, std::to_string(size),
                           std::to_string(options_.history_cap), "", "1"});
  return RegisterResult{ParseRecord(reply.elements.at(1)), reply.elements.at(0).integer == 1};
}

std::vector<FileRecord> StateStore::Claim(const std::string& worker_id, uint32_t max_files,
                                          std::chrono::milliseconds lease) {
  return Wait<std::vector<FileRecord>>(
      [&](Done<std::vector<FileRecord>> done) { ClaimAsync(worker_id, max_files, lease, std::move(done)); });
}

void StateStore::ClaimAsync(const std::string& worker_id, uint32_t max_files, std::chrono::milliseconds lease,
                            Done<std::vector<FileRecord>> done) {
  EvalThen<std::vector<FileRecord>>(pool_, Script(kClaim), {options_.prefix},
                                    {worker_id, std::to_string(max_files), std::to_string(lease.count()),
                                     std::to_string(options_.history_cap)},
                                    ParseRecords, std::move(done));
}

int64_t StateStore::Heartbeat(const std::string& bucket, const std::string& key, const std::string& worker_id,
                              uint32_t attempt, std::chrono::milliseconds lease) {
  return Wait<int64_t>(
      [&](Done<int64_t> done) { HeartbeatAsync(bucket, key, worker_id, attempt, lease, std::move(done)); });
}

void StateStore::HeartbeatAsync(const std::string& bucket, const std::string& key,
                                const std::string& worker_id, uint32_t attempt,
                                std::chrono::milliseconds lease, Done<int64_t> done) {
  EvalThen<int64_t>(
      pool_, Script(kHeartbeat), {options_.prefix},
      {FileId(bucket, key), worker_id, std::to_string(attempt), std::to_string(lease.count())},
      [id = FileId(bucket, key)](const redis::Reply& reply) {
        if (reply.elements.at(0).integer != 1) {
          ThrowRefusal(reply, id);
        }
        return reply.elements.at(1).integer;
      },
      std::move(done));
}

FileRecord StateStore::Complete(const std::string& bucket, const std::string& key,
                                const std::string& worker_id, uint32_t attempt, const std::string& output_key,
                                const std::string& sha256, bool* repeated) {
  auto r = Wait<CompleteResult>([&](Done<CompleteResult> done) {
    CompleteAsync(bucket, key, worker_id, attempt, output_key, sha256, std::move(done));
  });
  if (repeated != nullptr) *repeated = r.repeated;
  return std::move(r.record);
}

void StateStore::CompleteAsync(const std::string& bucket, const std::string& key,
                               const std::string& worker_id, uint32_t attempt, const std::string& output_key,
                               const std::string& sha256, Done<CompleteResult> done) {
  EvalThen<CompleteResult>(
      pool_, Script(kComplete), {options_.prefix},
      {FileId(bucket, key), worker_id, std::to_string(attempt), output_key, sha256,
       std::to_string(options_.history_cap)},
      [id = FileId(bucket, key)](const redis::Reply& reply) {
        if (reply.elements.at(0).integer == 0) {
          ThrowRefusal(reply, id);
        }
        return CompleteResult{ParseRecord(reply.elements.at(1)), reply.elements.at(0).integer == 2};
      },
      std::move(done));
}

FailResult StateStore::Fail(const std::string& bucket, const std::string& key, const std::string& worker_id,
                            uint32_t attempt, const std::string& error, bool retryable, FailCause cause) {
  return Wait<FailResult>([&](Done<FailResult> done) {
    FailAsync(bucket, key, worker_id, attempt, error, retryable, std::move(done), cause);
  });
}

void StateStore::FailAsync(const std::string& bucket, const std::string& key, const std::string& worker_id,
                           uint32_t attempt, const std::string& error, bool retryable, Done<FailResult> done,
                           FailCause cause) {
  EvalThen<FailResult>(
      pool_, Script(kFail), {options_.prefix},
      {FileId(bucket, key), worker_id, std::to_string(attempt), error, retryable ? "1" : "0",
       std::to_string(options_.max_attempts), std::to_string(options_.retry_delay.count()),
       std::to_string(options_.history_cap), cause == FailCause::kInfrastructure ? "1" : "0",
       std::to_string(options_.max_retry_delay.count()), cause == FailCause::kSourceRemoved ? "1" : "0"},
      [id = FileId(bucket, key)](const redis::Reply& reply) {
        if (reply.elements.at(0).integer == 0) {
          ThrowRefusal(reply, id);
        }
        return FailResult{ParseRecord(reply.elements.at(2)), reply.elements.at(1).integer == 1};
      },
      std::move(done));
}

std::optional<StateStore::RemoveResult> StateStore::Remove(const std::string& bucket, const std::string& key,
                                                           const std::string& sequencer) {
  const auto reply = Eval(pool_, Script(kRemove), {options_.prefix},
                          {FileId(bucket, key), std::to_string(options_.history_cap), sequencer});
  if (reply.elements.at(1).type != redis::Reply::Type::kArray) return std::nullopt;  // "not found"
  return RemoveResult{ParseRecord(reply.elements.at(1)), reply.elements.at(0).integer == 1};
}

std::optional<FileRecord> StateStore::Get(const std::string& bucket, const std::string& key) {
  const auto reply = Eval(pool_, Script(kGet), {options_.prefix}, {FileId(bucket, key)});
  if (reply.elements.at(0).elements.empty()) return std::nullopt;
  FileRecord r = ParseRecord(reply.elements.at(0));
  for (const auto& h : reply.elements.at(1).elements) r.history.push_back(ParseTransition(h.str));
  return r;
}

ListResult StateStore::List(FileState state, uint32_t limit, const std::string& cursor) {
  if (limit == 0) limit = 100;
  const auto reply = Eval(pool_, Script(kList), {options_.prefix},
                          {std::string(ToString(state)), std::to_string(limit), cursor});
  ListResult out;
  for (const auto& e : reply.elements) {
    out.files.push_back(ParseRecord(e.elements.at(1)));
    out.next_cursor = e.elements.at(0).str;
  }
  if (out.files.size() < limit) out.next_cursor.clear();
  return out;
}

Stats StateStore::GetStats() {
  const auto reply = Eval(pool_, Script(kStats), {options_.prefix}, {});
  return {static_cast<uint64_t>(reply.elements.at(0).integer),
          static_cast<uint64_t>(reply.elements.at(1).integer),
          static_cast<uint64_t>(reply.elements.at(2).integer),
          static_cast<uint64_t>(reply.elements.at(3).integer),
          static_cast<uint64_t>(reply.elements.at(4).integer)};
}

uint64_t StateStore::Redrive(const std::string& bucket, const std::string& key,
                             const std::string& key_prefix) {
  std::string min = "-", max = "+";
  if (!bucket.empty() && !key.empty()) {
    min = max = "[" + FileId(bucket, key);
  } else if (!bucket.empty()) {
    min = "[" + FileId(bucket, key_prefix);
    max = "(" + FileId(bucket, key_prefix) + "\xff";
  }
  constexpr uint32_t kBatch = 500;
  uint64_t total = 0;
  for (;;) {  // redriven files leave the FAILED set, so every batch starts at the bound again
    const auto n = Eval(pool_, Script(kRedrive), {options_.prefix},
                        {min, max, std::to_string(kBatch), std::to_string(options_.history_cap)})
                       .integer;
    total += static_cast<uint64_t>(n);
    if (n < kBatch) return total;
  }
}

std::vector<FileRecord> StateStore::SweepExpired(uint32_t limit) {
  const auto reply = Eval(
      pool_, Script(kSweep), {options_.prefix},
      {std::to_string(limit), std::to_string(options_.max_attempts), std::to_string(options_.history_cap)});
  return ParseRecords(reply);
}

}  // namespace rainbow::state
