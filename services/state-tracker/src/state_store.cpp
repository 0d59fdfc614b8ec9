#include "services/state-tracker/src/state_store.hpp"

#include <future>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

namespace rainbow::state {

namespace {

// Shared by every script: KEYS[1] is the key prefix; time is the Redis server's.
constexpr const char* kLuaCommon = R"lua(
local P = KEYS[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fkey(id) return P .. 'f:' .. id end
local function move_state(id, from, to)
  if from and from ~= '' then redis.call('ZREM', P .. 'state:' .. from, id) end
  redis.call('ZADD', P .. 'state:' .. to, 0, id)
end
-- Records a transition: the capped per-file history, and the files.state event in the outbox stream
-- (same script, same atomicity: an event exists exactly when its transition happened).
local function history(id, from, to, ts, worker, err, cap)
  local h = P .. 'h:' .. id
  redis.call('LPUSH', h, cjson.encode({from = from or '', to = to, ts_ms = ts, worker_id = worker or '',
                                       error = err or ''}))
  redis.call('LTRIM', h, 0, cap - 1)
  local f = redis.call('HMGET', P .. 'f:' .. id, 'bucket', 'key', 'etag', 'attempts', 'error')
  redis.call('XADD', P .. 'outbox', 'MAXLEN', '~', 1000000, '*', 'key', id, 'event',
             cjson.encode({bucket = f[1], key = f[2], etag = f[3], state = to, attempt = tonumber(f[4]) or 0,
                           error = f[5] or '', ts_ms = ts}))
end
local function record(id) return redis.call('HGETALL', fkey(id)) end
-- The caller holds the file: IN_PROGRESS, same worker, and (attempt > 0) the same attempt.
local function holds(k, worker, attempt)
  local f = redis.call('HMGET', k, 'state', 'worker', 'attempts')
  if not f[1] then return 'not found' end
  if f[1] ~= 'IN_PROGRESS' then return 'file is ' .. f[1] .. ', not IN_PROGRESS' end
  if f[2] ~= worker then return 'file is held by worker ' .. (f[2] or '') end
  if attempt > 0 and tonumber(f[3]) ~= attempt then
    return 'lease of attempt ' .. attempt .. ' was lost (current attempt ' .. f[3] .. ')'
  end
  return nil
end
)lua";

// ARGV: id bucket key etag size history_cap [sequencer]
constexpr const char* kRegister = R"lua(
local id = ARGV[1]
local k = fkey(id)
local seq = string.upper(ARGV[7] or '')
local cur = redis.call('HMGET', k, 'etag', 'state', 'seq')
-- Sequencers are hex strings of any length: compare them left-padded to the same length.
if seq ~= '' and cur[3] then
  local n = math.max(#seq, #cur[3])
  if string.rep('0', n - #seq) .. seq <= string.rep('0', n - #cur[3]) .. cur[3] then return {0, record(id)} end
end
if cur[1] == ARGV[4] then
  if seq ~= '' then redis.call('HSET', k, 'seq', seq) end
  return {0, record(id)}
end
local now = now_ms()
local prev = cur[2]
if prev then
  redis.call('ZREM', P .. 'leases', id)
  redis.call('ZREM', P .. 'ready', id)
  redis.call('HDEL', k, 'worker', 'lease_exp', 'output_key', 'sha256', 'error', 'retryable')
end
redis.call('HSET', k, 'bucket', ARGV[2], 'key', ARGV[3], 'etag', ARGV[4], 'size', ARGV[5],
           'state', 'PENDING', 'attempts', 0, 'created_ms', now, 'updated_ms', now)
if seq ~= '' then redis.call('HSET', k, 'seq', seq) end
move_state(id, prev, 'PENDING')
redis.call('ZADD', P .. 'ready', now, id)
history(id, prev, 'PENDING', now, '', prev and 'new version ' .. ARGV[4] or '', tonumber(ARGV[6]))
return {1, record(id)}
)lua";

// ARGV: worker max_files lease_ms history_cap
constexpr const char* kClaim = R"lua(
local worker = ARGV[1]
local lease = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', P .. 'ready', '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', P .. 'ready', id)
  local k = fkey(id)
  local f = redis.call('HMGET', k, 'state', 'retryable')
  if f[1] == 'PENDING' or (f[1] == 'FAILED' and f[2] == '1') then
    redis.call('HINCRBY', k, 'attempts', 1)
    local exp = now + lease
    redis.call('HSET', k, 'state', 'IN_PROGRESS', 'worker', worker, 'lease_exp', exp, 'updated_ms', now)
    move_state(id, f[1], 'IN_PROGRESS')
    redis.call('ZADD', P .. 'leases', exp, id)
    history(id, f[1], 'IN_PROGRESS', now, worker, '', cap)
    table.insert(out, record(id))
  end
end
return out
)lua";

// ARGV: id worker attempt lease_ms
constexpr const char* kHeartbeat = R"lua(
local id = ARGV[1]
local k = fkey(id)
local why = holds(k, ARGV[2], tonumber(ARGV[3]))
if why then return {0, why} end
local exp = now_ms() + tonumber(ARGV[4])
redis.call('HSET', k, 'lease_exp', exp)
redis.call('ZADD', P .. 'leases', exp, id)
return {1, exp}
)lua";

// ARGV: id worker attempt output_key sha256 history_cap
constexpr const char* kComplete = R"lua(
local id = ARGV[1]
local k = fkey(id)
local attempt = tonumber(ARGV[3])
local f = redis.call('HMGET', k, 'state', 'worker', 'attempts', 'sha256')
if f[1] == 'COMPLETED' and f[2] == ARGV[2] and (attempt == 0 or tonumber(f[3]) == attempt) and f[4] == ARGV[5] then
  return {2, record(id)}
end
local why = holds(k, ARGV[2], attempt)
if why then return {0, why} end
local now = now_ms()
redis.call('HSET', k, 'state', 'COMPLETED', 'output_key', ARGV[4], 'sha256', ARGV[5], 'updated_ms', now)
redis.call('HDEL', k, 'lease_exp', 'error', 'retryable')
redis.call('ZREM', P .. 'leases', id)
move_state(id, 'IN_PROGRESS', 'COMPLETED')
history(id, 'IN_PROGRESS', 'COMPLETED', now, ARGV[2], '', tonumber(ARGV[6]))
return {1, record(id)}
)lua";

// ARGV: id worker attempt error retryable(0/1) max_attempts retry_delay_ms history_cap
constexpr const char* kFail = R"lua(
local id = ARGV[1]
local k = fkey(id)
local why = holds(k, ARGV[2], tonumber(ARGV[3]))
if why then return {0, why} end
local now = now_ms()
local attempts = tonumber(redis.call('HGET', k, 'attempts'))
local again = ARGV[5] == '1' and attempts < tonumber(ARGV[6])
redis.call('HSET', k, 'state', 'FAILED', 'error', ARGV[4], 'retryable', again and '1' or '0', 'updated_ms', now)
redis.call('HDEL', k, 'lease_exp')
redis.call('ZREM', P .. 'leases', id)
if again then redis.call('ZADD', P .. 'ready', now + tonumber(ARGV[7]), id) end
move_state(id, 'IN_PROGRESS', 'FAILED')
history(id, 'IN_PROGRESS', 'FAILED', now, ARGV[2], ARGV[4], tonumber(ARGV[8]))
return {1, again and 0 or 1, record(id)}
)lua";

// ARGV: limit max_attempts history_cap
constexpr const char* kSweep = R"lua(
local now = now_ms()
local cap = tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', P .. 'leases', id)
  local k = fkey(id)
  local f = redis.call('HMGET', k, 'state', 'lease_exp', 'attempts', 'worker')
  if f[1] == 'IN_PROGRESS' then
    if tonumber(f[2]) > now then
      redis.call('ZADD', P .. 'leases', f[2], id)
    else
      local attempts = tonumber(f[3])
      local err = 'lease of worker ' .. (f[4] or '') .. ' expired (attempt ' .. attempts .. ')'
      redis.call('HDEL', k, 'lease_exp')
      if attempts >= tonumber(ARGV[2]) then
        err = err .. '; no attempts left'
        redis.call('HSET', k, 'state', 'FAILED', 'error', err, 'retryable', '0', 'updated_ms', now)
        move_state(id, 'IN_PROGRESS', 'FAILED')
        history(id, 'IN_PROGRESS', 'FAILED', now, f[4], err, cap)
      else
        redis.call('HSET', k, 'state', 'PENDING', 'error', err, 'updated_ms', now)
        redis.call('ZADD', P .. 'ready', now, id)
        move_state(id, 'IN_PROGRESS', 'PENDING')
        history(id, 'IN_PROGRESS', 'PENDING', now, f[4], err, cap)
      end
      table.insert(out, record(id))
    end
  end
end
return out
)lua";

// ARGV: id
constexpr const char* kGet = R"lua(
local id = ARGV[1]
return {record(id), redis.call('LRANGE', P .. 'h:' .. id, 0, -1)}
)lua";

// ARGV: state limit cursor
constexpr const char* kList = R"lua(
local from = ARGV[3] == '' and '-' or ('(' .. ARGV[3])
local ids = redis.call('ZRANGEBYLEX', P .. 'state:' .. ARGV[1], from, '+', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do table.insert(out, {id, record(id)}) end
return out
)lua";

constexpr const char* kStats = R"lua(
return {redis.call('ZCARD', P .. 'state:PENDING'), redis.call('ZCARD', P .. 'state:IN_PROGRESS'),
        redis.call('ZCARD', P .. 'state:COMPLETED'), redis.call('ZCARD', P .. 'state:FAILED')}
)lua";

const redis::Script& Script(const char* body) {
  // One Script per body (its SHA-1 computed once); bodies are the constants above. Built once on
  // first use (thread-safe static init) and read-only afterwards, so calls take no lock.
  static const auto* const scripts = [] {
    auto* m = new std::map<const char*, std::unique_ptr<redis::Script>>();
    for (const char* b : {kRegister, kClaim, kHeartbeat, kComplete, kFail, kSweep, kGet, kList, kStats}) {
      (*m)[b] = std::make_unique<redis::Script>(std::string(kLuaCommon) + b);
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
  }
  return "PENDING";
}

std::optional<FileState> ParseFileState(std::string_view text) {
  if (text == "PENDING") return FileState::kPending;
  if (text == "IN_PROGRESS") return FileState::kInProgress;
  if (text == "COMPLETED") return FileState::kCompleted;
  if (text == "FAILED") return FileState::kFailed;
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
                            uint32_t attempt, const std::string& error, bool retryable) {
  return Wait<FailResult>([&](Done<FailResult> done) {
    FailAsync(bucket, key, worker_id, attempt, error, retryable, std::move(done));
  });
}

void StateStore::FailAsync(const std::string& bucket, const std::string& key, const std::string& worker_id,
                           uint32_t attempt, const std::string& error, bool retryable,
                           Done<FailResult> done) {
  EvalThen<FailResult>(
      pool_, Script(kFail), {options_.prefix},
      {FileId(bucket, key), worker_id, std::to_string(attempt), error, retryable ? "1" : "0",
       std::to_string(options_.max_attempts), std::to_string(options_.retry_delay.count()),
       std::to_string(options_.history_cap)},
      [id = FileId(bucket, key)](const redis::Reply& reply) {
        if (reply.elements.at(0).integer == 0) {
          ThrowRefusal(reply, id);
        }
        return FailResult{ParseRecord(reply.elements.at(2)), reply.elements.at(1).integer == 1};
      },
      std::move(done));
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
          static_cast<uint64_t>(reply.elements.at(3).integer)};
}

std::vector<FileRecord> StateStore::SweepExpired(uint32_t limit) {
  const auto reply = Eval(
      pool_, Script(kSweep), {options_.prefix},
      {std::to_string(limit), std::to_string(options_.max_attempts), std::to_string(options_.history_cap)});
  return ParseRecords(reply);
}

}  // namespace rainbow::state
