#include "services/cdc-producer/src/cdc_engine.hpp"

#include <algorithm>
#include <thread>

#include "common/kafka/admin.hpp"
#include "common/kafka/dead_letter.hpp"
#include "common/logging/log.hpp"
#include "common/pg/connection.hpp"
#include "common/retry/backoff.hpp"
#include "services/cdc-producer/src/catalog_sql.hpp"
#include "services/cdc-producer/src/engine_session.hpp"
#include "services/cdc-producer/src/pgoutput_decoder.hpp"
#include "services/cdc-producer/src/replication_connection.hpp"
#include "services/cdc-producer/src/slot_plan.hpp"
#include "services/cdc-producer/src/slot_state.hpp"

namespace rainbow::cdc {

CdcEngine::CdcEngine(CdcConfig config, std::string version, CdcMetrics& metrics)
    : config_(std::move(config)),
      version_(std::move(version)),
      metrics_(metrics),
      builder_(EnvelopeSettings{}, config_.tombstones) {
  server_name_ = config_.topic_prefix.substr(0, config_.topic_prefix.find('.'));
  status_.slot = config_.slot;
  status_.publication = config_.publication;
}

CdcEngine::~CdcEngine() = default;

kafka::Producer& CdcEngine::producer() {
  if (!producer_) {
    kafka::ProducerConfig pc;
    pc.brokers = config_.kafka_brokers;
    pc.client_id = "cdc-producer";
    pc.message_timeout = config_.kafka_message_timeout;
    pc.linger = config_.kafka_linger;
    // Java clients' partitioner: a key lands on the partition Debezium (Kafka Connect) would choose.
    pc.properties["partitioner"] = "murmur2_random";
    pc.properties["queue.buffering.max.messages"] = "500000";
    // Room for the largest event allowed (Produce checks CDC_MAX_MESSAGE_BYTES itself, with its policy).
    pc.properties["message.max.bytes"] =
        std::to_string(std::max<int64_t>(1'000'000, config_.max_message_bytes + 65'536));
    producer_ = std::make_unique<kafka::Producer>(pc);
  }
  return *producer_;
}

StatusSnapshot CdcEngine::Status() const {
  std::lock_guard lock(mu_);
  return status_;
}

std::string CdcEngine::NotReadyReason() const {
  std::lock_guard lock(mu_);
  if (ready_) return {};
  return status_.last_error.empty() ? "replication session not started" : status_.last_error;
}

void CdcEngine::SetError(const std::string& error) {
  std::lock_guard lock(mu_);
  status_.last_error = error;
  status_.streaming = false;
  ready_ = false;
}

int CdcEngine::Run() {
  retry::Backoff backoff({std::chrono::milliseconds(200), config_.reconnect_max_backoff});
  while (!stop_) {
    const auto started = Clock::now();
    try {
      const SessionEnd end = RunSession();
      if (end == SessionEnd::kResnapshot && !stop_) {
        metrics_.streaming.Set(0);
        continue;  // at once: the next session takes the snapshot
      }
      log::Info("session ended",
                {{"reason", end == SessionEnd::kStoppedInSnapshot ? "stop requested during the snapshot"
                                                                  : "stop requested"}});
      break;
    } catch (const DecodeError& e) {
      metrics_.decode_errors.Increment();
      SetError(std::string("malformed replication stream: ") + e.what());
      log::Error("malformed replication stream: stopping; the slot was not advanced past it",
                 {{"error", e.what()}, {"slot", config_.slot}});
      return kExitProtocolError;
    } catch (const EventError& e) {
      metrics_.decode_errors.Increment();
      SetError(std::string("inconsistent replication stream: ") + e.what());
      log::Error("inconsistent replication stream: stopping; the slot was not advanced past it",
                 {{"error", e.what()}, {"slot", config_.slot}});
      return kExitProtocolError;
    } catch (const SlotRefusedError& e) {
      SetError(e.what());
      log::Error("not streaming: the slot would leave a gap", {{"slot", config_.slot}, {"reason", e.what()}});
    } catch (const OversizedEventError& e) {
      SetError(std::string("oversized event: ") + e.what());
      {
        std::lock_guard lock(mu_);
        blocked_at_ = e.lsn();
      }
      log::Error("oversized event: the session stops before it; retrying", {{"error", e.what()}});
    } catch (const KafkaSessionError& e) {
      metrics_.reconnects_kafka.Increment();
      SetError(std::string("kafka: ") + e.what());
      log::Warn("kafka delivery failed; restarting the session from the confirmed position",
                {{"error", e.what()}});
      producer_.reset();  // a fresh idempotent producer; anything it still held is replayed from the slot
    } catch (const kafka::KafkaError& e) {
      metrics_.reconnects_kafka.Increment();
      SetError(std::string("kafka: ") + e.what());
      log::Warn("kafka error; restarting the session", {{"error", e.what()}});
      producer_.reset();
    } catch (const std::exception& e) {
      metrics_.reconnects_postgres.Increment();
      SetError(std::string("postgres: ") + e.what());
      log::Warn("replication session failed; reconnecting", {{"error", e.what()}});
    }
    metrics_.streaming.Set(0);
    if (stop_) break;
    if (Clock::now() - started > std::chrono::seconds(30)) backoff.Reset();
    const auto delay = backoff.NextDelay();
    const auto until = Clock::now() + delay;
    while (!stop_ && !resnapshot_requested_ && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  metrics_.streaming.Set(0);
  log::Info("stopped", {{"slot", config_.slot}, {"confirmed_lsn", Status().confirmed_lsn.ToString()}});
  return kExitOk;
}

std::shared_ptr<TableInfo> CdcEngine::LoadRelation(Session& s, uint32_t oid, const std::string& schema,
                                                   const std::string& table, char identity,
                                                   std::vector<ColumnInfo> columns) {
  auto info = std::make_shared<TableInfo>();
  info->oid = oid;
  info->schema = schema;
  info->table = table;
  info->replica_identity = identity;
  info->columns = std::move(columns);
  info->topic = config_.topic_prefix + "." + table;
  auto pk = s.meta->Exec(sql::kPrimaryKeySql, {std::to_string(oid)});
  for (int r = 0; r < pk.rows(); ++r) {
    for (size_t i = 0; i < info->columns.size(); ++i) {
      if (info->columns[i].name == pk.Text(r, 0)) info->key_columns.push_back(i);
    }
  }
  if (info->key_columns.empty() && identity != 'f') {
    // No primary key (or the table is gone by now): the replica identity index is the best key we have.
    for (size_t i = 0; i < info->columns.size(); ++i) {
      if (info->columns[i].identity_key) info->key_columns.push_back(i);
    }
  }
  // The catalog as it is now (as Debezium reads it at a Relation message): nullability and defaults.
  auto cat = s.meta->Exec(sql::kColumnCatalogSql, {std::to_string(oid)});
  for (int r = 0; r < cat.rows(); ++r) {
    for (auto& c : info->columns) {
      if (c.name != cat.Text(r, 0)) continue;
      c.optional = cat.Text(r, 1) == "t";
      if (!cat.IsNull(r, 2)) c.default_expr = std::string(cat.Text(r, 2));
      c.type_name = std::string(cat.Text(r, 3));
      if (!cat.IsNull(r, 4)) c.enum_labels = std::string(cat.Text(r, 4));
    }
  }
  for (size_t i : info->key_columns) info->columns[i].optional = false;
  AttachSchemas(*info, builder_.settings());
  return info;
}

void CdcEngine::EnsureTopicOnce(const std::string& topic) {
  if (topics_ready_.count(topic)) return;
  kafka::EnsureTopic(config_.kafka_brokers, topic, config_.topic_partitions, config_.topics);
  topics_ready_.insert(topic);
}

void CdcEngine::Produce(Session& s, ChangeRecord& record, const std::string& table_label) {
  kafka::OutgoingMessage msg;
  const size_t size = (record.key ? record.key->size() : 0) + (record.value ? record.value->size() : 0);
  if (static_cast<int64_t>(size) > config_.max_message_bytes) {
    const std::string what = "event of table " + table_label + " at LSN " + s.received.ToString() + " is " +
                             std::to_string(size) + " bytes, over CDC_MAX_MESSAGE_BYTES (" +
                             std::to_string(config_.max_message_bytes) + ")";
    switch (config_.size_policy) {
      case SizePolicy::kFail:
        metrics_.Oversized("failed").Increment();
        throw OversizedEventError(
            what +
                "; CDC_EVENT_SIZE_POLICY=fail: the slot holds this WAL until it is raised "
                "or the policy is skip or warn",
            s.in_txn ? s.final_lsn : Lsn{});
      case SizePolicy::kWarn:
        metrics_.Oversized("left_out").Increment();
        log::Warn("event left out", {{"reason", what}, {"topic", record.topic}});
        return;
      case SizePolicy::kSkip:
        // The dead letter names the event; it stands in the event's place for the no-loss rule.
        metrics_.Oversized("dead_lettered").Increment();
        log::Warn("event dead-lettered", {{"reason", what}, {"topic", record.topic}});
        msg.headers = {{"dlq.error", what},
                       {"dlq.topic", record.topic},
                       {"dlq.lsn", s.received.ToString()},
                       {"dlq.bytes", std::to_string(size)},
                       {"dlq.service", "cdc-producer"}};
        record.topic = kafka::DeadLetterTopic(record.topic);
        record.value.reset();
        break;
    }
  }
  EnsureTopicOnce(record.topic);
  msg.topic = std::move(record.topic);
  msg.key = std::move(record.key);
  msg.value = std::move(record.value);
  auto tracker = s.tracker;
  const auto batch = s.batch;
  tracker->AddEvent(batch);
  CdcMetrics* metrics = &metrics_;
  producer().Produce(msg, [tracker, batch, metrics](const kafka::DeliveryReport& r) {
    if (!r.ok) metrics->delivery_failures.Increment();
    tracker->Delivered(batch, r.ok, r.error);
  });
  metrics_.Events(table_label, OpLabel(record.op)).Increment();
  std::lock_guard lock(mu_);
  ++status_.events_total;
}

void CdcEngine::WaitDelivered(Session& s, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (s.tracker->pending_events() > 0 && !s.tracker->failed() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void CdcEngine::SendStatus(Session& s, bool reply) {
  const Lsn confirmable = s.tracker->Confirmable();
  s.repl->SendStatus(std::max(s.received, confirmable), confirmable, reply);
  s.last_status = Clock::now();
  if (confirmable != s.confirmed_sent) {
    s.confirmed_sent = confirmable;
    metrics_.confirmed_lsn.Set(static_cast<double>(confirmable.value()));
    log::Debug("confirmed", {{"lsn", confirmable.ToString()}});
  }
  std::lock_guard lock(mu_);
  if (confirmable.valid()) status_.confirmed_lsn = confirmable;
  status_.received_lsn = s.received;
  if (blocked_at_.valid() && confirmable > blocked_at_) {
    // The event that stopped earlier sessions is delivered (the limit or the policy changed).
    blocked_at_ = Lsn{};
    status_.last_error.clear();
    ready_ = true;
  }
}

void CdcEngine::Periodic(Session& s, bool force) {
  const auto now = Clock::now();
  if (force || now - s.last_status >= config_.status_interval) {
    SendStatus(s, false);
    metrics_.received_lsn.Set(static_cast<double>(s.received.value()));
    metrics_.in_flight.Set(static_cast<double>(s.tracker->pending_events()));
    // Slot lag as PostgreSQL sees it.
    auto lag = s.meta->Exec(sql::kLagSql, {config_.slot});
    uint64_t lag_bytes = 0;
    if (lag.rows() == 1 && !lag.IsNull(0, 1))
      lag_bytes = static_cast<uint64_t>(std::max<int64_t>(0, lag.Int(0, 1)));
    metrics_.lag_bytes.Set(static_cast<double>(lag_bytes));
    // Persist how far we produced, so a restarted process can count replayed events.
    if (replay_high_ > s.persisted_high) {
      SlotStateStore(*s.meta, config_.state_schema, config_.slot).SaveProduced(replay_high_);
      s.persisted_high = replay_high_;
    }
    std::lock_guard lock(mu_);
    status_.lag_bytes = lag_bytes;
    const double secs = std::chrono::duration<double>(now - s.last_rate).count();
    if (secs >= 1.0) {
      status_.events_per_second = static_cast<double>(status_.events_total - s.events_at_last_rate) / secs;
      s.events_at_last_rate = status_.events_total;
      s.last_rate = now;
    }
  }
  if (config_.heartbeat_interval.count() > 0 && now - s.last_heartbeat >= config_.heartbeat_interval) {
    s.meta->Exec(sql::kHeartbeatSql, {std::string(kHeartbeatPrefix)});
    metrics_.heartbeats.Increment();
    s.last_heartbeat = now;
  }
}

CdcEngine::SessionEnd CdcEngine::RunSession() {
  Session s;
  // Its statements are short (catalog, slot state, heartbeats): the statement timeout applies.
  s.meta = std::make_unique<pg::Connection>(config_.pg_dsn, std::map<std::string, std::string>{},
                                            config_.pg_timeouts);
  s.meta->Exec(kSessionSettings);
  s.database = std::string(s.meta->Exec("SELECT current_database()").Text(0, 0));
  builder_ = EventBuilder(EnvelopeSettings{version_, server_name_, s.database, "__debezium_unavailable_value",
                                           config_.key_format, config_.value_format, config_.decimal_mode},
                          config_.tombstones);
  PrepareCatalog(*s.meta);
  SlotStateStore state(*s.meta, config_.state_schema, config_.slot);

  auto slot = s.meta->Exec(sql::kSlotSql, {config_.slot});
  const auto saved = state.Read();
  if (saved.produced.valid() && saved.produced > replay_high_) replay_high_ = saved.produced;
  s.persisted_high = replay_high_;

  SlotFacts facts;
  facts.mode = config_.snapshot_mode;
  facts.slot_exists = slot.rows() > 0;
  facts.slot_lost = facts.slot_exists && !slot.IsNull(0, 2) && slot.Text(0, 2) == "lost";
  facts.state_row = saved.exists;
  facts.snapshot_done = saved.snapshot_done;
  facts.produced = saved.produced.valid();
  facts.snapshot_done_in_process = snapshot_done_in_process_;
  // Cleared once the snapshot it asked for is done: a session that fails before keeps the request.
  facts.resnapshot_requested = resnapshot_requested_.load();
  const SlotPlan plan = PlanSlot(facts, config_.slot);
  Lsn slot_confirmed;
  if (facts.slot_exists && !slot.IsNull(0, 1)) slot_confirmed = Lsn::Parse(slot.Text(0, 1)).value_or(Lsn{});
  if (plan.action == SlotAction::kRefuse) throw SlotRefusedError(plan.reason);
  if (plan.action != SlotAction::kStream)
    log::Info("slot plan",
              {{"slot", config_.slot}, {"plan", SlotActionName(plan.action)}, {"reason", plan.reason}});

  s.repl = std::make_unique<ReplicationConnection>(config_.pg_dsn, config_.pg_timeouts);
  Lsn start;  // invalid: from the slot's confirmed position
  switch (plan.action) {
    case SlotAction::kDropSlotAndSnapshot:
      // Only on request (Resnapshot), after the service refused to stream from this slot.
      log::Warn("dropping the slot on request", {{"slot", config_.slot}, {"reason", plan.reason}});
      s.repl->Command("DROP_REPLICATION_SLOT \"" + config_.slot + "\" WAIT");
      [[fallthrough]];
    case SlotAction::kSnapshotWithNewSlot: {
      state.SnapshotStarted();
      const auto created = s.repl->CreateSlot(config_.slot, true);
      log::Info("slot created with an exported snapshot", {{"slot", config_.slot},
                                                           {"lsn", created.consistent_point.ToString()},
                                                           {"snapshot", created.snapshot_name}});
      if (!RunSnapshot(s, created.snapshot_name, created.consistent_point)) {
        // Stopped mid-snapshot: the marker stays unset, so the next start snapshots again (keeping the slot).
        return SessionEnd::kStoppedInSnapshot;
      }
      state.SnapshotDone(created.consistent_point);
      start = created.consistent_point;
      break;
    }
    case SlotAction::kSnapshotKeepingSlot:
      // The snapshot is read at a later point than the slot's position; the stream then replays every
      // change since that position, so a row deleted in between gets its delete event (consumers see
      // some changes twice, never miss one). The snapshot's events confirm nothing past the slot.
      if (!RunSnapshot(s, {}, slot_confirmed)) return SessionEnd::kStoppedInSnapshot;
      state.SnapshotDone(slot_confirmed);
      break;
    case SlotAction::kCreateSlotAndStream: {
      const auto created = s.repl->CreateSlot(config_.slot, false);
      log::Info("slot created", {{"slot", config_.slot}, {"lsn", created.consistent_point.ToString()}});
      start = created.consistent_point;
      break;
    }
    case SlotAction::kStream:
    case SlotAction::kRefuse:
      break;
  }
  if (plan.action == SlotAction::kStream || plan.action == SlotAction::kCreateSlotAndStream) {
    std::lock_guard lock(mu_);
    if (status_.snapshot_state == "not_started") status_.snapshot_state = "skipped";
  } else {
    snapshot_done_in_process_ = true;
    if (facts.resnapshot_requested) resnapshot_requested_ = false;
  }
  state.EnsureRow(config_.snapshot_mode != SnapshotMode::kNever);
  // From here on the stream starts where the snapshot's view ended (consistent point), or where the slot
  // was last confirmed: nothing is skipped, nothing the snapshot covered is repeated.
  s.repl->StartReplication(config_.slot, start, config_.publication);
  log::Info("streaming",
            {{"slot", config_.slot}, {"publication", config_.publication}, {"from", start.ToString()}});
  {
    std::lock_guard lock(mu_);
    status_.streaming = true;
    // A session that will stop again at the same oversized event is not ready: readiness and GetStatus
    // keep its reason instead of flapping on every retry.
    if (!blocked_at_.valid()) {
      status_.last_error.clear();
      ready_ = true;
    }
  }
  metrics_.streaming.Set(1);
  return Stream(s);
}

}  // namespace rainbow::cdc
