#include "services/cdc-producer/src/config.hpp"

namespace rainbow::cdc {

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    const auto b = cur.find_first_not_of(" \t");
    const auto e = cur.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
    cur.clear();
  };
  for (char c : text) {
    if (c == ',') {
      flush();
    } else {
      cur.push_back(c);
    }
  }
  flush();
  return out;
}

namespace {

void CheckIdentifier(const std::string& var, const std::string& value, bool allow_dot) {
  if (value.empty()) throw config::ConfigError(var, var + " must not be empty");
  for (char c : value) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (allow_dot && c == '.');
    if (!ok) {
      throw config::ConfigError(var, var + ": '" + value + "' must be a lower-case identifier ([a-z0-9_]" +
                                         (allow_dot ? ", '.' between schema and table" : "") + ")");
    }
  }
}

}  // namespace

CdcConfig LoadConfig(config::Env& env) {
  CdcConfig c;
  c.common = ops::LoadCommonConfig(env, "127.0.0.1:50052", "127.0.0.1:8082", std::chrono::seconds(2));
  c.pg_dsn = env.RequireSecret("PG_DSN",
                               "libpq connection string of the captured database (the role needs "
                               "REPLICATION; replication=database is added by the service)");
  c.pg_timeouts = pg::TimeoutsFromEnv(env);
  c.kafka_brokers = env.RequireString("KAFKA_BROKERS", "Kafka bootstrap servers host:port[,host:port]");
  c.slot = env.String("CDC_SLOT", c.slot, "logical replication slot (pgoutput), created if missing");
  c.publication = env.String("CDC_PUBLICATION", c.publication, "publication, created if missing");
  c.schemas =
      SplitList(env.String("CDC_SCHEMAS", "rainbow",
                           "schemas to capture (publication FOR TABLES IN SCHEMA) when CDC_TABLES is empty"));
  c.tables = SplitList(env.String(
      "CDC_TABLES", "", "schema.table list to capture (publication FOR TABLE ...); overrides CDC_SCHEMAS"));
  c.replica_identity_full = SplitList(env.String("CDC_REPLICA_IDENTITY_FULL", "",
                                                 "schema.table list (or *) set to REPLICA IDENTITY FULL at "
                                                 "start, for full before-images; empty = leave as is"));
  c.topic_prefix = env.String("CDC_TOPIC_PREFIX", c.topic_prefix,
                              "topic = <prefix>.<table>; source.name = the prefix's first segment");
  c.topic_partitions = static_cast<int>(env.Int("CDC_TOPIC_PARTITIONS", c.topic_partitions, 1, 10'000,
                                                "partitions of topics the service creates"));
  c.topics = kafka::LoadTopicSettings(env);
  c.max_message_bytes =
      env.Int("CDC_MAX_MESSAGE_BYTES", c.max_message_bytes, 1024, 100'000'000,
              "largest event (key + value) produced; keep it within the topics' max.message.bytes");
  const auto size_policy = env.Choice("CDC_EVENT_SIZE_POLICY", "fail", {"fail", "skip", "warn"},
                                      "an event over CDC_MAX_MESSAGE_BYTES: fail (stop, not ready, retry), "
                                      "skip (a record on <topic>.dlq instead), "
                                      "warn (log and leave out)");
  c.size_policy = size_policy == "skip"   ? SizePolicy::kSkip
                  : size_policy == "warn" ? SizePolicy::kWarn
                                          : SizePolicy::kFail;
  const auto mode =
      env.Choice("CDC_SNAPSHOT_MODE", "initial", {"initial", "never", "always"},
                 "initial: snapshot once (redone if interrupted); never; always: at every start");
  c.snapshot_mode = mode == "never"    ? SnapshotMode::kNever
                    : mode == "always" ? SnapshotMode::kAlways
                                       : SnapshotMode::kInitial;
  c.snapshot_fetch_rows = static_cast<int>(env.Int("CDC_SNAPSHOT_FETCH_ROWS", c.snapshot_fetch_rows, 1,
                                                   1'000'000, "rows per snapshot cursor FETCH"));
  auto format = [&](const char* var, const char* what) {
    const auto f =
        env.Choice(var, "json-schemas", {"json", "json-schemas"},
                   std::string(what) +
                       ": json-schemas = Kafka Connect JsonConverter with "
                       "schemas.enable=true ({\"schema\",\"payload\"}, Debezium's default); json = "
                       "schemas.enable=false (the bare payload)");
    return f == "json" ? WireFormat::kJson : WireFormat::kJsonSchemas;
  };
  c.key_format = format("CDC_KEY_FORMAT", "record keys");
  c.value_format = format("CDC_VALUE_FORMAT", "record values");
  const auto decimal = env.Choice("CDC_DECIMAL_HANDLING_MODE", "string", {"precise", "string", "double"},
                                  "numeric/money as Debezium's decimal.handling.mode: string (\"12.50\"), "
                                  "precise (Connect Decimal, base64), double (a JSON number)");
  c.decimal_mode = decimal == "precise"  ? DecimalMode::kPrecise
                   : decimal == "double" ? DecimalMode::kDouble
                                         : DecimalMode::kString;
  c.tombstones = env.Bool("CDC_TOMBSTONES", true, "emit a tombstone (null value) after each delete");
  c.truncate_events = env.Bool("CDC_TRUNCATE_EVENTS", true, "emit op \"t\" events for TRUNCATE");
  c.heartbeat_interval = env.Duration("CDC_HEARTBEAT_INTERVAL", c.heartbeat_interval,
                                      "pg_logical_emit_message heartbeat period (0 = off)");
  c.status_interval = env.Duration("CDC_STATUS_INTERVAL", c.status_interval,
                                   "period of standby status updates (confirmations)");
  c.kafka_message_timeout = env.Duration("CDC_KAFKA_MESSAGE_TIMEOUT", c.kafka_message_timeout,
                                         "how long a record may wait for Kafka before the session restarts");
  c.kafka_linger = env.Duration("CDC_KAFKA_LINGER", c.kafka_linger, "producer linger.ms");
  c.reconnect_max_backoff =
      env.Duration("CDC_RECONNECT_MAX_BACKOFF", c.reconnect_max_backoff, "cap of the reconnect backoff");
  c.shutdown_timeout =
      env.Duration("CDC_SHUTDOWN_TIMEOUT", c.shutdown_timeout, "on SIGTERM, how long to wait for Kafka acks");
  c.state_schema = env.String("CDC_STATE_SCHEMA", c.state_schema, "schema of the service's own state table");
  c.fault_corrupt_message =
      env.Int("CDC_FAULT_CORRUPT_MESSAGE", 0, 0, INT64_MAX,
              "test hook: treat the n-th replication message as corrupt (0 = off; never set in production)");
  if (!env.describing()) {
    CheckIdentifier("CDC_SLOT", c.slot, false);
    CheckIdentifier("CDC_PUBLICATION", c.publication, false);
    CheckIdentifier("CDC_STATE_SCHEMA", c.state_schema, false);
    for (const auto& s : c.schemas) CheckIdentifier("CDC_SCHEMAS", s, false);
    for (const auto& t : c.tables) {
      CheckIdentifier("CDC_TABLES", t, true);
      if (t.find('.') == std::string::npos)
        throw config::ConfigError("CDC_TABLES", "CDC_TABLES: '" + t + "' needs schema.table");
    }
    for (const auto& t : c.replica_identity_full) {
      if (t != "*") CheckIdentifier("CDC_REPLICA_IDENTITY_FULL", t, true);
    }
    if (c.tables.empty() && c.schemas.empty()) {
      throw config::ConfigError("CDC_SCHEMAS", "CDC_SCHEMAS or CDC_TABLES must name something to capture");
    }
    if (c.topic_prefix.empty())
      throw config::ConfigError("CDC_TOPIC_PREFIX", "CDC_TOPIC_PREFIX must not be empty");
  }
  return c;
}

}  // namespace rainbow::cdc
