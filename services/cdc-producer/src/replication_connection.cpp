#include "services/cdc-producer/src/replication_connection.hpp"

#include <libpq-fe.h>
#include <sys/select.h>

#include <cerrno>
#include <cstring>

#include "services/cdc-producer/src/pgoutput_decoder.hpp"

namespace rainbow::cdc {
namespace {

std::string ConnError(pg_conn* conn) {
  std::string e = conn != nullptr ? PQerrorMessage(conn) : "out of memory";
  while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
  return e;
}

std::string Quote(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

std::string QuoteLiteral(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += '\'';
    q += c;
  }
  return q + "'";
}

}  // namespace

int64_t PgNowMicros() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(now).count() - kPgEpochOffsetUs;
}

ReplicationConnection::ReplicationConnection(const std::string& dsn, const pg::Timeouts& timeouts) {
  // Connect and TCP timeouts, but no statement_timeout: it would end START_REPLICATION's stream (and a
  // CREATE_REPLICATION_SLOT waiting for running transactions).
  std::optional<pg::ConnectParams> params;
  try {
    params.emplace(
        dsn, timeouts.WithoutStatementTimeout(), pg::ConnectParams::Pairs{},
        pg::ConnectParams::Pairs{{"replication", "database"}, {"application_name", "cdc-producer"}});
  } catch (const std::exception& e) {
    throw ReplicationError(std::string("replication connection failed: ") + e.what());
  }
  conn_ = PQconnectdbParams(params->keys(), params->values(), 0);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    const std::string err = ConnError(conn_);
    PQfinish(conn_);
    conn_ = nullptr;
    throw ReplicationError("replication connection failed: " + err);
  }
  // Values are decoded by the walsender with this session's settings: make the text forms fixed.
  Command("SET TimeZone = 'UTC'");
  Command("SET DateStyle = 'ISO, YMD'");
  Command("SET IntervalStyle = 'postgres'");
  Command("SET extra_float_digits = 3");
  Command("SET bytea_output = 'hex'");
}

ReplicationConnection::~ReplicationConnection() {
  FreeBuffer();
  if (conn_ != nullptr) PQfinish(conn_);
}

void ReplicationConnection::FreeBuffer() {
  if (buffer_ != nullptr) {
    PQfreemem(buffer_);
    buffer_ = nullptr;
  }
}

void ReplicationConnection::Command(const std::string& sql) {
  PGresult* res = PQexec(conn_, sql.c_str());
  const auto status = PQresultStatus(res);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    std::string err = ConnError(conn_);
    std::string sqlstate = state != nullptr ? state : "";
    PQclear(res);
    throw ReplicationError("replication command '" + sql + "' failed: " + err, sqlstate);
  }
  PQclear(res);
}

CreatedSlot ReplicationConnection::CreateSlot(const std::string& slot, bool export_snapshot) {
  const std::string sql = "CREATE_REPLICATION_SLOT " + Quote(slot) + " LOGICAL pgoutput " +
                          (export_snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
  PGresult* res = PQexec(conn_, sql.c_str());
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    std::string err = ConnError(conn_);
    std::string sqlstate = state != nullptr ? state : "";
    PQclear(res);
    throw ReplicationError("CREATE_REPLICATION_SLOT " + slot + " failed: " + err, sqlstate);
  }
  CreatedSlot out;
  // Columns: slot_name, consistent_point, snapshot_name, output_plugin.
  const auto lsn = Lsn::Parse(PQgetvalue(res, 0, 1));
  if (!PQgetisnull(res, 0, 2)) out.snapshot_name = PQgetvalue(res, 0, 2);
  PQclear(res);
  if (!lsn) throw ReplicationError("CREATE_REPLICATION_SLOT returned an unreadable consistent point");
  out.consistent_point = *lsn;
  return out;
}

void ReplicationConnection::StartReplication(const std::string& slot, Lsn start,
                                             const std::string& publication) {
  // messages 'true': our heartbeats (pg_logical_emit_message) reach us and advance the slot.
  const std::string sql = "START_REPLICATION SLOT " + Quote(slot) + " LOGICAL " + start.ToString() +
                          " (proto_version '1', publication_names " + QuoteLiteral(Quote(publication)) +
                          ", messages 'true')";
  PGresult* res = PQexec(conn_, sql.c_str());
  if (PQresultStatus(res) != PGRES_COPY_BOTH) {
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    std::string err = ConnError(conn_);
    std::string sqlstate = state != nullptr ? state : "";
    PQclear(res);
    throw ReplicationError("START_REPLICATION failed: " + err, sqlstate);
  }
  PQclear(res);
}

std::optional<std::span<const uint8_t>> ReplicationConnection::Read(std::chrono::milliseconds timeout) {
  FreeBuffer();
  for (int round = 0; round < 2; ++round) {
    const int n = PQgetCopyData(conn_, &buffer_, 1);
    if (n > 0)
      return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buffer_), static_cast<size_t>(n));
    if (n == -2) throw ReplicationError("replication stream read failed: " + ConnError(conn_));
    if (n == -1) {
      // COPY ended by the server: collect its final result for the reason.
      PGresult* res = PQgetResult(conn_);
      std::string err = res != nullptr ? PQresultErrorMessage(res) : "";
      if (res != nullptr) PQclear(res);
      while (!err.empty() && err.back() == '\n') err.pop_back();
      throw ReplicationError("replication stream ended by the server" + (err.empty() ? "" : ": " + err));
    }
    if (round == 1) break;
    // Nothing buffered: wait for the socket.
    const int sock = PQsocket(conn_);
    if (sock < 0) throw ReplicationError("replication connection has no socket");
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(sock, &fds);
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    const int r = select(sock + 1, &fds, nullptr, nullptr, &tv);
    if (r < 0) {
      if (errno == EINTR) return std::nullopt;
      throw ReplicationError(std::string("select failed: ") + std::strerror(errno));
    }
    if (r == 0) return std::nullopt;
    if (PQconsumeInput(conn_) == 0)
      throw ReplicationError("replication stream read failed: " + ConnError(conn_));
  }
  return std::nullopt;
}

void ReplicationConnection::SendStatus(Lsn written, Lsn flushed, bool reply_requested) {
  const std::string msg = EncodeStandbyStatus(written, flushed, flushed, PgNowMicros(), reply_requested);
  if (PQputCopyData(conn_, msg.data(), static_cast<int>(msg.size())) <= 0) {
    throw ReplicationError("sending standby status failed: " + ConnError(conn_));
  }
  Flush();
}

void ReplicationConnection::Flush() {
  if (PQflush(conn_) < 0)
    throw ReplicationError("flushing the replication connection failed: " + ConnError(conn_));
}

void ReplicationConnection::EndCopy() {
  FreeBuffer();
  if (conn_ == nullptr) return;
  if (PQputCopyEnd(conn_, nullptr) > 0) PQflush(conn_);
}

}  // namespace rainbow::cdc
