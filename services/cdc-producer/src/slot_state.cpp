#include "services/cdc-producer/src/slot_state.hpp"

#include "common/pg/connection.hpp"
#include "services/cdc-producer/src/engine_session.hpp"

namespace rainbow::cdc {
namespace {

constexpr const char* kCreateTableSql =
    "CREATE TABLE IF NOT EXISTS {state} (slot_name text PRIMARY KEY, snapshot_done boolean NOT NULL DEFAULT "
    "false, snapshot_lsn pg_lsn, produced_lsn pg_lsn, updated_at timestamptz NOT NULL DEFAULT now())";
constexpr const char* kReadSql = "SELECT snapshot_done, produced_lsn::text FROM {state} WHERE slot_name = $1";
constexpr const char* kSnapshotStartedSql =
    "INSERT INTO {state} (slot_name, snapshot_done) VALUES ($1, false) ON CONFLICT (slot_name) DO UPDATE "
    "SET snapshot_done = false, snapshot_lsn = NULL, updated_at = now()";
constexpr const char* kSnapshotDoneSql =
    "INSERT INTO {state} (slot_name, snapshot_done, snapshot_lsn) VALUES ($1, true, $2::pg_lsn) ON CONFLICT "
    "(slot_name) DO UPDATE SET snapshot_done = true, snapshot_lsn = $2::pg_lsn, updated_at = now()";
constexpr const char* kEnsureRowSql =
    "INSERT INTO {state} (slot_name, snapshot_done) VALUES ($1, $2) ON CONFLICT DO NOTHING";
constexpr const char* kSaveProducedSql =
    "UPDATE {state} SET produced_lsn = $2::pg_lsn, updated_at = now() WHERE slot_name = $1";

}  // namespace

SlotStateStore::SlotStateStore(pg::Connection& meta, const std::string& schema, std::string slot)
    : meta_(meta), schema_(QuoteIdent(schema)), table_(schema_ + ".state"), slot_(std::move(slot)) {}

std::string SlotStateStore::Sql(const char* text) const {
  std::string s(text);
  const auto pos = s.find("{state}");
  if (pos != std::string::npos) s.replace(pos, 7, table_);
  return s;
}

void SlotStateStore::EnsureTable() {
  meta_.Exec("CREATE SCHEMA IF NOT EXISTS " + schema_);
  meta_.Exec(Sql(kCreateTableSql));
}

SlotStateStore::Row SlotStateStore::Read() {
  Row row;
  auto r = meta_.Exec(Sql(kReadSql), {slot_});
  if (r.rows() == 0) return row;
  row.exists = true;
  row.snapshot_done = r.Text(0, 0) == "t";
  if (!r.IsNull(0, 1)) {
    if (auto l = Lsn::Parse(r.Text(0, 1))) row.produced = *l;
  }
  return row;
}

void SlotStateStore::SnapshotStarted() { meta_.Exec(Sql(kSnapshotStartedSql), {slot_}); }

void SlotStateStore::SnapshotDone(Lsn consistent_point) {
  meta_.Exec(Sql(kSnapshotDoneSql), {slot_, consistent_point.ToString()});
}

void SlotStateStore::EnsureRow(bool snapshot_done) {
  meta_.Exec(Sql(kEnsureRowSql), {slot_, snapshot_done ? "true" : "false"});
}

void SlotStateStore::SaveProduced(Lsn produced) {
  // A hint for counting duplicates: no need to wait for its fsync (which would stall the stream thread
  // once per status interval).
  meta_.Exec("BEGIN");
  meta_.Exec("SET LOCAL synchronous_commit = off");
  meta_.Exec(Sql(kSaveProducedSql), {slot_, produced.ToString()});
  meta_.Exec("COMMIT");
}

}  // namespace rainbow::cdc
