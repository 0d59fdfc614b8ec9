#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/kafka/producer.hpp"
#include "services/cdc-producer/src/ack_tracker.hpp"
#include "services/cdc-producer/src/config.hpp"
#include "services/cdc-producer/src/event_builder.hpp"
#include "services/cdc-producer/src/lsn.hpp"
#include "services/cdc-producer/src/metrics.hpp"

namespace rainbow::pg {
class Connection;
}

namespace rainbow::cdc {

class ReplicationConnection;

// What GetStatus reports; a copy taken under the engine's lock.
struct StatusSnapshot {
  std::string slot;
  std::string publication;
  Lsn confirmed_lsn;
  Lsn received_lsn;
  uint64_t lag_bytes = 0;
  double events_per_second = 0;
  uint64_t events_total = 0;
  uint64_t replayed_events = 0;
  std::string last_error;
  std::string snapshot_state = "not_started";  // not_started | running | done | skipped
  uint32_t snapshot_tables_total = 0;
  uint32_t snapshot_tables_done = 0;
  uint64_t snapshot_rows = 0;
  bool streaming = false;
};

// Exit codes of Run.
inline constexpr int kExitOk = 0;
inline constexpr int kExitProtocolError = 3;

// The replication pipeline: publication + slot set-up, snapshot, streaming into Kafka with the no-loss
// confirmation rule (AckTracker), heartbeats, lag, reconnects with backoff. Run() is called once, on a
// thread of its own; Status()/NotReadyReason() from any thread; RequestStop() from the signal thread.
class CdcEngine {
 public:
  CdcEngine(CdcConfig config, std::string version, CdcMetrics& metrics);
  ~CdcEngine();

  // Runs sessions until RequestStop (returns kExitOk after flushing and confirming) or a malformed
  // stream (returns kExitProtocolError after confirming what was delivered before it).
  int Run();
  void RequestStop() { stop_ = true; }
  bool stopping() const { return stop_; }
  // The next session takes a new snapshot (the streaming session ends after draining what it sent). The
  // slot is kept when it is usable; one that lost its WAL is dropped and made again: the operator's way
  // out of a refusal. From any thread.
  void RequestResnapshot() { resnapshot_requested_ = true; }

  StatusSnapshot Status() const;
  // Empty when ready (a session is snapshotting or streaming), else the reason.
  std::string NotReadyReason() const;

 private:
  struct Session;
  // Why a session returned (errors are exceptions, classified in Run).
  enum class SessionEnd { kStopped, kStoppedInSnapshot, kResnapshot };
  SessionEnd RunSession();
  void PrepareCatalog(pg::Connection& meta);
  // False when a stop was requested before the snapshot completed. snapshot_name: the slot's exported
  // snapshot, or empty for one of its own; resume_lsn: where a restart resumes once it is delivered.
  bool RunSnapshot(Session& s, const std::string& snapshot_name, Lsn resume_lsn);
  SessionEnd Stream(Session& s);
  void HandleXLogData(Session& s, Lsn wal_start, std::span<const uint8_t> payload);
  std::shared_ptr<TableInfo> LoadRelation(Session& s, uint32_t oid, const std::string& schema,
                                          const std::string& table, char identity,
                                          std::vector<ColumnInfo> columns);
  void Produce(Session& s, ChangeRecord& record, const std::string& table_label);
  void WaitDelivered(Session& s, std::chrono::milliseconds timeout);
  void SendStatus(Session& s, bool reply);
  void Periodic(Session& s, bool force);
  void EnsureTopicOnce(const std::string& topic);
  void SetError(const std::string& error);
  kafka::Producer& producer();

  CdcConfig config_;
  std::string version_;
  CdcMetrics& metrics_;
  EventBuilder builder_;
  std::string server_name_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> resnapshot_requested_{false};
  bool snapshot_done_in_process_ = false;
  int64_t messages_received_ = 0;  // pgoutput messages of this process (for the fault hook)
  Lsn replay_high_;                // highest commit LSN already produced (in this process or persisted)
  std::unique_ptr<kafka::Producer> producer_;
  std::set<std::string> topics_ready_;

  mutable std::mutex mu_;
  StatusSnapshot status_;
  bool ready_ = false;
  Lsn blocked_at_;  // the oversized event (policy fail) sessions stop at, until confirmed past it
};

}  // namespace rainbow::cdc
