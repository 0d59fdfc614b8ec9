#pragma once

// Internal to the engine's files (cdc_engine.cpp, publication.cpp, snapshot.cpp, stream.cpp): the state
// of one replication session and the helpers they share. Not used outside CdcEngine.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/pg/connection.hpp"
#include "services/cdc-producer/src/ack_tracker.hpp"
#include "services/cdc-producer/src/cdc_engine.hpp"
#include "services/cdc-producer/src/event_builder.hpp"
#include "services/cdc-producer/src/replication_connection.hpp"

namespace rainbow::cdc {

using Clock = std::chrono::steady_clock;

// Kafka did not acknowledge an event: the session restarts from the last confirmed position.
class KafkaSessionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The slot cannot be streamed from without a gap (PlanSlot's kRefuse): not ready with the reason until an
// operator calls Resnapshot.
class SlotRefusedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr const char* kHeartbeatPrefix = "rainbow_cdc_heartbeat";

// Session settings that fix the text form of values (the decoders in value_format.cpp expect them).
inline constexpr const char* kSessionSettings =
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
    "SET extra_float_digits = 3; SET bytea_output = 'hex'";

inline std::string QuoteIdent(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

// "schema.table" (validated at config load) -> "schema"."table".
inline std::string QualifiedName(const std::string& dotted) {
  const auto dot = dotted.find('.');
  return QuoteIdent(dotted.substr(0, dot)) + "." + QuoteIdent(dotted.substr(dot + 1));
}

inline int64_t UnixNowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string OpLabel(char op) { return op == 0 ? "tombstone" : std::string(1, op); }

// One replication session (connections, relations, the transaction being received); lives on the engine's
// thread for the duration of RunSession.
struct CdcEngine::Session {
  std::unique_ptr<pg::Connection> meta;
  std::unique_ptr<ReplicationConnection> repl;
  std::shared_ptr<AckTracker> tracker = std::make_shared<AckTracker>();
  std::unordered_map<uint32_t, std::shared_ptr<TableInfo>> relations;
  std::string database;

  // The transaction being received.
  bool in_txn = false;
  AckTracker::BatchId batch = 0;
  uint32_t xid = 0;
  int64_t commit_time_us = 0;  // Unix microseconds
  bool replaying = false;
  Lsn final_lsn;  // of its commit record (from Begin)
  Lsn last_commit_lsn;

  Lsn received;
  Lsn confirmed_sent;
  Clock::time_point last_status = Clock::now();
  Clock::time_point last_heartbeat = Clock::now();
  Clock::time_point last_rate = Clock::now();
  uint64_t events_at_last_rate = 0;
  Lsn persisted_high;
  std::vector<ChangeRecord> scratch;
};

}  // namespace rainbow::cdc
