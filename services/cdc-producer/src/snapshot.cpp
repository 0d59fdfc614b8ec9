// The initial snapshot, consistent with the slot: CdcEngine::RunSnapshot.
#include "services/cdc-producer/src/cdc_engine.hpp"

#include <algorithm>
#include <thread>

#include "common/kafka/admin.hpp"
#include "common/logging/log.hpp"
#include "common/pg/connection.hpp"
#include "services/cdc-producer/src/catalog_sql.hpp"
#include "services/cdc-producer/src/engine_session.hpp"
#include "services/cdc-producer/src/pgoutput_decoder.hpp"
#include "services/cdc-producer/src/slot_state.hpp"

namespace rainbow::cdc {

bool CdcEngine::RunSnapshot(Session& s, const std::string& snapshot_name, Lsn resume_lsn) {
  // The statement timeout applies: each statement is one FETCH of CDC_SNAPSHOT_FETCH_ROWS rows, not
  // the whole table, so a long snapshot is many short statements.
  pg::Connection snap(config_.pg_dsn, {}, config_.pg_timeouts);
  snap.Exec(kSessionSettings);
  snap.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  // The events' LSN: the slot's consistent point for its exported snapshot; for a snapshot of our own,
  // the WAL position when the transaction's snapshot is taken (its first statement, this one).
  Lsn consistent_point = resume_lsn;
  if (!snapshot_name.empty()) {
    snap.Exec("SET TRANSACTION SNAPSHOT '" + snapshot_name + "'");
  } else {
    auto at = snap.Exec("SELECT pg_current_wal_lsn()::text");
    consistent_point = Lsn::Parse(at.Text(0, 0)).value_or(resume_lsn);
  }
  auto tables = snap.Exec(sql::kPublishedTablesSql, {config_.publication});
  {
    std::lock_guard lock(mu_);
    status_.snapshot_state = "running";
    status_.snapshot_tables_total = static_cast<uint32_t>(tables.rows());
    status_.snapshot_tables_done = 0;
    status_.snapshot_rows = 0;
    ready_ = true;
    status_.last_error.clear();
  }
  log::Info("snapshot started",
            {{"slot", config_.slot}, {"tables", tables.rows()}, {"lsn", consistent_point.ToString()}});
  s.batch = s.tracker->Open();

  // One row is held back, its event not yet built, so that its snapshot marker can say whether it is the
  // last of its table or of the whole snapshot. Debezium's markers (json-schemas): "first" (first row of
  // the snapshot), "first_in_data_collection", "last_in_data_collection", "last" (last row of the
  // snapshot), "true"; the historical `json` format says only "first", "true" and "last".
  struct Held {
    std::shared_ptr<TableInfo> info;
    std::vector<std::optional<std::string>> row;  // owns the text (a Tuple only views it)
    int64_t now_us = 0;
    bool first_in_snapshot = false;
    bool first_in_table = false;
    std::string label;
  };
  const bool debezium_markers = config_.value_format == WireFormat::kJsonSchemas;
  std::optional<Held> held;
  uint64_t rows_total = 0;
  auto release = [&](bool last_in_table, bool last_in_snapshot) {
    if (!held) return;
    ChangeContext ctx;
    ctx.lsn = consistent_point;
    ctx.source_ts_us = held->now_us;
    ctx.now_us = held->now_us;
    if (last_in_snapshot) {
      ctx.snapshot = "last";
    } else if (held->first_in_snapshot) {
      ctx.snapshot = "first";
    } else if (debezium_markers && last_in_table) {
      ctx.snapshot = "last_in_data_collection";
    } else if (debezium_markers && held->first_in_table) {
      ctx.snapshot = "first_in_data_collection";
    } else {
      ctx.snapshot = "true";
    }
    Tuple tuple(held->row.size());
    for (size_t c = 0; c < held->row.size(); ++c) {
      if (held->row[c]) tuple[c] = {TupleValue::Kind::kText, *held->row[c]};
    }
    s.scratch.clear();
    builder_.Insert(*held->info, tuple, 'r', ctx, s.scratch);
    Produce(s, s.scratch.front(), held->label);
    s.scratch.clear();
    held.reset();
  };

  for (int t = 0; t < tables.rows(); ++t) {
    const auto oid = static_cast<uint32_t>(tables.Int(t, 0));
    const std::string schema(tables.Text(t, 1));
    const std::string table(tables.Text(t, 2));
    std::vector<ColumnInfo> columns;
    auto cols = snap.Exec(sql::kColumnsSql, {std::to_string(oid)});
    std::string select;
    for (int c = 0; c < cols.rows(); ++c) {
      columns.push_back({std::string(cols.Text(c, 0)), static_cast<uint32_t>(cols.Int(c, 1)),
                         static_cast<int32_t>(cols.Int(c, 2)), false});
      select += (c ? ", " : "") + QuoteIdent(std::string(cols.Text(c, 0)));
    }
    std::shared_ptr<TableInfo> info = LoadRelation(
        s, oid, schema, table, tables.Text(t, 3).empty() ? 'd' : tables.Text(t, 3)[0], std::move(columns));
    const std::string label = schema + "." + table;
    if (select.empty()) select = "NULL";
    snap.Exec("DECLARE cdc_snapshot NO SCROLL CURSOR FOR SELECT " + select + " FROM " + QuoteIdent(schema) +
              "." + QuoteIdent(table));
    uint64_t table_rows = 0;
    for (;;) {
      if (stop_) return false;
      if (s.tracker->failed())
        throw KafkaSessionError("snapshot delivery failed: " + s.tracker->first_error());
      auto rows = snap.Exec("FETCH " + std::to_string(config_.snapshot_fetch_rows) + " FROM cdc_snapshot");
      if (rows.rows() == 0) break;
      const int64_t now = UnixNowMicros();
      for (int r = 0; r < rows.rows(); ++r) {
        release(false, false);
        std::vector<std::optional<std::string>> row(info->columns.size());
        for (size_t c = 0; c < info->columns.size(); ++c) {
          if (!rows.IsNull(r, static_cast<int>(c))) row[c] = std::string(rows.Text(r, static_cast<int>(c)));
        }
        held = Held{info, std::move(row), now, rows_total == 0, table_rows == 0, label};
        ++rows_total;
        ++table_rows;
        metrics_.snapshot_rows.Increment();
      }
      std::lock_guard lock(mu_);
      status_.snapshot_rows = rows_total;
    }
    snap.Exec("CLOSE cdc_snapshot");
    if (held && t + 1 < tables.rows()) release(true, false);
    log::Info("snapshot table done", {{"table", label}, {"rows", table_rows}});
    std::lock_guard lock(mu_);
    status_.snapshot_tables_done = static_cast<uint32_t>(t + 1);
  }
  release(true, true);
  snap.Exec("COMMIT");
  // A restart resumes after resume_lsn: the slot's confirmed position when the slot is kept, so the
  // changes since then are still streamed after this snapshot.
  s.tracker->Close(s.batch, resume_lsn);
  WaitDelivered(s, config_.kafka_message_timeout + std::chrono::seconds(5));
  if (s.tracker->failed()) throw KafkaSessionError("snapshot delivery failed: " + s.tracker->first_error());
  if (s.tracker->pending_events() > 0) throw KafkaSessionError("snapshot not acknowledged by Kafka in time");
  s.tracker->Confirmable();
  {
    std::lock_guard lock(mu_);
    status_.snapshot_state = "done";
    status_.snapshot_rows = rows_total;
  }
  log::Info("snapshot done",
            {{"slot", config_.slot}, {"rows", rows_total}, {"lsn", consistent_point.ToString()}});
  return true;
}

}  // namespace rainbow::cdc
