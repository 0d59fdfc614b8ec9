#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "services/cdc-producer/src/lsn.hpp"

namespace rainbow::cdc {

// The no-loss rule: which WAL position may be confirmed to PostgreSQL. Units of work ("batches": one per
// replicated transaction, or an empty one for a keepalive/heartbeat position) are opened in stream
// order; each produced event adds one pending delivery to its batch; a batch is closed with the LSN a
// restart would resume after (the commit's end LSN). Confirmable() is the LSN of the last batch of the
// longest prefix of closed batches whose every event Kafka acknowledged: a kill at any moment replays at
// most what was not yet acknowledged, never skips it.
//
// Thread-safe: the stream thread opens/closes batches and adds events; the Kafka delivery thread calls
// Delivered. One tracker per replication session (a new session starts from the slot's position).
class AckTracker {
 public:
  using BatchId = uint64_t;

  BatchId Open();
  void AddEvent(BatchId batch);
  // A delivery report: ok=false records the first error and freezes the confirmable position for good.
  void Delivered(BatchId batch, bool ok, const std::string& error = {});
  void Close(BatchId batch, Lsn resume_lsn);
  // A position with nothing to deliver (keepalive, heartbeat) while no batch is open.
  void AddIdlePosition(Lsn lsn);

  // The highest LSN that may be confirmed (invalid if none yet). Drops the batches it covers.
  Lsn Confirmable();
  bool failed() const;
  std::string first_error() const;
  uint64_t pending_events() const;
  size_t open_batches() const;

 private:
  struct Batch {
    BatchId id;
    Lsn resume_lsn;
    uint64_t pending = 0;
    bool closed = false;
  };
  Batch* Find(BatchId id);

  mutable std::mutex mu_;
  std::deque<Batch> batches_;
  BatchId next_id_ = 1;
  Lsn confirmable_;
  uint64_t pending_total_ = 0;
  bool failed_ = false;
  std::string first_error_;
};

}  // namespace rainbow::cdc
