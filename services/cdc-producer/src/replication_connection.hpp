#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "common/pg/timeouts.hpp"
#include "services/cdc-producer/src/lsn.hpp"

struct pg_conn;

namespace rainbow::cdc {

// The replication link broke or the server refused a command; the session restarts with backoff.
class ReplicationError : public std::runtime_error {
 public:
  ReplicationError(const std::string& message, std::string sqlstate = {})
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

struct CreatedSlot {
  Lsn consistent_point;
  std::string snapshot_name;  // empty unless exported
};

// One libpq connection in logical replication mode (replication=database). Owned by the stream thread;
// not thread-safe. The CopyData buffer returned by Read stays valid until the next Read or destruction.
class ReplicationConnection {
 public:
  // dsn: any libpq conninfo or URI; replication=database is added. `timeouts` without their statement
  // timeout: the stream is one statement that lasts as long as the connection.
  ReplicationConnection(const std::string& dsn, const pg::Timeouts& timeouts);
  ~ReplicationConnection();
  ReplicationConnection(const ReplicationConnection&) = delete;
  ReplicationConnection& operator=(const ReplicationConnection&) = delete;

  // A plain command on the replication connection (SET, DROP_REPLICATION_SLOT, ...).
  void Command(const std::string& sql);
  // CREATE_REPLICATION_SLOT <slot> LOGICAL pgoutput (SNAPSHOT 'export'|'nothing'). An exported snapshot
  // stays valid until the next command on this connection.
  CreatedSlot CreateSlot(const std::string& slot, bool export_snapshot);
  void StartReplication(const std::string& slot, Lsn start, const std::string& publication);
  // The next CopyData message, or nullopt when none arrived within the timeout.
  std::optional<std::span<const uint8_t>> Read(std::chrono::milliseconds timeout);
  void SendStatus(Lsn written, Lsn flushed, bool reply_requested);
  // Ends the COPY (best effort) so the server records the last status before the link closes.
  void EndCopy();

 private:
  void Flush();
  void FreeBuffer();

  pg_conn* conn_ = nullptr;
  char* buffer_ = nullptr;
};

// Microseconds since 2000-01-01 (the protocol's clock).
int64_t PgNowMicros();

}  // namespace rainbow::cdc
