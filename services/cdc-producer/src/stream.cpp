// Streaming from the slot: CdcEngine::Stream and the pgoutput message handling.
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

CdcEngine::SessionEnd CdcEngine::Stream(Session& s) {
  try {
    while (!stop_ && !resnapshot_requested_) {
      if (s.tracker->failed()) throw KafkaSessionError(s.tracker->first_error());
      auto data = s.repl->Read(std::chrono::milliseconds(100));
      if (data) {
        const auto msg = DecodeCopyData(*data);
        if (const auto* x = std::get_if<XLogData>(&msg)) {
          if (x->wal_end > s.received) s.received = x->wal_end;
          ++messages_received_;
          if (config_.fault_corrupt_message > 0 && messages_received_ == config_.fault_corrupt_message) {
            log::Warn("fault hook: corrupting a replication message", {{"message", messages_received_}});
            HandleXLogData(s, x->wal_start, x->payload.first(x->payload.size() - 1));
          } else {
            HandleXLogData(s, x->wal_start, x->payload);
          }
        } else {
          const auto& k = std::get<Keepalive>(msg);
          if (k.wal_end > s.received) s.received = k.wal_end;
          if (!s.in_txn) s.tracker->AddIdlePosition(k.wal_end);
          if (k.reply_requested) SendStatus(s, false);
        }
      }
      Periodic(s, false);
    }
  } catch (const DecodeError&) {
    // Confirm what Kafka acknowledged before the bad bytes, never past them; then stop.
    WaitDelivered(s, config_.shutdown_timeout);
    SendStatus(s, false);
    s.repl->EndCopy();
    throw;
  } catch (const EventError&) {
    WaitDelivered(s, config_.shutdown_timeout);
    SendStatus(s, false);
    s.repl->EndCopy();
    throw;
  }
  // Graceful stop: wait for Kafka's acks, confirm them, end the stream.
  log::Info("draining", {{"in_flight", s.tracker->pending_events()}});
  if (producer_) producer_->Flush(config_.shutdown_timeout);
  WaitDelivered(s, config_.shutdown_timeout);
  SendStatus(s, false);
  s.repl->EndCopy();
  log::Info(stop_ ? "confirmed at shutdown" : "confirmed before the requested re-snapshot",
            {{"lsn", s.confirmed_sent.ToString()}, {"slot", config_.slot}});
  return stop_ ? SessionEnd::kStopped : SessionEnd::kResnapshot;
}

void CdcEngine::HandleXLogData(Session& s, Lsn wal_start, std::span<const uint8_t> payload) {
  const auto msg = DecodePgOutput(payload);
  auto context = [&]() {
    ChangeContext ctx;
    ctx.lsn = wal_start;
    ctx.last_commit_lsn = s.last_commit_lsn;
    ctx.xid = s.xid;
    ctx.source_ts_us = s.commit_time_us;
    ctx.snapshot = "false";
    ctx.now_us = UnixNowMicros();
    return ctx;
  };
  auto relation = [&](uint32_t oid) -> const TableInfo& {
    if (!s.in_txn) throw EventError("change outside a transaction for relation " + std::to_string(oid));
    auto it = s.relations.find(oid);
    if (it == s.relations.end())
      throw EventError("change for relation " + std::to_string(oid) + " before its Relation message");
    return *it->second;
  };
  s.scratch.clear();
  auto emit = [&](const TableInfo& t) {
    const std::string label = t.schema + "." + t.table;
    if (s.replaying) {
      metrics_.replayed_events.Increment(static_cast<double>(s.scratch.size()));
      std::lock_guard lock(mu_);
      status_.replayed_events += s.scratch.size();
    }
    for (auto& r : s.scratch) Produce(s, r, label);
    s.scratch.clear();
  };

  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, BeginMessage>) {
          if (s.in_txn) throw EventError("Begin inside a transaction");
          s.in_txn = true;
          s.batch = s.tracker->Open();
          s.xid = m.xid;
          s.commit_time_us = m.commit_time_us + kPgEpochOffsetUs;
          s.replaying = m.final_lsn <= replay_high_;
          s.final_lsn = m.final_lsn;
        } else if constexpr (std::is_same_v<T, CommitMessage>) {
          if (!s.in_txn) throw EventError("Commit outside a transaction");
          s.tracker->Close(s.batch, m.end_lsn);
          s.in_txn = false;
          // source.sequence[0], as Debezium: the stream position of the last Commit (its end LSN).
          s.last_commit_lsn = wal_start;
          if (m.commit_lsn > replay_high_) replay_high_ = m.commit_lsn;
        } else if constexpr (std::is_same_v<T, RelationMessage>) {
          std::vector<ColumnInfo> cols;
          cols.reserve(m.columns.size());
          for (const auto& c : m.columns)
            cols.push_back({std::string(c.name), c.type_oid, c.type_modifier, c.key});
          s.relations[m.oid] = LoadRelation(s, m.oid, std::string(m.schema), std::string(m.table),
                                            m.replica_identity, std::move(cols));
          log::Debug("relation", {{"oid", m.oid},
                                  {"table", std::string(m.schema) + "." + std::string(m.table)},
                                  {"columns", m.columns.size()}});
        } else if constexpr (std::is_same_v<T, InsertMessage>) {
          const auto& t = relation(m.relation_oid);
          builder_.Insert(t, m.new_tuple, 'c', context(), s.scratch);
          emit(t);
        } else if constexpr (std::is_same_v<T, UpdateMessage>) {
          const auto& t = relation(m.relation_oid);
          builder_.Update(t, m.old_kind, m.old_kind ? &m.old_tuple : nullptr, m.new_tuple, context(),
                          s.scratch);
          emit(t);
        } else if constexpr (std::is_same_v<T, DeleteMessage>) {
          const auto& t = relation(m.relation_oid);
          builder_.Delete(t, m.old_kind, m.old_tuple, context(), s.scratch);
          emit(t);
        } else if constexpr (std::is_same_v<T, TruncateMessage>) {
          if (!config_.truncate_events) return;
          for (uint32_t oid : m.relation_oids) {
            const auto& t = relation(oid);
            builder_.Truncate(t, context(), s.scratch);
            emit(t);
          }
        } else if constexpr (std::is_same_v<T, LogicalMessage>) {
          // Our heartbeat (non-transactional): a position with nothing to deliver. Debezium counts a
          // non-transactional message as a commit position (source.sequence[0]); so do we.
          if (!m.transactional && !s.in_txn) {
            s.tracker->AddIdlePosition(std::max(m.lsn, wal_start));
            s.last_commit_lsn = wal_start;
          }
        } else {
          // Origin and Type messages carry nothing we emit (custom types are written as strings).
        }
      },
      msg);
}

}  // namespace rainbow::cdc
