#include "services/cdc-producer/src/connect_schema.hpp"

#include <regex>

#include "services/cdc-producer/src/event_builder.hpp"

namespace rainbow::cdc {
namespace {

// A schema's opening part: `{"type":T[,"fields":[…]],"optional":O[,"name":N,"version":V][,"doc":D]
// [,"parameters":P]`, in JsonConverter's order; the caller appends `"default"`/`"field"` and closes it.
struct SchemaParts {
  std::string_view name;
  int version = 0;
  std::string_view parameters;  // a JSON object
  std::string_view doc;
  std::string_view fields;  // struct members, a JSON array
};

std::string Open(std::string_view type, bool optional, const SchemaParts& p = {}) {
  std::string s = "{\"type\":\"";
  s += type;
  s += "\"";
  if (!p.fields.empty()) {
    s += ",\"fields\":";
    s += p.fields;
  }
  s += ",\"optional\":";
  s += optional ? "true" : "false";
  if (!p.name.empty()) {
    s += ",\"name\":";
    AppendJsonString(s, p.name);
  }
  if (p.version > 0) s += ",\"version\":" + std::to_string(p.version);
  if (!p.doc.empty()) {
    s += ",\"doc\":";
    AppendJsonString(s, p.doc);
  }
  if (!p.parameters.empty()) {
    s += ",\"parameters\":";
    s += p.parameters;
  }
  return s;
}

std::string Open(std::string_view type, bool optional, std::string_view name, int version = 1,
                 std::string_view parameters = {}) {
  return Open(type, optional, SchemaParts{name, version, parameters, {}, {}});
}

std::string Field(std::string open, std::string_view field) {
  open += ",\"field\":";
  AppendJsonString(open, field);
  open.push_back('}');
  return open;
}

int Precision(int32_t type_modifier) { return type_modifier < 0 ? 6 : type_modifier; }

std::string DecimalParameters(int scale, int precision) {
  std::string p = "{\"scale\":\"" + std::to_string(scale) + "\"";
  if (precision > 0) p += ",\"connect.decimal.precision\":\"" + std::to_string(precision) + "\"";
  return p + "}";
}

// Debezium's PostgresDefaultValueConverter: the default expression -> the text of a value, or nullopt.
// Function calls (nextval(...), now()) and CURRENT_TIMESTAMP & co. become the type's placeholder.
std::optional<std::string> DefaultText(const ColumnInfo& c, std::string_view placeholder) {
  std::string expr = *c.default_expr;
  static const std::regex kFunction(R"(^[(]?[A-Za-z0-9_.]+\((?:.+(?:, ?.+)*)?\))");
  std::string lower = expr;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (std::regex_search(expr, kFunction) || lower == "current_timestamp" || lower == "current_time" ||
      lower == "current_date" || lower == "localtime" || lower == "localtimestamp") {
    return std::string(placeholder);
  }
  if (expr.find('\'') == std::string::npos) {
    if (expr.rfind("NULL::", 0) == 0) return std::nullopt;
    return expr;
  }
  const auto open = expr.find('\'');
  std::string out;
  for (size_t i = open + 1; i < expr.size(); ++i) {
    if (expr[i] == '\'') {
      if (i + 1 < expr.size() && expr[i + 1] == '\'') {
        out.push_back('\'');
        ++i;
        continue;
      }
      break;
    }
    out.push_back(expr[i]);
  }
  return out;
}

std::string Trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\n");
  const auto e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

void AppendExactValue(std::string& out, const ColumnInfo& c, std::string_view text, DecimalMode mode) {
  if (c.type_oid == oid::kTimestamptz) {
    int64_t us = 0;
    if (ParseTimestampMicros(text, us)) {
      // ZonedTimestamp with the column's fractional width (6 unless timestamptz(p)).
      AppendJsonString(out, FormatIsoUtc(us, c.type_modifier < 0 ? 6 : c.type_modifier));
      return;
    }
  }
  AppendTextValue(out, c.type_oid, c.type_modifier, text, mode);
}

std::string ColumnSchemaOpen(const ColumnInfo& c, DecimalMode mode, bool optional) {
  switch (c.type_oid) {
    case oid::kBool:
      return Open("boolean", optional);
    case oid::kInt2:
      return Open("int16", optional);
    case oid::kInt4:
      return Open("int32", optional);
    case oid::kInt8:
    case oid::kOid:
      return Open("int64", optional);
    case oid::kFloat4:
      return Open("float", optional);
    case oid::kFloat8:
      return Open("double", optional);
    case oid::kNumeric:
    case oid::kMoney: {
      if (mode == DecimalMode::kString) return Open("string", optional);
      if (mode == DecimalMode::kDouble) return Open("double", optional);
      if (c.type_oid == oid::kMoney) {
        return Open("bytes", optional, "org.apache.kafka.connect.data.Decimal", 1,
                    DecimalParameters(kMoneyFractionDigits, 0));
      }
      const int scale = NumericScale(c.type_modifier);
      if (scale < 0) {
        return Open("struct", optional,
                    SchemaParts{"io.debezium.data.VariableScaleDecimal",
                                1,
                                {},
                                "Variable scaled decimal",
                                R"([{"type":"int32","optional":false,"field":"scale"},)"
                                R"({"type":"bytes","optional":false,"field":"value"}])"});
      }
      return Open("bytes", optional, "org.apache.kafka.connect.data.Decimal", 1,
                  DecimalParameters(scale, NumericPrecision(c.type_modifier)));
    }
    case oid::kDate:
      return Open("int32", optional, "io.debezium.time.Date", 1);
    case oid::kTimestamp:
      return Precision(c.type_modifier) <= 3 ? Open("int64", optional, "io.debezium.time.Timestamp", 1)
                                             : Open("int64", optional, "io.debezium.time.MicroTimestamp", 1);
    case oid::kTimestamptz:
      return Open("string", optional, "io.debezium.time.ZonedTimestamp", 1);
    case oid::kTime:
      return Precision(c.type_modifier) <= 3 ? Open("int32", optional, "io.debezium.time.Time", 1)
                                             : Open("int64", optional, "io.debezium.time.MicroTime", 1);
    case oid::kTimetz:
      return Open("string", optional, "io.debezium.time.ZonedTime", 1);
    case oid::kInterval:
      return Open("int64", optional, "io.debezium.time.MicroDuration", 1);
    case oid::kBytea:
      return Open("bytes", optional);
    case oid::kUuid:
      return Open("string", optional, "io.debezium.data.Uuid", 1);
    case oid::kJson:
    case oid::kJsonb:
      return Open("string", optional, "io.debezium.data.Json", 1);
    case oid::kXml:
      return Open("string", optional, "io.debezium.data.Xml", 1);
    default:
      break;
  }
  if (c.enum_labels) {
    std::string p = "{\"allowed\":";
    AppendJsonString(p, *c.enum_labels);
    return Open("string", optional, "io.debezium.data.Enum", 1, p + "}");
  }
  return Open("string", optional);  // text, varchar, bpchar, name, inet, ... (and arrays, as text)
}

std::optional<std::string> ColumnDefaultJson(const ColumnInfo& c, DecimalMode mode) {
  if (!c.default_expr) return std::nullopt;
  std::optional<std::string> text;
  std::string type = c.type_name;
  switch (c.type_oid) {
    case oid::kBool: {
      text = DefaultText(c, "false");
      if (!text) return std::nullopt;
      std::string v = Trim(*text);
      for (char& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return v == "true" ? "true" : "false";  // Java's Boolean.parseBoolean
    }
    case oid::kInt2:
    case oid::kInt4:
    case oid::kInt8:
      text = DefaultText(c, "0");
      break;
    case oid::kFloat4:
    case oid::kFloat8:
    case oid::kNumeric:
      text = DefaultText(c, "0.0");
      break;
    case oid::kBpchar:
    case oid::kVarchar:
    case oid::kText:
    case oid::kXml:
      text = DefaultText(c, "");
      break;
    case oid::kJson:
    case oid::kJsonb:
      text = DefaultText(c, "{}");
      break;
    case oid::kUuid:
      text = DefaultText(c, "00000000-0000-0000-0000-000000000000");
      break;
    case oid::kDate:
    case oid::kTimestamp:
      text = DefaultText(c, "1970-01-01");
      break;
    case oid::kTimestamptz:
      text = DefaultText(c, "1970-01-01 00:00:00+00");
      break;
    case oid::kTime:
      text = DefaultText(c, "00:00:00");
      break;
    default:
      if (c.enum_labels) {
        // 'ok'::mood
        if (c.default_expr->find("::") == std::string::npos) return std::nullopt;
        text = DefaultText(c, "");
        break;
      }
      return std::nullopt;  // money, bytea, interval, inet, ...: no default in Debezium's schema
  }
  if (!text) return std::nullopt;
  std::string v = Trim(*text);
  if (c.type_oid == oid::kNumeric && mode == DecimalMode::kPrecise && NumericScale(c.type_modifier) < 0) {
    return std::nullopt;  // a VariableScaleDecimal struct cannot be a default (KAFKA-12694)
  }
  if (c.type_oid == oid::kFloat4 || c.type_oid == oid::kFloat8) {
    std::string out;
    AppendTextValue(out, c.type_oid, c.type_modifier, v);
    if (out.find_first_of(".eE") == std::string::npos) out += ".0";
    return out;
  }
  if (c.type_oid == oid::kNumeric && mode == DecimalMode::kString) {
    // BigDecimal(text) rescaled to the column's scale, as a plain string.
    const int scale = NumericScale(c.type_modifier);
    std::string digits = v;
    if (scale > 0) {
      auto dot = digits.find('.');
      int have = dot == std::string::npos ? 0 : static_cast<int>(digits.size() - dot - 1);
      if (dot == std::string::npos) digits += ".";
      digits.append(static_cast<size_t>(std::max(0, scale - have)), '0');
    }
    std::string out;
    AppendJsonString(out, digits);
    return out;
  }
  std::string out;
  AppendExactValue(out, c, v, mode);
  return out;
}

std::optional<std::string> NotNullFallbackJson(const ColumnInfo& c, DecimalMode mode) {
  switch (c.type_oid) {
    case oid::kBool:
      return "false";
    case oid::kInt2:
    case oid::kInt4:
    case oid::kInt8:
    case oid::kOid:
    case oid::kDate:
    case oid::kTime:
    case oid::kTimestamp:
    case oid::kInterval:
      return "0";
    case oid::kFloat4:
    case oid::kFloat8:
      return "0.0";
    case oid::kNumeric:
    case oid::kMoney: {
      const int scale = c.type_oid == oid::kMoney ? kMoneyFractionDigits : NumericScale(c.type_modifier);
      if (scale < 0) return std::nullopt;
      const std::string zero = scale > 0 ? "0." + std::string(static_cast<size_t>(scale), '0') : "0";
      std::string out;
      AppendTextValue(out, oid::kNumeric, c.type_oid == oid::kMoney ? -1 : c.type_modifier, zero, mode);
      if (c.type_oid == oid::kMoney && mode == DecimalMode::kPrecise) out = "\"AA==\"";
      return out;
    }
    case oid::kTimestamptz:
      return "\"1970-01-01T00:00:00Z\"";
    case oid::kTimetz:
      return "\"00:00:00Z\"";
    case oid::kText:
    case oid::kVarchar:
    case oid::kBpchar:
    case oid::kName:
    case oid::kBytea:
      return "\"\"";
    default:
      return std::nullopt;
  }
}

std::string KeySchema(const TableInfo& t, const std::string& server_name, DecimalMode mode) {
  if (t.key_columns.empty()) return {};
  std::string s = "{\"type\":\"struct\",\"fields\":[";
  bool first = true;
  for (size_t i : t.key_columns) {
    const auto& c = t.columns[i];
    if (!first) s.push_back(',');
    first = false;
    std::string f = ColumnSchemaOpen(c, mode, c.optional);
    if (auto d = ColumnDefaultJson(c, mode)) f += ",\"default\":" + *d;
    s += Field(std::move(f), c.name);
  }
  s += "],\"optional\":false,\"name\":";
  AppendJsonString(s, server_name + "." + t.schema + "." + t.table + ".Key");
  return s + "}";
}

std::string EnvelopeSchema(const TableInfo& t, const std::string& server_name, DecimalMode mode) {
  const std::string prefix = server_name + "." + t.schema + "." + t.table;
  std::string fields;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    const auto& c = t.columns[i];
    if (i > 0) fields.push_back(',');
    std::string f = ColumnSchemaOpen(c, mode, c.optional);
    if (auto d = ColumnDefaultJson(c, mode)) f += ",\"default\":" + *d;
    fields += Field(std::move(f), c.name);
  }
  std::string value = "{\"type\":\"struct\",\"fields\":[" + fields + "],\"optional\":true,\"name\":";
  AppendJsonString(value, prefix + ".Value");
  std::string s = "{\"type\":\"struct\",\"fields\":[";
  s += value + ",\"field\":\"before\"},";
  s += value + ",\"field\":\"after\"},";
  s +=
      R"({"type":"struct","fields":[{"type":"string","optional":false,"field":"version"},)"
      R"({"type":"string","optional":false,"field":"connector"},)"
      R"({"type":"string","optional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},)"
      R"({"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":)"
      R"("true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},)"
      R"("default":"false","field":"snapshot"},{"type":"string","optional":false,"field":"db"},)"
      R"({"type":"string","optional":true,"field":"sequence"},{"type":"int64","optional":true,"field":"ts_us"},)"
      R"({"type":"int64","optional":true,"field":"ts_ns"},{"type":"string","optional":false,"field":"schema"},)"
      R"({"type":"string","optional":false,"field":"table"},{"type":"int64","optional":true,"field":"txId"},)"
      R"({"type":"int64","optional":true,"field":"lsn"},{"type":"int64","optional":true,"field":"xmin"}],)"
      R"("optional":false,"name":"io.debezium.connector.postgresql.Source","version":1,"field":"source"},)"
      R"({"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},)"
      R"({"type":"int64","optional":false,"field":"total_order"},)"
      R"({"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,)"
      R"("name":"event.block","version":1,"field":"transaction"},)"
      R"({"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},)"
      R"({"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"}],)"
      R"("optional":false,"name":)";
  AppendJsonString(s, prefix + ".Envelope");
  return s + ",\"version\":2}";
}

}  // namespace rainbow::cdc
