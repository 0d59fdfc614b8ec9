#include "common/pg/timeouts.hpp"

#include <libpq-fe.h>

#include <algorithm>

#include "common/pg/connection.hpp"

namespace rainbow::pg {
namespace {

using std::chrono::milliseconds;

// libpq takes connect_timeout and keepalives_* in whole seconds: round up, never to 0 (which would
// mean "wait forever" for connect_timeout).
std::string Seconds(milliseconds d) { return std::to_string(std::max<int64_t>(1, (d.count() + 999) / 1000)); }

milliseconds AtLeast(config::Env& env, const std::string& name, milliseconds fallback, milliseconds min,
                     const std::string& description) {
  const milliseconds d = env.Duration(name, fallback, description);
  if (!env.describing() && d < min) {
    throw config::ConfigError(name, "config: " + name + " must be at least " + std::to_string(min.count()) +
                                        "ms, got " + std::to_string(d.count()) + "ms");
  }
  return d;
}

}  // namespace

std::optional<milliseconds> Timeouts::ResponseTimeout() const {
  if (statement.count() == 0) return std::nullopt;
  return statement + connect;
}

Timeouts Timeouts::WithoutStatementTimeout() const {
  Timeouts t = *this;
  t.statement = milliseconds(0);
  return t;
}

Timeouts TimeoutsFromEnv(config::Env& env) {
  using namespace std::chrono_literals;
  Timeouts t;
  t.connect = AtLeast(env, "PG_CONNECT_TIMEOUT", t.connect, 1s,
                      "connecting to PostgreSQL fails after this (whole seconds, at least 2 s in libpq)");
  t.statement = AtLeast(env, "PG_STATEMENT_TIMEOUT", t.statement, 0ms,
                        "the server cancels a statement running longer, and the client stops waiting for "
                        "an answer after this plus PG_CONNECT_TIMEOUT (0: no limit)");
  t.keepalives_idle = AtLeast(env, "PG_KEEPALIVES_IDLE", t.keepalives_idle, 1s,
                              "TCP keepalive probes start after the connection is idle this long");
  t.keepalives_interval =
      AtLeast(env, "PG_KEEPALIVES_INTERVAL", t.keepalives_interval, 1s, "time between TCP keepalive probes");
  t.keepalives_count = static_cast<int>(env.Int("PG_KEEPALIVES_COUNT", t.keepalives_count, 1, 100,
                                                "unanswered keepalive probes before the connection is dead"));
  t.tcp_user_timeout =
      AtLeast(env, "PG_TCP_USER_TIMEOUT", t.tcp_user_timeout, 1ms,
              "data sent but not acknowledged by the server's host for this long breaks the connection");
  return t;
}

ConnectParams::ConnectParams(const std::string& dsn, const Timeouts& timeouts, const Pairs& defaults,
                             const Pairs& overrides) {
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(dsn.c_str(), &error);
  if (parsed == nullptr) {
    std::string message = error != nullptr ? error : "out of memory";
    PQfreemem(error);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw PgError("pg: bad connection string: " + message, "", error::Kind::kInvalidArgument);
  }
  for (const PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) params_.emplace_back(o->keyword, o->val);
  }
  PQconninfoFree(parsed);
  for (const auto& [key, value] : overrides) Set(key, value, true);
  for (const auto& [key, value] : defaults) Set(key, value, false);
  Set("connect_timeout", Seconds(timeouts.connect), false);
  Set("keepalives", "1", false);
  Set("keepalives_idle", Seconds(timeouts.keepalives_idle), false);
  Set("keepalives_interval", Seconds(timeouts.keepalives_interval), false);
  Set("keepalives_count", std::to_string(timeouts.keepalives_count), false);
  Set("tcp_user_timeout", std::to_string(timeouts.tcp_user_timeout.count()), false);
  if (timeouts.statement.count() > 0) {
    const std::string options = Get("options").value_or("");
    if (options.find("statement_timeout") == std::string::npos) {
      const std::string setting = "-c statement_timeout=" + std::to_string(timeouts.statement.count());
      Set("options", options.empty() ? setting : options + " " + setting, true);
      response_timeout_ = timeouts.ResponseTimeout();
    }
  }
  for (const auto& [key, value] : params_) {
    key_ptrs_.push_back(key.c_str());
    value_ptrs_.push_back(value.c_str());
  }
  key_ptrs_.push_back(nullptr);
  value_ptrs_.push_back(nullptr);
}

void ConnectParams::Set(const std::string& key, const std::string& value, bool override_dsn) {
  for (auto& [k, v] : params_) {
    if (k != key) continue;
    if (override_dsn) v = value;
    return;
  }
  params_.emplace_back(key, value);
}

std::optional<std::string> ConnectParams::Get(const std::string& key) const {
  for (const auto& [k, v] : params_) {
    if (k == key) return v;
  }
  return std::nullopt;
}

}  // namespace rainbow::pg
