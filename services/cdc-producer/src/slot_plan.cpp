#include "services/cdc-producer/src/slot_plan.hpp"

namespace rainbow::cdc {

SlotPlan PlanSlot(const SlotFacts& f, const std::string& slot) {
  if (f.resnapshot_requested) {
    if (f.slot_exists && f.slot_lost)
      return {SlotAction::kDropSlotAndSnapshot, "re-snapshot requested; the slot had lost its WAL"};
    if (f.slot_exists) return {SlotAction::kSnapshotKeepingSlot, "re-snapshot requested"};
    return {SlotAction::kSnapshotWithNewSlot, "re-snapshot requested; no slot"};
  }
  const std::string way_out =
      "; call rainbow.cdc.v1.CdcStatusService/Resnapshot to take a new snapshot and go on (changes in the "
      "gap are not replayed; the snapshot brings every table to its current state)";
  if (f.slot_exists && f.slot_lost) {
    return {SlotAction::kRefuse,
            "replication slot " + slot +
                " lost WAL it still needed (wal_status lost, see max_slot_wal_keep_size): "
                "changes after its confirmed position are gone" +
                way_out};
  }
  // A record that events were streamed from a slot (or, with no snapshots, that a slot was made).
  const bool had_slot = f.snapshot_done || f.produced || (f.mode == SnapshotMode::kNever && f.state_row);
  if (!f.slot_exists && had_slot) {
    return {SlotAction::kRefuse, "replication slot " + slot +
                                     " is gone although events were streamed from it (dropped outside the "
                                     "service?): changes since its confirmed position are lost" +
                                     way_out};
  }
  switch (f.mode) {
    case SnapshotMode::kNever:
      if (f.slot_exists) return {SlotAction::kStream, "snapshot mode never"};
      return {SlotAction::kCreateSlotAndStream, "snapshot mode never, no slot yet"};
    case SnapshotMode::kAlways:
      if (!f.slot_exists) return {SlotAction::kSnapshotWithNewSlot, "no slot yet"};
      if (f.snapshot_done_in_process) return {SlotAction::kStream, "snapshot taken by this process"};
      return {SlotAction::kSnapshotKeepingSlot, "snapshot mode always"};
    case SnapshotMode::kInitial:
      break;
  }
  if (!f.slot_exists) return {SlotAction::kSnapshotWithNewSlot, "no slot yet"};
  if (f.snapshot_done) return {SlotAction::kStream, "snapshot done"};
  return {SlotAction::kSnapshotKeepingSlot,
          f.state_row ? "the snapshot was interrupted" : "no snapshot recorded for the slot"};
}

const char* SlotActionName(SlotAction action) {
  switch (action) {
    case SlotAction::kStream:
      return "stream";
    case SlotAction::kCreateSlotAndStream:
      return "create the slot and stream";
    case SlotAction::kSnapshotWithNewSlot:
      return "snapshot with a new slot";
    case SlotAction::kSnapshotKeepingSlot:
      return "snapshot keeping the slot";
    case SlotAction::kDropSlotAndSnapshot:
      return "drop the slot and snapshot";
    case SlotAction::kRefuse:
      return "refuse";
  }
  return "?";
}

}  // namespace rainbow::cdc
