#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/cdc-producer/src/lsn.hpp"
#include "services/cdc-producer/src/pgoutput_decoder.hpp"
#include "services/cdc-producer/src/value_format.hpp"

// Debezium-compatible change events (JsonConverter, schemas.enable=false) from decoded rows. Pure: the
// same builder serves the snapshot (rows read with SELECT, text format) and the stream (pgoutput tuples).
namespace rainbow::cdc {

struct ColumnInfo {
  std::string name;
  uint32_t type_oid = 0;
  int32_t type_modifier = -1;
  bool identity_key = false;  // part of the replica identity (pgoutput Relation flag)
  // From the catalog (pg_attribute, pg_attrdef, pg_type), for the Connect schema:
  bool optional = true;                     // not NOT NULL
  std::optional<std::string> default_expr;  // pg_get_expr of the column default
  std::string type_name;                    // pg_type.typname (int8, varchar, mood, ...)
  std::optional<std::string> enum_labels;   // "a,b,c" for an enum type
};

// What we know about one captured table, from a Relation message or the catalog.
struct TableInfo {
  uint32_t oid = 0;
  std::string schema;
  std::string table;
  char replica_identity = 'd';
  std::vector<ColumnInfo> columns;
  std::vector<size_t> key_columns;  // indexes of the primary key columns; empty = no key (null Kafka key)
  std::string topic;                // <prefix>.<table>
  // json-schemas format: the Connect schemas of key and value, built once per relation.
  std::string key_schema;       // empty = no key
  std::string envelope_schema;  // empty in the json format
  // Per column, for a null: the schema's default as JSON (JsonConverter writes it in place of a null), or
  // for a NOT NULL column without one Debezium's fallback (NotNullFallbackJson).
  std::vector<std::optional<std::string>> defaults;
};

// Fills key_schema, envelope_schema and defaults of `t` for the settings' formats (no-op for json).
struct EnvelopeSettings;
void AttachSchemas(TableInfo& t, const EnvelopeSettings& settings);

// How records are written: Kafka Connect JsonConverter with schemas.enable=false (`json`: the bare
// payload) or true (`json-schemas`: {"schema":…,"payload":…}).
enum class WireFormat { kJson, kJsonSchemas };

struct EnvelopeSettings {
  std::string version;                                             // source.version
  std::string server_name;                                         // source.name (Debezium's topic.prefix)
  std::string database;                                            // source.db
  std::string unavailable_value = "__debezium_unavailable_value";  // unchanged TOASTed values
  WireFormat key_format = WireFormat::kJson;
  WireFormat value_format = WireFormat::kJson;
  DecimalMode decimal_mode = DecimalMode::kString;
};

// Where and when one change happened.
struct ChangeContext {
  Lsn lsn;              // source.lsn: the change's own WAL position (the consistent point for a snapshot)
  Lsn last_commit_lsn;  // first element of source.sequence (invalid = null)
  std::optional<uint32_t> xid;
  int64_t source_ts_us = 0;             // commit time, Unix microseconds
  std::string_view snapshot = "false";  // "true" | "first" | "last" | "false"
  int64_t now_us = 0;                   // processing time (envelope ts_ms/ts_us/ts_ns)
};

// One Kafka record: no value = tombstone.
struct ChangeRecord {
  std::string topic;
  std::optional<std::string> key;
  std::optional<std::string> value;
  char op = 0;  // c u d r t, or 0 for a tombstone
};

// An event over CDC_MAX_MESSAGE_BYTES under CDC_EVENT_SIZE_POLICY=fail: the session stops before it, the
// slot stays where it was, and the service reports why until the limit or the policy changes.
class OversizedEventError : public std::runtime_error {
 public:
  OversizedEventError(const std::string& what, Lsn lsn) : std::runtime_error(what), lsn_(lsn) {}
  // The commit LSN of the event's transaction (invalid in a snapshot): the service stays not ready until
  // it has confirmed past it. Not the change's own LSN: a transaction that began earlier but committed
  // later would otherwise count as having passed it.
  Lsn lsn() const { return lsn_; }

 private:
  Lsn lsn_;
};

// A tuple that does not fit its relation (column count) and similar protocol inconsistencies.
class EventError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Stateless apart from its settings; safe to share between threads.
class EventBuilder {
 public:
  explicit EventBuilder(EnvelopeSettings settings, bool tombstones);

  // op 'c' (stream insert) or 'r' (snapshot read).
  void Insert(const TableInfo& t, const Tuple& row, char op, const ChangeContext& ctx,
              std::vector<ChangeRecord>& out) const;
  // old_kind: 0 (no old image), 'K' (key columns), 'O' (full old row). A changed primary key becomes a
  // delete of the old key (+ tombstone) and a create of the new one, as Debezium does.
  void Update(const TableInfo& t, char old_kind, const Tuple* old_row, const Tuple& new_row,
              const ChangeContext& ctx, std::vector<ChangeRecord>& out) const;
  void Delete(const TableInfo& t, char old_kind, const Tuple& old_row, const ChangeContext& ctx,
              std::vector<ChangeRecord>& out) const;
  // op 't': null key, no before/after.
  void Truncate(const TableInfo& t, const ChangeContext& ctx, std::vector<ChangeRecord>& out) const;

  // The Kafka key {"pk":...} of a row, or nullopt for a table without a primary key.
  std::optional<std::string> Key(const TableInfo& t, const Tuple& row) const;

  const EnvelopeSettings& settings() const { return settings_; }

 private:
  void AppendRow(std::string& out, const TableInfo& t, const Tuple& row, const Tuple* fallback) const;
  std::string Envelope(const TableInfo& t, const std::string* before, const std::string* after, char op,
                       const ChangeContext& ctx) const;
  void CheckArity(const TableInfo& t, const Tuple& row) const;

  EnvelopeSettings settings_;
  bool tombstones_;
};

}  // namespace rainbow::cdc
