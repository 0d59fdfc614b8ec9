#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "services/cdc-producer/src/ack_tracker.hpp"
#include "services/cdc-producer/src/config.hpp"
#include "services/cdc-producer/src/connect_schema.hpp"
#include "services/cdc-producer/src/event_builder.hpp"
#include "services/cdc-producer/src/value_format.hpp"

namespace rainbow::cdc {
namespace {

std::string Json(uint32_t type, const std::string& text, int32_t typmod = -1) {
  std::string out;
  AppendTextValue(out, type, typmod, text);
  return out;
}

TEST(ValueFormat, TypesAsDebeziumJsonConverter) {
  EXPECT_EQ(Json(oid::kInt4, "42"), "42");
  EXPECT_EQ(Json(oid::kInt8, "-9000000000"), "-9000000000");
  EXPECT_EQ(Json(oid::kBool, "t"), "true");
  EXPECT_EQ(Json(oid::kBool, "f"), "false");
  EXPECT_EQ(Json(oid::kNumeric, "12.50"), "\"12.50\"");
  EXPECT_EQ(Json(oid::kFloat8, "1.5"), "1.5");
  EXPECT_EQ(Json(oid::kFloat8, "NaN"), "\"NaN\"");
  EXPECT_EQ(Json(oid::kText, "a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(Json(oid::kDate, "1970-01-02"), "1");
  EXPECT_EQ(Json(oid::kDate, "1969-12-31"), "-1");
  EXPECT_EQ(Json(oid::kDate, "2024-02-29"), "19782");
  // timestamp: MicroTimestamp (epoch micros) by default, Timestamp (millis) for precision <= 3.
  EXPECT_EQ(Json(oid::kTimestamp, "2024-01-02 03:04:05.123456"), "1704164645123456");
  EXPECT_EQ(Json(oid::kTimestamp, "2024-01-02 03:04:05.12", 3), "1704164645120");
  EXPECT_EQ(Json(oid::kTimestamp, "1969-12-31 23:59:59.9995", 3), "-1");
  // timestamptz: ZonedTimestamp, ISO-8601 in UTC.
  EXPECT_EQ(Json(oid::kTimestamptz, "2024-01-02 03:04:05.5+00"), "\"2024-01-02T03:04:05.5Z\"");
  EXPECT_EQ(Json(oid::kTimestamptz, "2024-01-02 03:04:05+05:30"), "\"2024-01-01T21:34:05Z\"");
  EXPECT_EQ(Json(oid::kTimestamptz, "infinity"), "\"infinity\"");
  EXPECT_EQ(Json(oid::kTime, "01:00:00.25"), "3600250000");
  EXPECT_EQ(Json(oid::kTime, "01:00:00.25", 3), "3600250");
  EXPECT_EQ(Json(oid::kTimetz, "10:00:00+02"), "\"08:00:00Z\"");
  EXPECT_EQ(Json(oid::kInterval, "01:00:00"), "3600000000");
  EXPECT_EQ(Json(oid::kInterval, "1 day -00:00:01"), "86399000000");
  EXPECT_EQ(Json(oid::kInterval, "1 mon"), std::to_string(static_cast<int64_t>(365.25 / 12 * 86400e6)));
  EXPECT_EQ(Json(oid::kUuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"");
  EXPECT_EQ(Json(oid::kJsonb, "{\"a\": 1}"), "\"{\\\"a\\\": 1}\"");
  EXPECT_EQ(Json(oid::kBytea, "\\x68656c6c6f"), "\"aGVsbG8=\"");
  EXPECT_EQ(Json(oid::kInt4, "garbage"), "\"garbage\"");
  // Out of the 64-bit microsecond range: passed through as text, no overflow.
  EXPECT_EQ(Json(oid::kTimestamp, "9999999-01-01 00:00:00"), "\"9999999-01-01 00:00:00\"");
  EXPECT_EQ(Json(oid::kInterval, "999999999 years"), "\"999999999 years\"");
  EXPECT_EQ(Json(oid::kDate, "0044-03-15 BC"), "\"0044-03-15 BC\"");
}

// Values checked against Debezium 3.3's own output (the differential test runs the full matrix).
TEST(ValueFormat, DecimalModes) {
  auto v = [](uint32_t type, const std::string& text, int32_t typmod, DecimalMode mode) {
    std::string out;
    AppendTextValue(out, type, typmod, text, mode);
    return out;
  };
  const int32_t n12_2 = (12 << 16 | 2) + 4, n3_2 = (3 << 16 | 2) + 4;
  EXPECT_EQ(v(oid::kNumeric, "12.50", n12_2, DecimalMode::kPrecise), "\"BOI=\"");
  EXPECT_EQ(v(oid::kNumeric, "-1.23", n3_2, DecimalMode::kPrecise), "\"hQ==\"");
  EXPECT_EQ(v(oid::kNumeric, "0.00", n12_2, DecimalMode::kPrecise), "\"AA==\"");
  EXPECT_EQ(v(oid::kNumeric, "1.28", n3_2, DecimalMode::kPrecise), "\"AIA=\"");   // 128: sign byte added
  EXPECT_EQ(v(oid::kNumeric, "-1.29", n3_2, DecimalMode::kPrecise), "\"/38=\"");  // -129: 0xff7f
  EXPECT_EQ(v(oid::kNumeric, "3.14159", -1, DecimalMode::kPrecise), R"({"scale":5,"value":"BMsv"})");
  EXPECT_EQ(v(oid::kNumeric, "NaN", -1, DecimalMode::kPrecise), "null");
  EXPECT_EQ(v(oid::kNumeric, "12.50", n12_2, DecimalMode::kString), "\"12.50\"");
  EXPECT_EQ(v(oid::kNumeric, "12.50", n12_2, DecimalMode::kDouble), "12.5");
  EXPECT_EQ(v(oid::kNumeric, "3.00", n12_2, DecimalMode::kDouble), "3.0");
  EXPECT_EQ(v(oid::kMoney, "-$1,234.50", -1, DecimalMode::kPrecise), "\"/h3G\"");
  EXPECT_EQ(v(oid::kMoney, "-$1,234.50", -1, DecimalMode::kString), "\"-1234.50\"");
  EXPECT_EQ(FormatIsoUtc(1'704'164'645'500'000, 6), "2024-01-02T03:04:05.500000Z");
  EXPECT_EQ(FormatIsoUtc(0, 6), "1970-01-01T00:00:00.000000Z");
}

TEST(ConnectSchema, ColumnsDefaultsAndEnvelope) {
  ColumnInfo id{"id", oid::kInt8, -1, true};
  id.optional = false;
  id.default_expr = "nextval('s.orders_id_seq'::regclass)";
  EXPECT_EQ(ColumnSchemaOpen(id, DecimalMode::kString, false), R"({"type":"int64","optional":false)");
  EXPECT_EQ(ColumnDefaultJson(id, DecimalMode::kString), "0");
  ColumnInfo status{"status", oid::kText, -1, false};
  status.default_expr = "'CREATED'::text";
  EXPECT_EQ(ColumnDefaultJson(status, DecimalMode::kString), "\"CREATED\"");
  ColumnInfo made{"made", oid::kTimestamptz, -1, false};
  made.default_expr = "now()";
  EXPECT_EQ(ColumnDefaultJson(made, DecimalMode::kString), "\"1970-01-01T00:00:00.000000Z\"");
  ColumnInfo price{"price", oid::kNumeric, (12 << 16 | 2) + 4, false};
  price.default_expr = "0";
  EXPECT_EQ(ColumnDefaultJson(price, DecimalMode::kPrecise), "\"AA==\"");
  EXPECT_EQ(ColumnDefaultJson(price, DecimalMode::kString), "\"0.00\"");
  EXPECT_EQ(ColumnSchemaOpen(price, DecimalMode::kPrecise, true),
            R"({"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,)"
            R"("parameters":{"scale":"2","connect.decimal.precision":"12"})");
  ColumnInfo flag{"flag", oid::kBool, -1, false};
  flag.default_expr = "false";
  EXPECT_EQ(ColumnDefaultJson(flag, DecimalMode::kString), "false");
  ColumnInfo mood{"mood", 99999, -1, false};
  mood.enum_labels = "sad,ok";
  EXPECT_EQ(ColumnSchemaOpen(mood, DecimalMode::kString, true),
            R"({"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,)"
            R"("parameters":{"allowed":"sad,ok"})");

  TableInfo t;
  t.schema = "rainbow";
  t.table = "orders";
  t.columns = {id, status};
  t.key_columns = {0};
  const auto key = nlohmann::json::parse(KeySchema(t, "rainbow", DecimalMode::kString));
  EXPECT_EQ(key["name"], "rainbow.rainbow.orders.Key");
  EXPECT_EQ(key["fields"][0],
            nlohmann::json::parse(R"({"type":"int64","optional":false,"default":0,"field":"id"})"));
  const auto env = nlohmann::json::parse(EnvelopeSchema(t, "rainbow", DecimalMode::kString));
  EXPECT_EQ(env["name"], "rainbow.rainbow.orders.Envelope");
  EXPECT_EQ(env["version"], 2);
  EXPECT_EQ(env["fields"][0]["name"], "rainbow.rainbow.orders.Value");
  EXPECT_EQ(env["fields"][0]["field"], "before");
  EXPECT_EQ(env["fields"][2]["name"], "io.debezium.connector.postgresql.Source");
  EXPECT_EQ(env["fields"][3]["field"], "transaction");
  EXPECT_EQ(env["fields"][4]["field"], "op");
}

TableInfo Orders() {
  TableInfo t;
  t.oid = 1;
  t.schema = "rainbow";
  t.table = "orders";
  t.topic = "rainbow.public.orders";
  t.columns = {
      {"id", oid::kInt8, -1, true}, {"status", oid::kText, -1, false}, {"total", oid::kNumeric, -1, false}};
  t.key_columns = {0};
  return t;
}

TupleValue T(std::string_view s) { return {TupleValue::Kind::kText, s}; }
TupleValue N() { return {TupleValue::Kind::kNull, {}}; }
TupleValue U() { return {TupleValue::Kind::kUnchanged, {}}; }

ChangeContext Ctx() {
  ChangeContext c;
  c.lsn = Lsn(1000);
  c.last_commit_lsn = Lsn(900);
  c.xid = 77;
  c.source_ts_us = 1'700'000'000'123'456;
  c.now_us = 1'700'000'001'000'000;
  return c;
}

EventBuilder Builder(bool tombstones = true) {
  return EventBuilder({"0.1.0", "rainbow", "rainbow"}, tombstones);
}

TEST(EventBuilder, InsertEnvelope) {
  std::vector<ChangeRecord> out;
  Builder().Insert(Orders(), {T("7"), T("NEW"), T("10.00")}, 'c', Ctx(), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].topic, "rainbow.public.orders");
  EXPECT_EQ(*out[0].key, "{\"id\":7}");
  const auto v = nlohmann::json::parse(*out[0].value);
  EXPECT_TRUE(v["before"].is_null());
  EXPECT_EQ(v["after"], nlohmann::json::parse(R"({"id":7,"status":"NEW","total":"10.00"})"));
  EXPECT_EQ(v["op"], "c");
  EXPECT_EQ(v["ts_ms"], 1'700'000'001'000);
  EXPECT_TRUE(v["transaction"].is_null());
  const auto& s = v["source"];
  EXPECT_EQ(s["connector"], "postgresql");
  EXPECT_EQ(s["name"], "rainbow");
  EXPECT_EQ(s["db"], "rainbow");
  EXPECT_EQ(s["schema"], "rainbow");
  EXPECT_EQ(s["table"], "orders");
  EXPECT_EQ(s["snapshot"], "false");
  EXPECT_EQ(s["txId"], 77);
  EXPECT_EQ(s["lsn"], 1000);
  EXPECT_EQ(s["ts_ms"], 1'700'000'000'123);
  EXPECT_EQ(s["sequence"], "[\"900\",\"1000\"]");
}

TEST(EventBuilder, UpdateDefaultAndFullIdentityAndToast) {
  std::vector<ChangeRecord> out;
  auto b = Builder();
  b.Update(Orders(), 0, nullptr, {T("7"), T("PAID"), U()}, Ctx(), out);
  auto v = nlohmann::json::parse(*out[0].value);
  EXPECT_TRUE(v["before"].is_null());
  EXPECT_EQ(v["after"]["total"], "__debezium_unavailable_value");
  EXPECT_EQ(v["op"], "u");
  out.clear();
  Tuple old = {T("7"), T("NEW"), T("10.00")};
  b.Update(Orders(), 'O', &old, {T("7"), T("PAID"), U()}, Ctx(), out);
  v = nlohmann::json::parse(*out[0].value);
  EXPECT_EQ(v["before"]["status"], "NEW");
  EXPECT_EQ(v["after"]["total"], "10.00");  // filled from the full old image
}

TEST(EventBuilder, KeyChangeIsDeleteTombstoneCreate) {
  std::vector<ChangeRecord> out;
  Tuple old = {T("7"), N(), N()};
  Builder().Update(Orders(), 'K', &old, {T("8"), T("NEW"), T("1")}, Ctx(), out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].op, 'd');
  EXPECT_EQ(*out[0].key, "{\"id\":7}");
  EXPECT_FALSE(out[1].value.has_value());
  EXPECT_EQ(out[2].op, 'c');
  EXPECT_EQ(*out[2].key, "{\"id\":8}");
}

TEST(EventBuilder, DeleteTombstoneTruncate) {
  std::vector<ChangeRecord> out;
  Builder().Delete(Orders(), 'K', {T("7"), N(), N()}, Ctx(), out);
  ASSERT_EQ(out.size(), 2u);
  auto v = nlohmann::json::parse(*out[0].value);
  EXPECT_EQ(v["before"], nlohmann::json::parse(R"({"id":7,"status":null,"total":null})"));
  EXPECT_TRUE(v["after"].is_null());
  EXPECT_EQ(*out[1].key, "{\"id\":7}");
  EXPECT_FALSE(out[1].value);
  out.clear();
  Builder(false).Delete(Orders(), 'K', {T("7"), N(), N()}, Ctx(), out);
  EXPECT_EQ(out.size(), 1u);
  out.clear();
  Builder().Truncate(Orders(), Ctx(), out);
  EXPECT_FALSE(out[0].key);
  EXPECT_EQ(nlohmann::json::parse(*out[0].value)["op"], "t");
  EXPECT_THROW(Builder().Insert(Orders(), {T("1")}, 'c', Ctx(), out), EventError);
}

TEST(AckTracker, ConfirmsOnlyFullyDeliveredPrefix) {
  AckTracker t;
  auto a = t.Open();
  t.AddEvent(a);
  t.AddEvent(a);
  t.Close(a, Lsn(100));
  auto b = t.Open();
  t.AddEvent(b);
  t.Close(b, Lsn(200));
  EXPECT_EQ(t.Confirmable(), Lsn());
  t.Delivered(b, true);  // later transaction acked first: still nothing
  EXPECT_EQ(t.Confirmable(), Lsn());
  t.Delivered(a, true);
  EXPECT_EQ(t.Confirmable(), Lsn());
  t.Delivered(a, true);
  EXPECT_EQ(t.Confirmable(), Lsn(200));
  auto c = t.Open();  // open transaction: idle positions are not safe
  t.AddIdlePosition(Lsn(250));
  t.AddEvent(c);
  EXPECT_EQ(t.Confirmable(), Lsn(200));
  t.Close(c, Lsn(300));
  t.AddIdlePosition(Lsn(350));
  EXPECT_EQ(t.Confirmable(), Lsn(200));
  t.Delivered(c, true);
  EXPECT_EQ(t.Confirmable(), Lsn(350));
  EXPECT_EQ(t.pending_events(), 0u);
}

TEST(AckTracker, FailureFreezesPosition) {
  AckTracker t;
  auto a = t.Open();
  t.AddEvent(a);
  t.Close(a, Lsn(100));
  t.Delivered(a, false, "broker down");
  EXPECT_TRUE(t.failed());
  EXPECT_EQ(t.first_error(), "broker down");
  auto b = t.Open();
  t.Close(b, Lsn(200));
  EXPECT_EQ(t.Confirmable(), Lsn());
}

TEST(Lsn, FormatAndParse) {
  EXPECT_EQ(Lsn(0x16B374D848).ToString(), "16/B374D848");
  EXPECT_EQ(Lsn::Parse("16/B374D848")->value(), 0x16B374D848u);
  EXPECT_FALSE(Lsn::Parse("16B374D848"));
  EXPECT_FALSE(Lsn::Parse("1/x"));
}

TEST(Config, ListsAndValidation) {
  EXPECT_EQ(SplitList(" a, b ,,c"), (std::vector<std::string>{"a", "b", "c"}));
  std::map<std::string, std::string> vars = {{"PG_DSN", "host=x"}, {"KAFKA_BROKERS", "k:1"}};
  config::Env env([&](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    return it == vars.end() ? std::nullopt : std::optional(it->second);
  });
  auto c = LoadConfig(env);
  EXPECT_EQ(c.slot, "rainbow_cdc");
  EXPECT_EQ(c.topic_prefix, "rainbow.public");
  EXPECT_EQ(c.schemas, std::vector<std::string>{"rainbow"});
  vars["CDC_SLOT"] = "Bad-Slot";
  config::Env env2([&](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    return it == vars.end() ? std::nullopt : std::optional(it->second);
  });
  EXPECT_THROW(LoadConfig(env2), config::ConfigError);
}

TEST(EventBuilder, JsonSchemasWrapsKeyAndValue) {
  EnvelopeSettings settings{"0.1.0", "rainbow", "rainbow"};
  settings.key_format = WireFormat::kJsonSchemas;
  settings.value_format = WireFormat::kJsonSchemas;
  TableInfo t;
  t.schema = "rainbow";
  t.table = "orders";
  t.topic = "rainbow.public.orders";
  t.columns = {{"id", oid::kInt8, -1, true}, {"qty", oid::kInt4, -1, false}};
  t.columns[0].optional = false;
  t.columns[1].default_expr = "7";  // nullable with a default: JsonConverter writes the default for a null
  t.key_columns = {0};
  AttachSchemas(t, settings);
  std::vector<ChangeRecord> out;
  EventBuilder(settings, true).Insert(t, {T("5"), N()}, 'c', Ctx(), out);
  ASSERT_EQ(out.size(), 1u);
  const auto k = nlohmann::json::parse(*out[0].key);
  EXPECT_EQ(k["payload"], nlohmann::json::parse(R"({"id":5})"));
  EXPECT_EQ(k["schema"]["name"], "rainbow.rainbow.orders.Key");
  EXPECT_EQ(out[0].value->find("\"transaction\":null,\"op\":\"c\"") != std::string::npos, true);
  const auto v = nlohmann::json::parse(*out[0].value);
  EXPECT_EQ(v["payload"]["after"], nlohmann::json::parse(R"({"id":5,"qty":7})"));
  EXPECT_EQ(v["schema"]["name"], "rainbow.rainbow.orders.Envelope");
}

}  // namespace
}  // namespace rainbow::cdc
