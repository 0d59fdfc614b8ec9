#include "services/cdc-producer/src/cdc_engine.hpp"

#include <algorithm>
#include <thread>

#include "common/kafka/admin.hpp"
#include "common/logging/log.hpp"
#include "common/pg/connection.hpp"
#include "common/retry/backoff.hpp"
#include "services/cdc-producer/src/pgoutput_decoder.hpp"
#include "services/cdc-producer/src/replication_connection.hpp"

namespace rainbow::cdc {
namespace {

using Clock = std::chrono::steady_clock;

// Kafka did not acknowledge an event: the session restarts from the last confirmed position.
class KafkaSessionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class StopRequested : public std::runtime_error {
 public:
  StopRequested() : std::runtime_error("stop requested") {}
};

constexpr const char* kHeartbeatPrefix = "rainbow_cdc_heartbeat";

// Session settings that fix the text form of values (the decoders in value_format.cpp expect them).
constexpr const char* kSessionSettings =
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
    "SET extra_float_digits = 3; SET bytea_output = 'hex'";

constexpr const char* kSlotSql =
    "SELECT active_pid, confirmed_flush_lsn::text FROM pg_replication_slots "
    "WHERE slot_name = $1 AND database = current_database()";
constexpr const char* kLagSql =
    "SELECT confirmed_flush_lsn::text, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
    "FROM pg_replication_slots WHERE slot_name = $1";
constexpr const char* kHeartbeatSql = "SELECT pg_logical_emit_message(false, $1, now()::text)";
constexpr const char* kColumnsSql =
    "SELECT a.attname, a.atttypid::bigint, a.atttypmod FROM pg_attribute a WHERE a.attrelid = $1::oid "
    "AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum";
constexpr const char* kPrimaryKeySql =
    "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = "
    "ANY(i.indkey) "
    "WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY a.attnum";
// What the Connect schema needs beyond the Relation message: nullability, default, type name, enum labels.
constexpr const char* kColumnCatalogSql =
    "SELECT a.attname, NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid), t.typname, "
    "CASE WHEN t.typtype = 'e' THEN (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) "
    "FROM pg_enum e WHERE e.enumtypid = t.oid) END "
    "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped";
constexpr const char* kPublishedTablesSql =
    "SELECT c.oid::bigint, n.nspname, c.relname, c.relreplident FROM pg_publication_tables pt "
    "JOIN pg_namespace n ON n.nspname = pt.schemaname "
    "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename "
    "WHERE pt.pubname = $1 ORDER BY 2, 3";

std::string QuoteIdent(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

// "schema.table" (validated at config load) -> "schema"."table".
std::string QualifiedName(const std::string& dotted) {
  const auto dot = dotted.find('.');
  return QuoteIdent(dotted.substr(0, dot)) + "." + QuoteIdent(dotted.substr(dot + 1));
}

int64_t UnixNowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string OpLabel(char op) { return op == 0 ? "tombstone" : std::string(1, op); }

}  // namespace

struct CdcEngine::Session {
  std::unique_ptr<pg::Connection> meta;
  std::unique_ptr<ReplicationConnection> repl;
  std::shared_ptr<AckTracker> tracker = std::make_shared<AckTracker>();
  std::unordered_map<uint32_t, std::shared_ptr<TableInfo>> relations;
  std::string database;

  // The transaction being received.
  bool in_txn = false;
  AckTracker::BatchId batch = 0;
  uint32_t xid = 0;
  int64_t commit_time_us = 0;  // Unix microseconds
  bool replaying = false;
  Lsn last_commit_lsn;

  Lsn received;
  Lsn confirmed_sent;
  Clock::time_point last_status = Clock::now();
  Clock::time_point last_heartbeat = Clock::now();
  Clock::time_point last_rate = Clock::now();
  uint64_t events_at_last_rate = 0;
  Lsn persisted_high;
  std::vector<ChangeRecord> scratch;
};

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
    producer_ = std::make_unique<kafka::Producer>(pc);
  }
  return *producer_;
}

StatusSnapshot CdcEngine::Status() const {
  std::lock_guard lock(mu_);
  return status_;
}

std::string CdcEngine::Ready() const {
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
      RunSession();
    } catch (const StopRequested&) {
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
    while (!stop_ && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  metrics_.streaming.Set(0);
  log::Info("stopped", {{"slot", config_.slot}, {"confirmed_lsn", Status().confirmed_lsn.ToString()}});
  return kExitOk;
}

void CdcEngine::PrepareCatalog(pg::Connection& meta) {
  const std::string state_table = QuoteIdent(config_.state_schema) + ".state";
  meta.Exec("CREATE SCHEMA IF NOT EXISTS " + QuoteIdent(config_.state_schema));
  meta.Exec(
      "CREATE TABLE IF NOT EXISTS " + state_table +
      " (slot_name text PRIMARY KEY, snapshot_done boolean NOT NULL DEFAULT false, snapshot_lsn pg_lsn, "
      "produced_lsn pg_lsn, updated_at timestamptz NOT NULL DEFAULT now())");

  const bool exists =
      meta.Exec("SELECT 1 FROM pg_publication WHERE pubname = $1", {config_.publication}).rows() > 0;
  if (!exists) {
    if (!config_.tables.empty()) {
      std::string list;
      for (const auto& t : config_.tables) list += (list.empty() ? "" : ", ") + QualifiedName(t);
      meta.Exec("CREATE PUBLICATION " + QuoteIdent(config_.publication) + " FOR TABLE " + list);
    } else {
      std::string list;
      for (const auto& s : config_.schemas) list += (list.empty() ? "" : ", ") + QuoteIdent(s);
      try {
        meta.Exec("CREATE PUBLICATION " + QuoteIdent(config_.publication) + " FOR TABLES IN SCHEMA " + list);
      } catch (const pg::PgError& e) {
        if (e.sqlstate() != "42501") throw;
        // PostgreSQL 15 reserves FOR TABLES IN SCHEMA to superusers: publish the schemas' tables one by
        // one instead (refreshed at every session start, below).
        log::Warn("no privilege for FOR TABLES IN SCHEMA; publishing the schemas' tables one by one",
                  {{"publication", config_.publication}});
        meta.Exec("CREATE PUBLICATION " + QuoteIdent(config_.publication));
      }
    }
    log::Info("publication created", {{"publication", config_.publication}});
  }
  if (config_.tables.empty()) {
    const bool by_schema =
        meta.Exec(
                "SELECT 1 FROM pg_publication_namespace pn JOIN pg_publication p ON p.oid = pn.pnpubid "
                "WHERE p.pubname = $1",
                {config_.publication})
            .rows() > 0;
    const bool all_tables =
        meta.Exec("SELECT 1 FROM pg_publication WHERE pubname = $1 AND puballtables", {config_.publication})
            .rows() > 0;
    if (!by_schema && !all_tables) {
      std::string arr = "{";
      for (size_t i = 0; i < config_.schemas.size(); ++i) arr += (i ? "," : "") + config_.schemas[i];
      arr += "}";
      auto missing = meta.Exec(
          "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
          "WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
          "AND NOT EXISTS (SELECT 1 FROM pg_publication_tables pt WHERE pt.pubname = $2 "
          "AND pt.schemaname = n.nspname AND pt.tablename = c.relname) ORDER BY 1, 2",
          {arr, config_.publication});
      for (int r = 0; r < missing.rows(); ++r) {
        const std::string name = std::string(missing.Text(r, 0)) + "." + std::string(missing.Text(r, 1));
        meta.Exec("ALTER PUBLICATION " + QuoteIdent(config_.publication) + " ADD TABLE " +
                  QualifiedName(name));
        log::Info("table added to publication", {{"publication", config_.publication}, {"table", name}});
      }
    }
  }
  for (const auto& t : config_.replica_identity_full) {
    if (t == "*") {
      auto all = meta.Exec(kPublishedTablesSql, {config_.publication});
      for (int r = 0; r < all.rows(); ++r) {
        if (all.Text(r, 3) == "f") continue;
        meta.Exec("ALTER TABLE " + QuoteIdent(std::string(all.Text(r, 1))) + "." +
                  QuoteIdent(std::string(all.Text(r, 2))) + " REPLICA IDENTITY FULL");
      }
    } else {
      meta.Exec("ALTER TABLE " + QualifiedName(t) + " REPLICA IDENTITY FULL");
    }
  }
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
  auto pk = s.meta->Exec(kPrimaryKeySql, {std::to_string(oid)});
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
  auto cat = s.meta->Exec(kColumnCatalogSql, {std::to_string(oid)});
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
  kafka::EnsureTopic(config_.kafka_brokers, topic, config_.topic_partitions, config_.topic_replication);
  topics_ready_.insert(topic);
}

void CdcEngine::Produce(Session& s, ChangeRecord& record, const std::string& table_label) {
  EnsureTopicOnce(record.topic);
  kafka::OutgoingMessage msg;
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
}

void CdcEngine::Periodic(Session& s, bool force) {
  const auto now = Clock::now();
  if (force || now - s.last_status >= config_.status_interval) {
    SendStatus(s, false);
    metrics_.received_lsn.Set(static_cast<double>(s.received.value()));
    metrics_.in_flight.Set(static_cast<double>(s.tracker->pending_events()));
    // Slot lag as PostgreSQL sees it.
    auto lag = s.meta->Exec(kLagSql, {config_.slot});
    uint64_t lag_bytes = 0;
    if (lag.rows() == 1 && !lag.IsNull(0, 1))
      lag_bytes = static_cast<uint64_t>(std::max<int64_t>(0, lag.Int(0, 1)));
    metrics_.lag_bytes.Set(static_cast<double>(lag_bytes));
    // Persist how far we produced, so a restarted process can count replayed events.
    if (replay_high_ > s.persisted_high) {
      // A hint for counting duplicates, not a correctness record: no need to wait for its fsync (which
      // would stall the stream thread once per interval).
      s.meta->Exec("BEGIN");
      s.meta->Exec("SET LOCAL synchronous_commit = off");
      s.meta->Exec("UPDATE " + QuoteIdent(config_.state_schema) +
                       ".state SET produced_lsn = $2::pg_lsn, updated_at = now() WHERE slot_name = $1",
                   {config_.slot, replay_high_.ToString()});
      s.meta->Exec("COMMIT");
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
    s.meta->Exec(kHeartbeatSql, {std::string(kHeartbeatPrefix)});
    metrics_.heartbeats.Increment();
    s.last_heartbeat = now;
  }
}

void CdcEngine::RunSession() {
  Session s;
  s.meta = std::make_unique<pg::Connection>(config_.pg_dsn);
  s.meta->Exec(kSessionSettings);
  s.database = std::string(s.meta->Exec("SELECT current_database()").Text(0, 0));
  builder_ = EventBuilder(EnvelopeSettings{version_, server_name_, s.database, "__debezium_unavailable_value",
                                           config_.key_format, config_.value_format, config_.decimal_mode},
                          config_.tombstones);
  PrepareCatalog(*s.meta);
  const std::string state_table = QuoteIdent(config_.state_schema) + ".state";

  auto slot = s.meta->Exec(kSlotSql, {config_.slot});
  const bool slot_exists = slot.rows() > 0;
  auto state =
      s.meta->Exec("SELECT snapshot_done, produced_lsn::text FROM " + state_table + " WHERE slot_name = $1",
                   {config_.slot});
  const bool marker_done = state.rows() > 0 && state.Text(0, 0) == "t";
  if (state.rows() > 0 && !state.IsNull(0, 1)) {
    if (auto l = Lsn::Parse(state.Text(0, 1)); l && *l > replay_high_) replay_high_ = *l;
  }
  s.persisted_high = replay_high_;

  bool need_snapshot = false;
  switch (config_.snapshot_mode) {
    case SnapshotMode::kAlways:
      need_snapshot = !snapshot_done_in_process_;
      break;
    case SnapshotMode::kInitial:
      need_snapshot = !slot_exists || !marker_done;
      break;
    case SnapshotMode::kNever:
      break;
  }

  s.repl = std::make_unique<ReplicationConnection>(config_.pg_dsn);
  Lsn start;
  if (need_snapshot) {
    if (slot_exists) {
      log::Info("dropping the slot to take a consistent snapshot",
                {{"slot", config_.slot},
                 {"reason", marker_done ? "snapshot mode always" : "no completed snapshot"}});
      s.repl->Command("DROP_REPLICATION_SLOT \"" + config_.slot + "\" WAIT");
    }
    s.meta->Exec("INSERT INTO " + state_table +
                     " (slot_name, snapshot_done) VALUES ($1, false) ON CONFLICT (slot_name) DO UPDATE "
                     "SET snapshot_done = false, snapshot_lsn = NULL, updated_at = now()",
                 {config_.slot});
    const auto created = s.repl->CreateSlot(config_.slot, true);
    log::Info("slot created with an exported snapshot", {{"slot", config_.slot},
                                                         {"lsn", created.consistent_point.ToString()},
                                                         {"snapshot", created.snapshot_name}});
    RunSnapshot(s, created.snapshot_name, created.consistent_point);
    s.meta->Exec(
        "UPDATE " + state_table +
            " SET snapshot_done = true, snapshot_lsn = $2::pg_lsn, updated_at = now() WHERE slot_name = $1",
        {config_.slot, created.consistent_point.ToString()});
    snapshot_done_in_process_ = true;
    start = created.consistent_point;
  } else {
    {
      std::lock_guard lock(mu_);
      if (status_.snapshot_state == "not_started") status_.snapshot_state = "skipped";
    }
    if (!slot_exists) {
      const auto created = s.repl->CreateSlot(config_.slot, false);
      log::Info("slot created", {{"slot", config_.slot}, {"lsn", created.consistent_point.ToString()}});
      start = created.consistent_point;
    }
    s.meta->Exec(
        "INSERT INTO " + state_table + " (slot_name, snapshot_done) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        {config_.slot, config_.snapshot_mode == SnapshotMode::kNever ? "false" : "true"});
  }
  // From here on the stream starts where the snapshot's view ended (consistent point), or where the slot
  // was last confirmed: nothing is skipped, nothing the snapshot covered is repeated.
  s.repl->StartReplication(config_.slot, start, config_.publication);
  log::Info("streaming",
            {{"slot", config_.slot}, {"publication", config_.publication}, {"from", start.ToString()}});
  {
    std::lock_guard lock(mu_);
    status_.streaming = true;
    status_.last_error.clear();
    ready_ = true;
  }
  metrics_.streaming.Set(1);
  Stream(s);
}

void CdcEngine::RunSnapshot(Session& s, const std::string& snapshot_name, Lsn consistent_point) {
  pg::Connection snap(config_.pg_dsn);
  snap.Exec(kSessionSettings);
  snap.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  snap.Exec("SET TRANSACTION SNAPSHOT '" + snapshot_name + "'");
  auto tables = snap.Exec(kPublishedTablesSql, {config_.publication});
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
    auto cols = snap.Exec(kColumnsSql, {std::to_string(oid)});
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
      if (stop_) throw StopRequested();
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
  s.tracker->Close(s.batch, consistent_point);
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
}

void CdcEngine::Stream(Session& s) {
  try {
    while (!stop_) {
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
  log::Info("confirmed at shutdown", {{"lsn", s.confirmed_sent.ToString()}, {"slot", config_.slot}});
  throw StopRequested();
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
