#pragma once

#include <string>

#include "services/cdc-producer/src/config.hpp"

namespace rainbow::cdc {

// What a replication session does with its slot before streaming. The rule behind every choice: the
// slot is the only record of changes not yet delivered, so it is never dropped unless an operator asks
// for it (the Resnapshot RPC) after the service refused to go on.
enum class SlotAction {
  kStream,               // the slot exists and its snapshot is done: stream from its confirmed position
  kCreateSlotAndStream,  // CDC_SNAPSHOT_MODE=never, first start: a new slot, no snapshot
  kSnapshotWithNewSlot,  // first start: a new slot exporting its snapshot, then stream from its start
  kSnapshotKeepingSlot,  // a snapshot of its own, then stream from the slot's confirmed position:
                         // every change since then still arrives (at least once), none is skipped
  kDropSlotAndSnapshot,  // requested: the slot lost its WAL, so a new one (and a new snapshot) it is
  kRefuse,               // a gap that only an operator may accept: not ready, with the reason
};

// The facts a session reads at its start.
struct SlotFacts {
  SnapshotMode mode = SnapshotMode::kInitial;
  bool slot_exists = false;
  bool slot_lost = false;      // pg_replication_slots.wal_status = 'lost': WAL it needed was removed
  bool state_row = false;      // the state table has a row for the slot
  bool snapshot_done = false;  // ... recording a completed snapshot
  bool produced = false;       // ... recording events streamed from the slot
  bool snapshot_done_in_process = false;
  bool resnapshot_requested = false;
};

struct SlotPlan {
  SlotAction action = SlotAction::kRefuse;
  std::string reason;  // why (logged; for kRefuse the not-ready reason, naming the way out)
};

SlotPlan PlanSlot(const SlotFacts& facts, const std::string& slot);
const char* SlotActionName(SlotAction action);  // for logs: "stream", "snapshot keeping the slot", ...

}  // namespace rainbow::cdc
