#include "common/pg/connection.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>

#include "common/logging/log.hpp"

namespace rainbow::pg {

error::Kind ClassifySqlState(std::string_view s) {
  if (s.empty()) return error::Kind::kRetryable;  // no SQLSTATE: the connection itself failed
  if (s == "40001" || s == "40P01" || s == "55P03" || s == "57P01" || s == "57P02" || s == "57P03" ||
      s.substr(0, 2) == "08" || s == "53300") {
    return error::Kind::kRetryable;
  }
  if (s.substr(0, 2) == "23") return error::Kind::kConflict;
  if (s.substr(0, 2) == "22" || s.substr(0, 2) == "42") return error::Kind::kInvalidArgument;
  return error::Kind::kPermanent;
}

Result::Result(pg_result* res) : res_(res) {}
Result::~Result() {
  if (res_ != nullptr) PQclear(res_);
}
Result::Result(Result&& other) noexcept : res_(other.res_) { other.res_ = nullptr; }
Result& Result::operator=(Result&& other) noexcept {
  if (this != &other) {
    if (res_ != nullptr) PQclear(res_);
    res_ = other.res_;
    other.res_ = nullptr;
  }
  return *this;
}

int Result::rows() const { return PQntuples(res_); }
int Result::columns() const { return PQnfields(res_); }

int Result::Column(const char* name) const {
  const int c = PQfnumber(res_, name);
  if (c < 0)
    throw PgError(std::string("pg: result has no column ") + name, "", error::Kind::kInvalidArgument);
  return c;
}

bool Result::IsNull(int row, int col) const { return PQgetisnull(res_, row, col) == 1; }

std::string_view Result::Text(int row, int col) const {
  return {PQgetvalue(res_, row, col), static_cast<size_t>(PQgetlength(res_, row, col))};
}

std::optional<std::string> Result::Optional(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return std::string(Text(row, col));
}

int64_t Result::Int(int row, int col) const {
  const auto text = Text(row, col);
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (IsNull(row, col) || ec != std::errc() || ptr != text.data() + text.size()) {
    throw PgError("pg: value '" + std::string(text) + "' is not an integer", "",
                  error::Kind::kInvalidArgument);
  }
  return value;
}

int64_t Result::Affected() const {
  const char* n = PQcmdTuples(res_);
  return (n == nullptr || *n == '\0') ? 0 : std::stoll(n);
}

namespace {
// Server NOTICEs ("schema already exists, skipping") go to the debug log instead of raw stderr.
void LogNotice(void*, const char* message) {
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && text.back() == '\n') text.pop_back();
  log::Debug("postgres notice", {{"notice", text}});
}
}  // namespace

Connection::Connection(const std::string& dsn, std::map<std::string, std::string> statements,
                       const Timeouts& timeouts, const ConnectParams::Pairs& defaults)
    : statements_(std::move(statements)) {
  const ConnectParams params(dsn, timeouts, defaults);
  response_timeout_ = params.response_timeout();
  conn_ = PQconnectdbParams(params.keys(), params.values(), 0);
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string err = PQerrorMessage(conn_);
    while (!err.empty() && err.back() == '\n') err.pop_back();
    PQfinish(conn_);
    conn_ = nullptr;
    throw PgError("pg: cannot connect: " + err, "08006", error::Kind::kRetryable);
  }
  PQsetNoticeProcessor(conn_, LogNotice, nullptr);
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

pg_conn* Connection::Release() {
  pg_conn* released = conn_;
  conn_ = nullptr;
  broken_ = true;
  return released;
}

PgError ResultError(const pg_result* res, const pg_conn* conn, const std::string& what) {
  std::string sqlstate;
  std::string message;
  std::string constraint;
  std::string column;
  if (res != nullptr) {
    if (const char* c = PQresultErrorField(res, PG_DIAG_SQLSTATE)) sqlstate = c;
    if (const char* c = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME)) constraint = c;
    if (const char* c = PQresultErrorField(res, PG_DIAG_COLUMN_NAME)) column = c;
    message = PQresultErrorMessage(res);
  } else if (conn != nullptr) {
    message = PQerrorMessage(conn);
  }
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if ((conn == nullptr || PQstatus(conn) != CONNECTION_OK) && sqlstate.empty()) sqlstate = "08006";
  return PgError("pg: " + what + ": " + message, sqlstate, ClassifySqlState(sqlstate), constraint, column);
}

Result Connection::Check(pg_result* res, const std::string& what) {
  const auto status = res == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(res);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
    return Result(res);
  }
  const Result owned(res);  // freed after the error is read from it
  throw ResultError(res, conn_, what);
}

bool Connection::WaitSocket(bool for_write, std::chrono::steady_clock::time_point deadline) {
  pollfd p{PQsocket(conn_), static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
  for (;;) {
    int wait_ms = -1;
    if (deadline != std::chrono::steady_clock::time_point::max()) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      wait_ms = static_cast<int>(std::min<int64_t>(left.count(), 60'000));
    }
    const int n = ::poll(&p, 1, wait_ms);
    if (n > 0) return true;  // readable, writable or failed: libpq tells which
    if (n < 0 && errno != EINTR) return true;
  }
}

pg_result* Connection::Run(const std::function<int()>& send, const std::string& what) {
  if (broken_) {
    throw PgError("pg: " + what + ": connection abandoned after a statement got no answer", "08006",
                  error::Kind::kRetryable);
  }
  if (!send()) return nullptr;
  const auto deadline = response_timeout_ ? std::chrono::steady_clock::now() + *response_timeout_
                                          : std::chrono::steady_clock::time_point::max();
  const auto give_up = [&] {
    // The server may still run the statement later: nothing more is read from this connection. The
    // shutdown makes its backend see the connection end as soon as it runs again.
    broken_ = true;
    ::shutdown(PQsocket(conn_), SHUT_RDWR);
    throw PgError("pg: " + what + ": no answer from the server within " +
                      std::to_string(response_timeout_->count()) +
                      " ms (statement timeout + connect timeout)",
                  "08006", error::Kind::kRetryable);
  };
  // Blocking mode: the PQsend* call wrote the whole message (a frozen server's kernel still takes it).
  pg_result* kept = nullptr;
  for (;;) {
    while (PQisBusy(conn_)) {
      if (!WaitSocket(false, deadline)) {
        if (kept != nullptr) PQclear(kept);
        give_up();
      }
      if (!PQconsumeInput(conn_)) break;  // PQgetResult reports the failure
    }
    pg_result* r = PQgetResult(conn_);
    if (r == nullptr) return kept;
    const auto status = PQresultStatus(r);
    if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
      if (kept != nullptr) PQclear(kept);
      return r;  // the caller streams the copy now
    }
    // Like PQexec: the first error is the answer; the results after it are read and dropped.
    if (kept != nullptr && PQresultStatus(kept) == PGRES_FATAL_ERROR) {
      PQclear(r);
      continue;
    }
    if (kept != nullptr) PQclear(kept);
    kept = r;
  }
}

Result Connection::Exec(const std::string& sql) {
  return Check(Run([&] { return PQsendQuery(conn_, sql.c_str()); }, "query"), "query");
}

namespace {
struct ParamArrays {
  std::vector<const char*> values;
  std::vector<int> lengths;
  explicit ParamArrays(const Params& params) {
    for (const auto& p : params) {
      values.push_back(p ? p->c_str() : nullptr);
      lengths.push_back(p ? static_cast<int>(p->size()) : 0);
    }
  }
};
}  // namespace

Result Connection::Exec(const std::string& sql, const Params& params) {
  ParamArrays a(params);
  return Check(Run(
                   [&] {
                     return PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                                              a.values.data(), a.lengths.data(), nullptr, 0);
                   },
                   "query"),
               "query");
}

void Connection::Prepare(const std::string& name) {
  if (prepared_.count(name)) return;
  auto it = statements_.find(name);
  if (it == statements_.end()) {
    throw PgError("pg: no prepared statement named " + name, "26000", error::Kind::kInvalidArgument);
  }
  Check(Run([&] { return PQsendPrepare(conn_, name.c_str(), it->second.c_str(), 0, nullptr); },
            "prepare " + name),
        "prepare " + name);
  prepared_.insert(name);
}

Result Connection::ExecPrepared(const std::string& name, const Params& params) {
  Prepare(name);
  ParamArrays a(params);
  return Check(Run(
                   [&] {
                     return PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(params.size()),
                                                a.values.data(), a.lengths.data(), nullptr, 0);
                   },
                   name),
               name);
}

int64_t Connection::CopyFrom(const std::string& copy_sql, const std::function<bool(std::string&)>& next) {
  pg_result* start = Run([&] { return PQsendQuery(conn_, copy_sql.c_str()); }, "copy");
  if (start == nullptr || PQresultStatus(start) != PGRES_COPY_IN) {
    Check(start, "copy");  // throws with the server's message
    throw PgError("pg: copy: server did not enter COPY IN mode", "", error::Kind::kInvalidArgument);
  }
  PQclear(start);
  std::string chunk;
  std::string failure;
  try {
    while (next(chunk)) {
      if (!chunk.empty() && PQputCopyData(conn_, chunk.data(), static_cast<int>(chunk.size())) != 1) {
        failure = PQerrorMessage(conn_);
        break;
      }
      chunk.clear();
    }
  } catch (const std::exception& e) {
    failure = std::string("input failed: ") + e.what();
  }
  // Ending with an error message makes the server abort the COPY (nothing of it is kept).
  PQputCopyEnd(conn_, failure.empty() ? nullptr : failure.c_str());
  bool failed = false;
  std::string error;
  int64_t rows = 0;
  // The copy's outcome, waited for like any answer (nothing more to send).
  if (pg_result* r = Run([] { return 1; }, "copy")) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      failed = true;
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      error =
          std::string(PQresultErrorMessage(r)) + (state != nullptr ? std::string(" [") + state + "]" : "");
    } else {
      const char* n = PQcmdTuples(r);
      if (n != nullptr && *n != '\0') rows = std::stoll(n);
    }
    PQclear(r);
  } else {
    failed = true;
    error = PQerrorMessage(conn_);
  }
  if (failed || !failure.empty()) {
    while (!error.empty() && error.back() == '\n') error.pop_back();
    throw PgError("pg: copy failed: " + (error.empty() ? failure : error), "", error::Kind::kInvalidArgument);
  }
  return rows;
}

bool Connection::Healthy() const { return conn_ != nullptr && !broken_ && PQstatus(conn_) == CONNECTION_OK; }

bool Connection::InTransaction() const { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }

Transaction::Transaction(Connection& conn, const std::string& begin_sql) : conn_(conn) {
  conn_.Exec(begin_sql);
}

Transaction::~Transaction() {
  if (done_) return;
  try {
    if (conn_.Healthy()) conn_.Exec("ROLLBACK");
  } catch (...) {
    // The connection is unusable; the pool discards it when the lease ends.
  }
}

void Transaction::Commit() {
  done_ = true;
  conn_.Exec("COMMIT");
}

}  // namespace rainbow::pg
