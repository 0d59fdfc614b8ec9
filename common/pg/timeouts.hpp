#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/config/env.hpp"

namespace rainbow::pg {

// How long a connection may wait on PostgreSQL, so a database that stops answering (a frozen server, a
// host gone silent) fails calls instead of holding their threads. Every connection common/pg opens
// gets these as libpq parameters unless its DSN names them itself. Plain values, copied freely.
struct Timeouts {
  // libpq's connect_timeout, in whole seconds (rounded up; libpq waits at least 2 s).
  std::chrono::milliseconds connect{5'000};
  // The session's statement_timeout (the server cancels a longer statement); 0: none. The client also
  // gives up waiting for an answer after statement + connect (ResponseTimeout): a frozen server cannot
  // even cancel, while the kernel keeps acknowledging its TCP traffic.
  std::chrono::milliseconds statement{30'000};
  // TCP keepalives (whole seconds) and TCP_USER_TIMEOUT: a peer that vanished is noticed by the kernel.
  std::chrono::milliseconds keepalives_idle{30'000};
  std::chrono::milliseconds keepalives_interval{10'000};
  int keepalives_count = 3;
  std::chrono::milliseconds tcp_user_timeout{30'000};

  // How long the client waits for a statement's answer before it closes the connection; nullopt
  // (wait as long as it takes) when no statement timeout applies.
  std::optional<std::chrono::milliseconds> ResponseTimeout() const;
  // The same without a statement timeout: for a connection whose statements may legitimately run for
  // long (replication streaming, bulk copies, backfills). Connect and TCP timeouts still apply.
  Timeouts WithoutStatementTimeout() const;
};

// Reads PG_CONNECT_TIMEOUT, PG_STATEMENT_TIMEOUT, PG_KEEPALIVES_IDLE, PG_KEEPALIVES_INTERVAL,
// PG_KEEPALIVES_COUNT and PG_TCP_USER_TIMEOUT (shared by every service that uses PostgreSQL); a bad
// value throws config::ConfigError naming the var.
Timeouts TimeoutsFromEnv(config::Env& env);

// libpq keyword/value arrays for PQconnectdbParams (expand_dbname = 0): the DSN's own settings (key=value
// or URI form, parsed by libpq, so no string surgery), `overrides` over them, then `defaults` and the
// timeouts where the DSN does not name them; statement_timeout goes into `options`
// (-c statement_timeout=...) unless the DSN's options set one. Throws PgError (kInvalidArgument) when
// libpq cannot parse the DSN.
class ConnectParams {
 public:
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  ConnectParams(const std::string& dsn, const Timeouts& timeouts, const Pairs& defaults = {},
                const Pairs& overrides = {});
  const char* const* keys() const { return key_ptrs_.data(); }
  const char* const* values() const { return value_ptrs_.data(); }
  // The value given for `key`, or nullopt (for tests and logs).
  std::optional<std::string> Get(const std::string& key) const;
  // The client-side wait for an answer: Timeouts::ResponseTimeout, or nullopt when the DSN chose its
  // own statement_timeout (its value is the server's to interpret).
  std::optional<std::chrono::milliseconds> response_timeout() const { return response_timeout_; }

 private:
  void Set(const std::string& key, const std::string& value, bool override_dsn);

  std::vector<std::pair<std::string, std::string>> params_;
  std::vector<const char*> key_ptrs_;
  std::vector<const char*> value_ptrs_;
  std::optional<std::chrono::milliseconds> response_timeout_;
};

}  // namespace rainbow::pg
