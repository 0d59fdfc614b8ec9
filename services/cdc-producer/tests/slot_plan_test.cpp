// PlanSlot: which facts lead to a snapshot, a stream, or a refusal. The rule under test: a slot is never
// dropped unless asked for, and a gap in the stream is never opened without an operator's request.
#include "services/cdc-producer/src/slot_plan.hpp"

#include <gtest/gtest.h>

namespace rainbow::cdc {
namespace {

SlotFacts Facts(SnapshotMode mode, bool slot_exists, bool state_row, bool snapshot_done,
                bool produced = false) {
  SlotFacts f;
  f.mode = mode;
  f.slot_exists = slot_exists;
  f.state_row = state_row;
  f.snapshot_done = snapshot_done;
  f.produced = produced;
  return f;
}

SlotAction Action(const SlotFacts& f) { return PlanSlot(f, "s").action; }

TEST(SlotPlan, FirstStartSnapshotsWithANewSlot) {
  EXPECT_EQ(Action(Facts(SnapshotMode::kInitial, false, false, false)), SlotAction::kSnapshotWithNewSlot);
  EXPECT_EQ(Action(Facts(SnapshotMode::kAlways, false, false, false)), SlotAction::kSnapshotWithNewSlot);
  EXPECT_EQ(Action(Facts(SnapshotMode::kNever, false, false, false)), SlotAction::kCreateSlotAndStream);
}

TEST(SlotPlan, ASlotWithItsSnapshotDoneStreams) {
  EXPECT_EQ(Action(Facts(SnapshotMode::kInitial, true, true, true)), SlotAction::kStream);
  EXPECT_EQ(Action(Facts(SnapshotMode::kNever, true, true, false)), SlotAction::kStream);
}

TEST(SlotPlan, AnInterruptedOrUnrecordedSnapshotIsRedoneKeepingTheSlot) {
  EXPECT_EQ(Action(Facts(SnapshotMode::kInitial, true, true, false)), SlotAction::kSnapshotKeepingSlot);
  EXPECT_EQ(Action(Facts(SnapshotMode::kInitial, true, false, false)), SlotAction::kSnapshotKeepingSlot);
}

TEST(SlotPlan, SnapshotModeAlwaysKeepsTheSlotAndSnapshotsOncePerProcess) {
  auto f = Facts(SnapshotMode::kAlways, true, true, true, true);
  EXPECT_EQ(Action(f), SlotAction::kSnapshotKeepingSlot);
  f.snapshot_done_in_process = true;
  EXPECT_EQ(Action(f), SlotAction::kStream);
}

TEST(SlotPlan, ASlotGoneAfterStreamingIsRefusedWithTheWayOut) {
  for (auto mode : {SnapshotMode::kInitial, SnapshotMode::kAlways}) {
    const auto plan = PlanSlot(Facts(mode, false, true, true, true), "orders_slot");
    EXPECT_EQ(plan.action, SlotAction::kRefuse);
    EXPECT_NE(plan.reason.find("orders_slot"), std::string::npos) << plan.reason;
    EXPECT_NE(plan.reason.find("Resnapshot"), std::string::npos) << plan.reason;
  }
  EXPECT_EQ(Action(Facts(SnapshotMode::kNever, false, true, false)), SlotAction::kRefuse);
  // Produced but the snapshot flag reset: still a slot that streamed.
  EXPECT_EQ(Action(Facts(SnapshotMode::kInitial, false, true, false, true)), SlotAction::kRefuse);
}

TEST(SlotPlan, ASlotThatLostItsWalIsRefusedUntilARequestDropsIt) {
  auto f = Facts(SnapshotMode::kInitial, true, true, true, true);
  f.slot_lost = true;
  const auto plan = PlanSlot(f, "s");
  EXPECT_EQ(plan.action, SlotAction::kRefuse);
  EXPECT_NE(plan.reason.find("max_slot_wal_keep_size"), std::string::npos) << plan.reason;
  f.resnapshot_requested = true;
  EXPECT_EQ(Action(f), SlotAction::kDropSlotAndSnapshot);
}

TEST(SlotPlan, ARequestedSnapshotNeverDropsAUsableSlot) {
  for (auto mode : {SnapshotMode::kInitial, SnapshotMode::kAlways, SnapshotMode::kNever}) {
    auto f = Facts(mode, true, true, true, true);
    f.resnapshot_requested = true;
    EXPECT_EQ(Action(f), SlotAction::kSnapshotKeepingSlot);
    f.slot_exists = false;
    EXPECT_EQ(Action(f), SlotAction::kSnapshotWithNewSlot);
  }
}

}  // namespace
}  // namespace rainbow::cdc
