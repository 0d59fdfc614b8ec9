#include "services/cdc-producer/src/event_builder.hpp"

#include "services/cdc-producer/src/connect_schema.hpp"
#include "services/cdc-producer/src/value_format.hpp"

namespace rainbow::cdc {
namespace {

// exact: Debezium's value forms for the json-schemas format (decimal mode, timestamptz width, a null
// replaced by the schema default as JsonConverter does); otherwise the historical `json` forms.
void AppendValue(std::string& out, const ColumnInfo& c, const TupleValue& v, const TupleValue* fallback,
                 const std::string& unavailable, const EnvelopeSettings* exact = nullptr,
                 const std::optional<std::string>* default_json = nullptr) {
  const TupleValue* use = &v;
  if (v.kind == TupleValue::Kind::kUnchanged && fallback != nullptr &&
      fallback->kind != TupleValue::Kind::kUnchanged) {
    use = fallback;  // REPLICA IDENTITY FULL: the old image carries the unchanged TOASTed value
  }
  switch (use->kind) {
    case TupleValue::Kind::kNull:
      if (exact != nullptr && default_json != nullptr && *default_json) {
        out += **default_json;
      } else {
        out += "null";
      }
      return;
    case TupleValue::Kind::kUnchanged:
      AppendJsonString(out, unavailable);
      return;
    case TupleValue::Kind::kBinary:
      // We never ask for binary output (pgoutput's binary option is off); keep it visible if it happens.
      AppendJsonString(out, use->data);
      return;
    case TupleValue::Kind::kText:
      if (exact != nullptr) {
        AppendExactValue(out, c, use->data, exact->decimal_mode);
      } else {
        AppendTextValue(out, c.type_oid, c.type_modifier, use->data);
      }
      return;
  }
}

// old_kind 'K' carries only the replica identity columns: a primary key column outside that identity is
// null there and says nothing about a key change.
bool SameKey(const TableInfo& t, char old_kind, const Tuple& a, const Tuple& b) {
  for (size_t i : t.key_columns) {
    const auto& x = a[i];
    const auto& y = b[i];
    if (x.kind == TupleValue::Kind::kUnchanged || y.kind == TupleValue::Kind::kUnchanged) continue;
    if (old_kind == 'K' && x.kind == TupleValue::Kind::kNull) continue;
    if (x.kind != y.kind || x.data != y.data) return false;
  }
  return true;
}

}  // namespace

void AttachSchemas(TableInfo& t, const EnvelopeSettings& settings) {
  t.defaults.assign(t.columns.size(), std::nullopt);
  t.key_schema.clear();
  t.envelope_schema.clear();
  if (settings.value_format == WireFormat::kJsonSchemas || settings.key_format == WireFormat::kJsonSchemas) {
    for (size_t i = 0; i < t.columns.size(); ++i) {
      const auto& c = t.columns[i];
      t.defaults[i] = ColumnDefaultJson(c, settings.decimal_mode);
      if (!t.defaults[i] && !c.optional) t.defaults[i] = NotNullFallbackJson(c, settings.decimal_mode);
    }
  }
  if (settings.key_format == WireFormat::kJsonSchemas)
    t.key_schema = KeySchema(t, settings.server_name, settings.decimal_mode);
  if (settings.value_format == WireFormat::kJsonSchemas)
    t.envelope_schema = EnvelopeSchema(t, settings.server_name, settings.decimal_mode);
}

EventBuilder::EventBuilder(EnvelopeSettings settings, bool tombstones)
    : settings_(std::move(settings)), tombstones_(tombstones) {}

void EventBuilder::CheckArity(const TableInfo& t, const Tuple& row) const {
  if (row.size() != t.columns.size()) {
    throw EventError("row of " + t.schema + "." + t.table + " has " + std::to_string(row.size()) +
                     " columns, its relation has " + std::to_string(t.columns.size()));
  }
}

std::optional<std::string> EventBuilder::Key(const TableInfo& t, const Tuple& row) const {
  if (t.key_columns.empty()) return std::nullopt;
  const bool wrapped = settings_.key_format == WireFormat::kJsonSchemas;
  std::string key;
  if (wrapped) key = "{\"schema\":" + t.key_schema + ",\"payload\":";
  key.push_back('{');
  bool first = true;
  for (size_t i : t.key_columns) {
    if (!first) key.push_back(',');
    first = false;
    AppendJsonString(key, t.columns[i].name);
    key.push_back(':');
    AppendValue(key, t.columns[i], row[i], nullptr, settings_.unavailable_value,
                wrapped ? &settings_ : nullptr, wrapped && i < t.defaults.size() ? &t.defaults[i] : nullptr);
  }
  key.push_back('}');
  if (wrapped) key.push_back('}');
  return key;
}

void EventBuilder::AppendRow(std::string& out, const TableInfo& t, const Tuple& row,
                             const Tuple* fallback) const {
  out.push_back('{');
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(out, t.columns[i].name);
    out.push_back(':');
    const bool exact = settings_.value_format == WireFormat::kJsonSchemas;
    AppendValue(out, t.columns[i], row[i], fallback != nullptr ? &(*fallback)[i] : nullptr,
                settings_.unavailable_value, exact ? &settings_ : nullptr,
                exact && i < t.defaults.size() ? &t.defaults[i] : nullptr);
  }
  out.push_back('}');
}

std::string EventBuilder::Envelope(const TableInfo& t, const std::string* before, const std::string* after,
                                   char op, const ChangeContext& ctx) const {
  const bool wrapped = settings_.value_format == WireFormat::kJsonSchemas;
  std::string v;
  v.reserve(256 + (before ? before->size() : 0) + (after ? after->size() : 0) +
            (wrapped ? t.envelope_schema.size() + 32 : 0));
  if (wrapped) v += "{\"schema\":" + t.envelope_schema + ",\"payload\":";
  v += "{\"before\":";
  v += before ? *before : "null";
  v += ",\"after\":";
  v += after ? *after : "null";
  v += ",\"source\":{\"version\":";
  AppendJsonString(v, settings_.version);
  v += ",\"connector\":\"postgresql\",\"name\":";
  AppendJsonString(v, settings_.server_name);
  const int64_t src_us = ctx.source_ts_us;
  v += ",\"ts_ms\":" + std::to_string(src_us / 1000);
  v += ",\"snapshot\":";
  AppendJsonString(v, ctx.snapshot);
  v += ",\"db\":";
  AppendJsonString(v, settings_.database);
  v += ",\"sequence\":";
  {
    std::string seq = "[";
    seq += ctx.last_commit_lsn.valid() ? "\"" + std::to_string(ctx.last_commit_lsn.value()) + "\"" : "null";
    seq += ",\"" + std::to_string(ctx.lsn.value()) + "\"]";
    AppendJsonString(v, seq);
  }
  v += ",\"ts_us\":" + std::to_string(src_us);
  v += ",\"ts_ns\":" + std::to_string(src_us * 1000);
  v += ",\"schema\":";
  AppendJsonString(v, t.schema);
  v += ",\"table\":";
  AppendJsonString(v, t.table);
  v += ",\"txId\":";
  v += ctx.xid ? std::to_string(*ctx.xid) : "null";
  v += ",\"lsn\":" + std::to_string(ctx.lsn.value());
  // JsonConverter writes a struct's fields in schema order: there `transaction` comes before `op`.
  v += wrapped ? ",\"xmin\":null},\"transaction\":null,\"op\":\"" : ",\"xmin\":null},\"op\":\"";
  v.push_back(op);
  v += "\",\"ts_ms\":" + std::to_string(ctx.now_us / 1000);
  v += ",\"ts_us\":" + std::to_string(ctx.now_us);
  v += ",\"ts_ns\":" + std::to_string(ctx.now_us * 1000);
  v += wrapped ? "}}" : ",\"transaction\":null}";
  return v;
}

void EventBuilder::Insert(const TableInfo& t, const Tuple& row, char op, const ChangeContext& ctx,
                          std::vector<ChangeRecord>& out) const {
  CheckArity(t, row);
  std::string after;
  AppendRow(after, t, row, nullptr);
  out.push_back({t.topic, Key(t, row), Envelope(t, nullptr, &after, op, ctx), op});
}

void EventBuilder::Update(const TableInfo& t, char old_kind, const Tuple* old_row, const Tuple& new_row,
                          const ChangeContext& ctx, std::vector<ChangeRecord>& out) const {
  CheckArity(t, new_row);
  if (old_row != nullptr) CheckArity(t, *old_row);
  const Tuple* fallback = old_kind == 'O' ? old_row : nullptr;
  if (old_row != nullptr && !t.key_columns.empty() && !SameKey(t, old_kind, *old_row, new_row)) {
    // Primary key changed: Debezium emits a delete for the old key (+ tombstone), then a create.
    Delete(t, old_kind, *old_row, ctx, out);
    std::string after;
    AppendRow(after, t, new_row, fallback);
    out.push_back({t.topic, Key(t, new_row), Envelope(t, nullptr, &after, 'c', ctx), 'c'});
    return;
  }
  std::string after;
  AppendRow(after, t, new_row, fallback);
  if (old_kind == 'O' && old_row != nullptr) {
    std::string before;
    AppendRow(before, t, *old_row, nullptr);
    out.push_back({t.topic, Key(t, new_row), Envelope(t, &before, &after, 'u', ctx), 'u'});
  } else {
    out.push_back({t.topic, Key(t, new_row), Envelope(t, nullptr, &after, 'u', ctx), 'u'});
  }
}

void EventBuilder::Delete(const TableInfo& t, char /*old_kind*/, const Tuple& old_row,
                          const ChangeContext& ctx, std::vector<ChangeRecord>& out) const {
  CheckArity(t, old_row);
  // With the default identity the old tuple holds the key columns and nulls elsewhere: so does `before`.
  std::string before;
  AppendRow(before, t, old_row, nullptr);
  auto key = Key(t, old_row);
  out.push_back({t.topic, key, Envelope(t, &before, nullptr, 'd', ctx), 'd'});
  if (tombstones_) out.push_back({t.topic, key, std::nullopt, 0});
}

void EventBuilder::Truncate(const TableInfo& t, const ChangeContext& ctx,
                            std::vector<ChangeRecord>& out) const {
  out.push_back({t.topic, std::nullopt, Envelope(t, nullptr, nullptr, 't', ctx), 't'});
}

}  // namespace rainbow::cdc
