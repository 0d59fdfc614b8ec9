#pragma once

#include <string>

#include "services/cdc-producer/src/lsn.hpp"

namespace rainbow::pg {
class Connection;
}

namespace rainbow::cdc {

// The service's own record of its slot, one row per slot in `<CDC_STATE_SCHEMA>.state`: whether the
// snapshot that goes with the slot was completed (else the next start redoes it) and how far events were
// produced (a hint for counting replayed events). Uses the caller's connection, on the caller's thread;
// holds no state of its own besides names.
class SlotStateStore {
 public:
  SlotStateStore(pg::Connection& meta, const std::string& schema, std::string slot);

  struct Row {
    bool exists = false;
    bool snapshot_done = false;
    Lsn produced;  // invalid when never saved
  };

  void EnsureTable();  // creates the schema and the table if missing
  Row Read();
  void SnapshotStarted();  // snapshot_done = false (row created if missing)
  void SnapshotDone(Lsn consistent_point);
  void EnsureRow(bool snapshot_done);  // for a slot that needs no snapshot
  void SaveProduced(Lsn produced);     // asynchronous commit: a hint, not a correctness record

 private:
  std::string Sql(const char* text) const;  // the named SQL with {state} replaced by the table

  pg::Connection& meta_;
  std::string schema_;
  std::string table_;
  std::string slot_;
};

}  // namespace rainbow::cdc
