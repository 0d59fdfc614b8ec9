#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/error/error.hpp"
#include "common/pg/timeouts.hpp"

struct pg_conn;
struct pg_result;

namespace rainbow::pg {

// A failed statement or connection. kind() (error::Kind) is how a caller should react: kRetryable for a
// lost connection, a serialization failure, a deadlock or a server shutting down; kConflict for an
// integrity violation (class 23); kInvalidArgument for bad data or query (classes 22, 42); else
// kPermanent. ClassifySqlState decides it from the SQLSTATE.
class PgError : public error::Error {
 public:
  PgError(const std::string& message, std::string sqlstate, error::Kind kind, std::string constraint = {},
          std::string column = {})
      : error::Error(message, kind),
        sqlstate_(std::move(sqlstate)),
        constraint_(std::move(constraint)),
        column_(std::move(column)) {}
  const std::string& sqlstate() const { return sqlstate_; }
  // The violated constraint / the column at fault, when the server names them (integrity errors).
  const std::string& constraint() const { return constraint_; }
  const std::string& column() const { return column_; }

 private:
  std::string sqlstate_;
  std::string constraint_;
  std::string column_;
};

error::Kind ClassifySqlState(std::string_view sqlstate);

// The error a failed statement's result carries (SQLSTATE, constraint, column), as Connection throws
// it; for code that runs statements on a raw libpq connection (the non-blocking create loop). `conn`
// supplies the message when `res` is null; both may be null.
PgError ResultError(const pg_result* res, const pg_conn* conn, const std::string& what);

// Owns one PGresult. Values are text-format; accessors throw PgError on type mismatches.
class Result {
 public:
  explicit Result(pg_result* res);
  ~Result();
  Result(Result&& other) noexcept;
  Result& operator=(Result&& other) noexcept;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  int rows() const;
  int columns() const;
  int Column(const char* name) const;  // throws if absent
  bool IsNull(int row, int col) const;
  std::string_view Text(int row, int col) const;
  std::optional<std::string> Optional(int row, int col) const;
  int64_t Int(int row, int col) const;
  // Rows affected by INSERT/UPDATE/DELETE.
  int64_t Affected() const;

 private:
  pg_result* res_;
};

// NULL is nullopt; everything else is sent as text and cast by the server.
using Params = std::vector<std::optional<std::string>>;

// One libpq connection. Not thread-safe: a connection is used by one thread at a time (the pool
// hands it out exclusively). Prepared statements are prepared lazily on first use per connection.
// `timeouts` bound every wait (see Timeouts): a statement whose answer does not come within the
// response timeout throws PgError (kRetryable, SQLSTATE 08006) and leaves the connection broken
// (Healthy() false; its outcome is unknown), so a frozen server fails calls instead of hanging them.
class Connection {
 public:
  // Throws PgError (kRetryable) when the server cannot be reached. `defaults`: connection parameters
  // the DSN may override (such as fallback_application_name).
  explicit Connection(const std::string& dsn, std::map<std::string, std::string> statements = {},
                      const Timeouts& timeouts = {}, const ConnectParams::Pairs& defaults = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Simple query protocol: may hold several statements, no parameters.
  Result Exec(const std::string& sql);
  Result Exec(const std::string& sql, const Params& params);
  // Runs a statement registered under `name` (see the constructor / Pool config).
  Result ExecPrepared(const std::string& name, const Params& params);
  // Prepares `name` now if this connection has not yet (ExecPrepared does it on first use): a caller
  // that must tell a failure before its statement was sent from one after calls this first.
  void Prepare(const std::string& name);

  // COPY ... FROM STDIN: `next` fills a chunk of input (CSV or text format, as the SQL says) and
  // returns false at the end. Returns the number of rows copied. The fast path for bulk loads.
  int64_t CopyFrom(const std::string& copy_sql, const std::function<bool(std::string& chunk)>& next);

  bool Healthy() const;
  bool InTransaction() const;
  pg_conn* raw() { return conn_; }
  // Hands the libpq connection over (the caller PQfinishes it); this object is left without one.
  pg_conn* Release();

 private:
  Result Check(pg_result* res, const std::string& what);
  // Sends with `send` (a PQsend* call) and waits for the answer up to response_timeout_: the last
  // result (the first error, or a COPY start), as PQexec would return it; null when the send failed.
  // Throws PgError when no answer came in time (and marks the connection broken).
  pg_result* Run(const std::function<int()>& send, const std::string& what);
  // Waits until the socket is readable (or writable); false at `deadline`.
  bool WaitSocket(bool for_write, std::chrono::steady_clock::time_point deadline);

  pg_conn* conn_ = nullptr;
  std::optional<std::chrono::milliseconds> response_timeout_;
  bool broken_ = false;  // an answer did not come in time: the connection's state is unknown
  std::map<std::string, std::string> statements_;
  std::set<std::string> prepared_;
};

// BEGIN on construction; ROLLBACK in the destructor unless Commit() ran. Use one per unit of work.
class Transaction {
 public:
  explicit Transaction(Connection& conn, const std::string& begin_sql = "BEGIN");
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void Commit();
  Connection& conn() { return conn_; }

 private:
  Connection& conn_;
  bool done_ = false;
};

}  // namespace rainbow::pg
