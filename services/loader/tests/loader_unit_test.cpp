// Pure logic of the loader: event parsing, COPY escaping, lake naming and compression, SQL shapes.
#include <gtest/gtest.h>
#include <zlib.h>

#include "services/loader/src/change_event.hpp"
#include "services/loader/src/clickhouse_client.hpp"
#include "services/loader/src/clickhouse_sink.hpp"
#include "services/loader/src/dimensions.hpp"
#include "services/loader/src/lake_writer.hpp"
#include "services/loader/src/model_types.hpp"
#include "services/loader/src/reconcile.hpp"
#include "services/loader/src/warehouse_writer.hpp"

namespace rainbow::loader {
namespace {

kafka::ConsumedMessage Message(std::optional<std::string> key, std::optional<std::string> value,
                               std::string topic = "rainbow.public.customers") {
  kafka::ConsumedMessage m;
  m.topic = std::move(topic);
  m.partition = 2;
  m.offset = 41;
  m.key = std::move(key);
  m.value = std::move(value);
  return m;
}

const std::optional<std::string>* Column(const ChangeEvent& e, const std::string& name) {
  for (const auto& [n, v] : e.row)
    if (n == name) return &v;
  return nullptr;
}

TEST(ChangeEvent, ParsesAnInsertWithItsColumnsAsText) {
  const auto e = ParseChangeEvent(Message(
      R"({"id":7})",
      R"({"before":null,"after":{"id":7,"email":"a@b","score":1.5,"vip":true,"note":null,"tags":[1,2]},)"
      R"("source":{"ts_ms":1700000000123,"lsn":99,"table":"customers"},"op":"c","ts_ms":1})"));
  EXPECT_EQ(e.table, "customers");
  EXPECT_EQ(e.op, 'c');
  EXPECT_EQ(e.key, R"({"id":7})");
  EXPECT_EQ(e.source_ts_ms, 1700000000123);
  EXPECT_EQ(e.lsn, 99);
  ASSERT_NE(Column(e, "id"), nullptr);
  EXPECT_EQ(**Column(e, "id"), "7");
  EXPECT_EQ(**Column(e, "email"), "a@b");
  EXPECT_EQ(**Column(e, "score"), "1.5");
  EXPECT_EQ(**Column(e, "vip"), "true");
  EXPECT_FALSE(Column(e, "note")->has_value());
  EXPECT_EQ(**Column(e, "tags"), "[1,2]");
}

TEST(ChangeEvent, UnwrapsTheSchemaPayloadForm) {
  const auto e = ParseChangeEvent(Message(R"({"schema":{"type":"struct"},"payload":{"id":3}})",
                                          R"({"schema":{"type":"struct"},"payload":{"before":null,)"
                                          R"("after":{"id":3},"source":{"ts_ms":5},"op":"r"}})"));
  EXPECT_EQ(e.op, 'r');
  EXPECT_EQ(e.key, R"({"id":3})");
  EXPECT_EQ(**Column(e, "id"), "3");
}

TEST(ChangeEvent, ADeleteTakesMissingKeyColumnsFromTheKey) {
  const auto e = ParseChangeEvent(Message(R"({"line_no":2,"order_id":9})",
                                          R"({"before":{"order_id":9,"line_no":null},"after":null,)"
                                          R"("source":{"ts_ms":5},"op":"d"})",
                                          "rainbow.public.orderdetails"));
  EXPECT_EQ(e.op, 'd');
  EXPECT_EQ(e.key, R"({"line_no":2,"order_id":9})");  // members sorted: one spelling per key
  EXPECT_EQ(**Column(e, "line_no"), "2");
  EXPECT_EQ(**Column(e, "order_id"), "9");
}

TEST(ChangeEvent, TombstonesAndTruncates) {
  EXPECT_EQ(ParseChangeEvent(Message(R"({"id":1})", std::nullopt)).op, 'x');
  const auto t = ParseChangeEvent(
      Message(std::nullopt, R"({"before":null,"after":null,"source":{"ts_ms":5},"op":"t"})"));
  EXPECT_EQ(t.op, 't');
  EXPECT_TRUE(t.key.empty());
}

TEST(ChangeEvent, PoisonIsNamed) {
  const auto reason = [](kafka::ConsumedMessage m) -> std::string {
    try {
      ParseChangeEvent(m);
    } catch (const PoisonError& e) {
      return e.what();
    }
    return "parsed";
  };
  EXPECT_NE(reason(Message(R"({"id":1})", "{not json")).find("not JSON"), std::string::npos);
  EXPECT_NE(reason(Message(R"({"id":1})", R"({"op":"c","source":{"ts_ms":1}})")).find("after"),
            std::string::npos);
  EXPECT_NE(reason(Message(R"({"id":1})", R"({"op":"z","after":{},"source":{"ts_ms":1}})")).find("op"),
            std::string::npos);
  EXPECT_NE(reason(Message(std::nullopt, R"({"op":"c","after":{"id":1},"source":{"ts_ms":1}})")).find("key"),
            std::string::npos);
  EXPECT_NE(reason(Message(R"({"id":1})", R"({"op":"c","after":{"id":1}})")).find("source"),
            std::string::npos);
  EXPECT_NE(reason(Message(R"({"id":1})", R"({"op":"c","after":{"id":1,"_op":"x"},"source":{"ts_ms":1}})"))
                .find("starts with '_'"),
            std::string::npos);
  EXPECT_NE(reason(Message(R"({"id":1})", R"({"op":"c","after":{"Bad Name":1},"source":{"ts_ms":1}})"))
                .find("identifier"),
            std::string::npos);
  EXPECT_NE(
      reason(Message(R"({"id":1})", R"({"op":"c","after":{"id":1},"source":{"ts_ms":1}})", "a.b.Not-A-Table"))
          .find("does not name a table"),
      std::string::npos);
  EXPECT_NE(
      reason(Message(R"({"id":1})", R"({"op":"c","after":{"id":1},"source":{"ts_ms":1,"table":"orders"}})"))
          .find("table 'orders'"),
      std::string::npos);
}

TEST(CopyText, EscapesTheFourSpecialCharacters) {
  std::string out;
  AppendCopyText(out, "a\\b\tc\nd\re");
  EXPECT_EQ(out, "a\\\\b\\tc\\nd\\re");
}

TEST(Times, UtcTextForms) {
  EXPECT_EQ(IsoUtc(1700000000123), "2023-11-14 22:13:20.123+00");
  EXPECT_EQ(IsoUtc(-1), "1969-12-31 23:59:59.999+00");
  EXPECT_EQ(UtcDate(1700000000123), "2023-11-14");
}

TEST(Lake, ObjectNamesDependOnlyOnPosition) {
  EXPECT_EQ(LakeObjectKey("orders", "2024-01-02", "rainbow.public.orders", 1, 20000),
            "orders/date=2024-01-02/rainbow.public.orders-1-000000020000.json.gz");
}

TEST(Lake, GzipIsDeterministicAndRoundTrips) {
  const std::string data = "{\"a\":1}\n{\"b\":2}\n";
  const auto z = Gzip(data);
  EXPECT_EQ(z, Gzip(data));
  ASSERT_GT(z.size(), 10u);
  EXPECT_EQ(static_cast<unsigned char>(z[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(z[1]), 0x8b);
  std::string back(data.size() * 2, '\0');
  z_stream s{};
  ASSERT_EQ(inflateInit2(&s, 15 + 16), Z_OK);
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.data()));
  s.avail_in = static_cast<uInt>(z.size());
  s.next_out = reinterpret_cast<Bytef*>(back.data());
  s.avail_out = static_cast<uInt>(back.size());
  ASSERT_EQ(inflate(&s, Z_FINISH), Z_STREAM_END);
  back.resize(s.total_out);
  inflateEnd(&s);
  EXPECT_EQ(back, data);
}

TEST(Dimensions, TrackedAttributesOpenVersionsUntrackedOnesDoNot) {
  const Dimension* products = DimensionOf("products");
  ASSERT_NE(products, nullptr);
  const auto sql = Scd2Statements(*products, "changes");
  ASSERT_EQ(sql.size(), 5u);
  // The closing statement compares tracked attributes only; the in-place one untracked only.
  EXPECT_NE(sql[1].find("d.price IS DISTINCT FROM"), std::string::npos);
  EXPECT_EQ(sql[1].find("d.sold_count IS DISTINCT FROM"), std::string::npos);
  EXPECT_NE(sql[3].find("d.sold_count IS DISTINCT FROM"), std::string::npos);
  EXPECT_EQ(sql[3].find("d.price IS DISTINCT FROM"), std::string::npos);
  EXPECT_EQ(DimensionOf("orders"), nullptr);
  // A dimension without untracked attributes has no in-place statement.
  EXPECT_EQ(Scd2Statements(*DimensionOf("customers"), "c").size(), 4u);
}

TEST(ModelTypes, LiteralsTheModelCasts) {
  EXPECT_TRUE(IsValidLiteral("bigint", "-42"));
  EXPECT_FALSE(IsValidLiteral("bigint", "4x"));
  EXPECT_FALSE(IsValidLiteral("integer", "3000000000"));
  EXPECT_TRUE(IsValidLiteral("numeric(12,2)", "12.50"));
  EXPECT_TRUE(IsValidLiteral("numeric", "-1e3"));
  EXPECT_FALSE(IsValidLiteral("numeric", "not-a-price"));
  EXPECT_FALSE(IsValidLiteral("numeric", "."));
  EXPECT_TRUE(IsValidLiteral("boolean", "false"));
  EXPECT_FALSE(IsValidLiteral("boolean", "yes"));
  EXPECT_TRUE(IsValidLiteral("timestamptz", "2024-01-02T03:04:05.5Z"));
  EXPECT_FALSE(IsValidLiteral("timestamptz", "yesterday"));
  EXPECT_TRUE(IsValidLiteral("text", "anything"));
}

TEST(ModelTypes, AnOrderLineWithABadPriceIsPoison) {
  const auto e = ParseChangeEvent(
      Message(R"({"order_id":1,"line_no":1})",
              R"({"after":{"order_id":1,"line_no":1,"price":"abc"},"source":{"ts_ms":5},"op":"c"})",
              "rainbow.public.orderdetails"));
  EXPECT_THROW(CheckModelTypes(e), PoisonError);
  // Tables outside the model are mirrored whatever their values.
  EXPECT_NO_THROW(CheckModelTypes(ParseChangeEvent(Message(
      R"({"id":1})", R"({"after":{"id":"x"},"source":{"ts_ms":5},"op":"c"})", "rainbow.public.brands"))));
}

TEST(ClickHouse, ErrorCodesAreReadAndClassified) {
  EXPECT_EQ(ClickHouseErrorCode("Code: 62, e.displayText() = DB::Exception: Syntax error"), 62);
  EXPECT_EQ(ClickHouseErrorCode("Service Unavailable"), 0);
  EXPECT_TRUE(IsPermanentClickHouseCode(62));    // syntax
  EXPECT_TRUE(IsPermanentClickHouseCode(27));    // cannot parse input
  EXPECT_FALSE(IsPermanentClickHouseCode(0));    // no code: transport or overload
  EXPECT_FALSE(IsPermanentClickHouseCode(252));  // too many parts: wait and retry
}

TEST(ClickHouse, MigrationFilesSplitIntoStatements) {
  const auto st = SplitStatements(
      "-- a comment; with a semicolon\nCREATE TABLE a (x UInt8)\nENGINE = Log;\n\n"
      "CREATE VIEW v AS\nSELECT 1;\n");
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0], "CREATE TABLE a (x UInt8)\nENGINE = Log");
  EXPECT_EQ(st[1], "CREATE VIEW v AS\nSELECT 1");
  // The embedded migrations: the tables, then the four serving views.
  const auto m = ClickHouseMigrations();
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m[0].version, 1);
  EXPECT_EQ(SplitStatements(m[0].sql).size(), 13u);
}

TEST(ClickHouse, ExportsReadVersionRangesAndLoggedDeletes) {
  const auto& tables = ServingTables();
  ASSERT_EQ(tables.size(), 9u);
  const auto& fact = tables.back();
  EXPECT_EQ(fact.name, "fact_sales");
  EXPECT_TRUE(fact.deletes);
  const auto sql = ServingExportSql(fact, 10, 20);
  EXPECT_TRUE(sql.starts_with("COPY (SELECT ")) << sql;
  EXPECT_NE(sql.find("t._version > 10 AND t._version <= 20"), std::string::npos) << sql;
  EXPECT_NE(sql.find("d._version > 10 AND d._version <= 20"), std::string::npos) << sql;
  EXPECT_NE(sql.find("jsonb_populate_record(NULL::warehouse.fact_sales, d.old_row)"), std::string::npos);
  EXPECT_TRUE(sql.ends_with(") TO STDOUT"));
  // Dimensions keep no delete log: an SCD2 delete is an update (is_deleted).
  for (const auto& t : tables) {
    if (t.name.starts_with("dim_")) {
      EXPECT_FALSE(t.deletes) << t.name;
      EXPECT_EQ(ServingExportSql(t, 0, 1).find("deleted_rows"), std::string::npos);
    }
  }
}

TEST(ClickHouse, DecimalsCompareWithoutTrailingZeros) {
  EXPECT_EQ(TrimDecimal("37.500000\n"), "37.5");
  EXPECT_EQ(TrimDecimal("100.00"), "100");
  EXPECT_EQ(TrimDecimal("0.000000"), "0");
  EXPECT_EQ(TrimDecimal("1200"), "1200");
  EXPECT_EQ(TrimDecimal(""), "0");
}

}  // namespace
}  // namespace rainbow::loader
