// The loader against the real Kafka, PostgreSQL and MinIO of the test stack, as its real binary in a
// child process (so kill -9 and SIGTERM are the real thing). Each test has its own topics (prefix),
// consumer groups, lake bucket and warehouse database; events are Debezium-shaped change events
// produced here, as cdc-producer writes them.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "common/kafka/admin.hpp"
#include "common/kafka/consumer.hpp"
#include "common/kafka/producer.hpp"
#include "common/pg/connection.hpp"
#include "common/s3/client.hpp"
#include "rainbow/loader.grpc.pb.h"
#include "services/loader/src/lake_writer.hpp"
#include "services/loader/tests/event_emitter.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/stack_env.hpp"

namespace rainbow::loader {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using rainbow::testing::ChildProcess;
using rainbow::testing::StackEnv;

std::string Identifier(const std::string& prefix) { return rainbow::testing::UniqueIdentifier(prefix); }

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_dsn_ = StackEnv("PG_DSN");
    brokers_ = StackEnv("KAFKA_BROKERS");
    name_ = Identifier("lt");
    prefix_ = name_ + ".public";
    {
      pg::Connection c(base_dsn_);
      c.Exec("CREATE DATABASE " + name_);
    }
    dsn_ = base_dsn_ + " dbname=" + name_;  // libpq: the last dbname wins
    bucket_ = name_;
    for (char& ch : bucket_) {
      if (ch == '_') ch = '-';
    }
    s3::S3Config s3c;
    s3c.endpoint = StackEnv("S3_ENDPOINT");
    s3c.region = StackEnv("S3_REGION");
    s3c.access_key = StackEnv("S3_ACCESS_KEY");
    s3c.secret_key = StackEnv("S3_SECRET_KEY");
    s3_ = std::make_unique<s3::S3Client>(s3c);
    emitter_ = std::make_unique<testing::ChangeEventEmitter>(brokers_, prefix_);
  }

  void TearDown() override {
    loaders_.clear();
    try {
      pg::Connection c(base_dsn_);
      c.Exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {
    }
  }

  std::string Topic(const std::string& table) const { return prefix_ + "." + table; }

  void CreateTopics(int partitions) {
    for (const char* t : {"customers", "payments", "sellers", "promotions", "products", "orders",
                          "orderdetails", "product_catalog"})
      kafka::EnsureTopic(brokers_, Topic(t), partitions, 1);
  }

  void Emit(const std::string& table, char op, const json& key, const json& row, int64_t ts_ms) {
    emitter_->Emit(table, op, key, row, ts_ms);
  }
  void Send(const std::string& topic, std::optional<std::string> key, std::optional<std::string> value) {
    emitter_->Send(topic, std::move(key), std::move(value));
  }
  void Flush() { emitter_->Flush(); }

  std::map<std::string, std::string> LoaderEnv() {
    grpc_port_ = rainbow::testing::FreePort();
    http_port_ = rainbow::testing::FreePort();
    std::map<std::string, std::string> env = {{"KAFKA_BROKERS", brokers_},
                                              {"PG_DSN", dsn_},
                                              {"LOADER_TOPIC_PATTERN", "^" + name_ + "\\.public\\.[a-z_]+$"},
                                              {"LOADER_GROUP", name_},
                                              {"LOADER_LAKE_GROUP", name_ + "-lake"},
                                              {"LOADER_LAKE_BUCKET", bucket_},
                                              {"LOADER_LAKE_WINDOW", "1000"},
                                              {"LOADER_LAKE_FLUSH_INTERVAL", "300ms"},
                                              {"LOADER_BATCH_WAIT", "50ms"},
                                              {"S3_ENDPOINT", StackEnv("S3_ENDPOINT")},
                                              {"S3_REGION", StackEnv("S3_REGION")},
                                              {"S3_ACCESS_KEY", StackEnv("S3_ACCESS_KEY")},
                                              {"S3_SECRET_KEY", StackEnv("S3_SECRET_KEY")},
                                              {"GRPC_ADDR", "127.0.0.1:" + std::to_string(grpc_port_)},
                                              {"HTTP_ADDR", "127.0.0.1:" + std::to_string(http_port_)},
                                              {"LOG_LEVEL", "info"}};
    env.merge(rainbow::testing::KafkaTopicEnv());
    return env;
  }

  ChildProcess& StartLoader(std::map<std::string, std::string> extra = {}) {
    auto env = LoaderEnv();
    for (auto& [k, v] : extra) env[k] = v;
    loaders_.push_back(std::make_unique<ChildProcess>(LOADER_BIN, std::vector<std::string>{}, env));
    return *loaders_.back();
  }

  std::string Query(const std::string& sql) {
    pg::Connection c(dsn_);
    const auto r = c.Exec(sql);
    return r.rows() == 0 || r.IsNull(0, 0) ? "" : std::string(r.Text(0, 0));
  }

  // Polls `sql` until it returns `want`.
  void WaitFor(const std::string& sql, const std::string& want, std::chrono::seconds timeout = 60s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    std::string got;
    while (std::chrono::steady_clock::now() < end) {
      try {
        got = Query(sql);
        if (got == want) return;
      } catch (const std::exception& e) {
        got = e.what();
      }
      std::this_thread::sleep_for(100ms);
    }
    std::string logs;
    for (auto& l : loaders_) {
      const auto out = l->Stdout() + l->Stderr();
      logs += out.substr(out.size() > 6000 ? out.size() - 6000 : 0);
    }
    FAIL() << sql << "\n  wanted " << want << ", got " << got << "\nloader output (tail):\n" << logs;
  }

  // A small world: a customer, payment, seller, promotion and product (ids 1), at time t.
  void EmitMembers(int64_t t) {
    Emit("customers", 'c', {{"id", 1}},
         {{"id", 1}, {"first_name", "Ada"}, {"last_name", "L"}, {"email", "ada@x"}}, t);
    Emit("payments", 'c', {{"id", 1}}, {{"id", 1}, {"name", "card"}, {"type", "credit"}}, t);
    Emit("sellers", 'c', {{"id", 1}}, {{"id", 1}, {"name", "S1"}, {"link", "l"}, {"is_best_store", true}}, t);
    Emit("promotions", 'c', {{"id", 1}},
         {{"id", 1},
          {"name", "P"},
          {"type", "t"},
          {"price_treatment", "10.00"},
          {"coupon_type", "Percentage"},
          {"is_global", false},
          {"promo_begin", "2024-01-01T00:00:00Z"},
          {"promo_end", "2025-01-01T00:00:00Z"}},
         t);
    EmitProduct(1, "12.50", t);
  }

  void EmitProduct(int64_t id, const std::string& price, int64_t t, char op = 'c', int sold = 0) {
    Emit("products", op, {{"id", id}},
         {{"id", id},
          {"name", "Prod " + std::to_string(id)},
          {"price", price},
          {"original_price", price},
          {"rating_average", "4.50"},
          {"review_count", 3},
          {"sold_count", sold},
          {"category_id", nullptr},
          {"seller_id", 1},
          {"brand_id", nullptr},
          {"promotion_id", nullptr}},
         t);
  }

  void EmitOrder(int64_t id, const std::string& created_at, int64_t t, char op = 'c',
                 const std::string& status = "CREATED") {
    Emit("orders", op, {{"id", id}},
         {{"id", id}, {"customer_id", 1}, {"payment_id", 1}, {"status", status}, {"created_at", created_at}},
         t);
  }

  void EmitLine(int64_t order, int line, int64_t product, int qty, const std::string& price, int64_t t,
                char op = 'c') {
    Emit("orderdetails", op, {{"order_id", order}, {"line_no", line}},
         {{"order_id", order},
          {"line_no", line},
          {"product_id", product},
          {"quantity", qty},
          {"price", price},
          {"promotion_id", 1},
          {"discount_unit_price", "1.25"}},
         t);
  }

  std::unique_ptr<v1::LoaderService::Stub> Stub() {
    return v1::LoaderService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials()));
  }

  std::string base_dsn_, dsn_, brokers_, name_, prefix_, bucket_;
  int grpc_port_ = 0, http_port_ = 0;  // of the loader started last
  std::unique_ptr<s3::S3Client> s3_;
  std::unique_ptr<testing::ChangeEventEmitter> emitter_;
  std::vector<std::unique_ptr<ChildProcess>> loaders_;
};

constexpr int64_t kT0 = 1704103200000;  // 2024-01-01 10:00 UTC

TEST_F(LoaderTest, EveryOperationReachesStagingDimensionsAndFacts) {
  CreateTopics(1);
  EmitMembers(kT0);
  EmitOrder(10, "2024-01-01T10:05:00Z", kT0 + 1000);
  EmitLine(10, 1, 1, 2, "12.50", kT0 + 1000);
  EmitLine(10, 2, 1, 1, "12.50", kT0 + 1000);
  Emit("product_catalog", 'r', {{"ean", "E1"}}, {{"ean", "E1"}, {"style_number", "S"}}, kT0);
  Flush();
  StartLoader();
  WaitFor("SELECT count(*) || '/' || sum(extended_sales_amount) FROM warehouse.fact_sales", "2/37.50");
  EXPECT_EQ(Query("SELECT style_number FROM warehouse.stg_product_catalog WHERE ean = 'E1'"), "S");
  EXPECT_EQ(
      Query("SELECT count(*) FROM warehouse.dim_dates WHERE date_key = 20240101 AND day_name = 'Monday'"),
      "1");
  EXPECT_EQ(Query("SELECT discount_unit_price || '/' || net_unit_price || '/' || extended_discount_amount "
                  "FROM warehouse.fact_sales WHERE line_no = 1"),
            "1.25/11.25/2.50");
  EXPECT_EQ(
      Query("SELECT count(*) FROM warehouse.fact_sales WHERE product_key IS NULL OR customer_key IS NULL "
            "OR payment_key IS NULL OR promotion_key IS NULL OR seller_key IS NULL"),
      "0");

  // Update a line and the header, delete a line, truncate a table.
  EmitLine(10, 1, 1, 5, "12.50", kT0 + 2000, 'u');
  EmitOrder(10, "2024-01-01T10:05:00Z", kT0 + 2000, 'u', "PAID");
  EmitLine(10, 2, 1, 1, "12.50", kT0 + 2000, 'd');
  Emit("product_catalog", 't', json(), json(), kT0 + 2000);
  Flush();
  WaitFor("SELECT count(*) || '/' || sum(extended_sales_amount) FROM warehouse.fact_sales", "1/62.50");
  EXPECT_EQ(Query("SELECT status FROM warehouse.stg_orders WHERE id = '10'"), "PAID");
  EXPECT_EQ(Query("SELECT count(*) FROM warehouse.stg_orderdetails"), "1");
  WaitFor("SELECT count(*) FROM warehouse.stg_product_catalog", "0");
  // GetStatus, /metrics and /readyz say what happened.
  {
    v1::Status status;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    ASSERT_TRUE(Stub()->GetStatus(&ctx, {}, &status).ok());
    EXPECT_GE(status.events_loaded(), 13u);
    EXPECT_GE(status.fact_rows(), 2u);
    EXPECT_TRUE(status.warehouse_ok());
    EXPECT_GT(status.last_batch_unix_ms(), 0);
    bool orders_seen = false;
    for (const auto& p : status.progress()) {
      if (p.topic() == Topic("orders")) orders_seen = p.committed_offset() >= 2;
    }
    EXPECT_TRUE(orders_seen) << status.DebugString();
    const auto [code, metrics] =
        rainbow::testing::HttpGet("http://127.0.0.1:" + std::to_string(http_port_) + "/metrics");
    EXPECT_EQ(code, 200);
    EXPECT_NE(metrics.find("loader_events_total{op=\"u\",table=\"orders\"} 1"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("loader_freshness_seconds_count"), std::string::npos);
    EXPECT_NE(metrics.find("loader_fact_rows_total"), std::string::npos);
    EXPECT_EQ(rainbow::testing::HttpGet("http://127.0.0.1:" + std::to_string(http_port_) + "/readyz").first,
              200);
  }
  // Backfill over gRPC: a bad range is refused, a lake recompute into a warehouse with rows too, a range
  // from staging rebuilds (and changes nothing).
  {
    v1::BackfillRequest bad;
    bad.set_from_date("2024-13-99x");
    bad.set_to_date("2024-01-01");
    v1::BackfillResponse out;
    grpc::ClientContext c1;
    EXPECT_EQ(Stub()->Backfill(&c1, bad, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    v1::BackfillRequest lake;
    lake.set_from_lake(true);
    grpc::ClientContext c2;
    EXPECT_EQ(Stub()->Backfill(&c2, lake, &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    v1::BackfillRequest range;
    range.set_from_date("2024-01-01");
    range.set_to_date("2024-01-01");
    grpc::ClientContext c3;
    ASSERT_TRUE(Stub()->Backfill(&c3, range, &out).ok());
    EXPECT_EQ(out.fact_rows(), 1);
    EXPECT_EQ(Query("SELECT count(*) || '/' || sum(extended_sales_amount) FROM warehouse.fact_sales"),
              "1/62.50");
  }
  // A deleted member: its current version closes.
  Emit("payments", 'd', {{"id", 1}}, {{"id", 1}, {"name", "card"}, {"type", "credit"}}, kT0 + 3000);
  Flush();
  WaitFor("SELECT count(*) FROM warehouse.dim_payments WHERE is_current", "0");
  EXPECT_EQ(Query("SELECT is_deleted FROM warehouse.dim_payments"), "t");

  // SIGTERM: finishes and exits 0.
  loaders_.back()->Signal(SIGTERM);
  EXPECT_EQ(loaders_.back()->Wait(30s), 0);
}

TEST_F(LoaderTest, Scd2HistoryAndPointInTimeKeys) {
  CreateTopics(1);
  EmitMembers(kT0);
  // A customer's email changes twice (tracked); a sale count changes (untracked: in place).
  Emit("customers", 'u', {{"id", 1}},
       {{"id", 1}, {"first_name", "Ada"}, {"last_name", "L"}, {"email", "ada@y"}}, kT0 + 60'000);
  Emit("customers", 'u', {{"id", 1}},
       {{"id", 1}, {"first_name", "Ada"}, {"last_name", "L"}, {"email", "ada@z"}}, kT0 + 120'000);
  // Order 20 at 10:05 with price 12.50; the price changes at 10:10; order 21 at 10:15.
  EmitOrder(20, "2024-01-01T10:05:00Z", kT0 + 300'000);
  EmitLine(20, 1, 1, 1, "12.50", kT0 + 300'000);
  EmitProduct(1, "15.00", kT0 + 600'000, 'u');
  EmitProduct(1, "15.00", kT0 + 610'000, 'u', 7);
  EmitOrder(21, "2024-01-01T10:15:00Z", kT0 + 900'000);
  EmitLine(21, 1, 1, 1, "15.00", kT0 + 900'000);
  Flush();
  StartLoader();
  WaitFor("SELECT count(*) FROM warehouse.fact_sales", "2");
  EXPECT_EQ(Query("SELECT string_agg(email || ':' || is_current, ',' ORDER BY valid_from) FROM "
                  "warehouse.dim_customers"),
            "ada@x:false,ada@y:false,ada@z:true");
  EXPECT_EQ(Query("SELECT count(*) FROM warehouse.dim_customers a JOIN warehouse.dim_customers b "
                  "ON b.valid_from = a.valid_to"),
            "2");  // the versions chain without gaps
  EXPECT_EQ(Query("SELECT string_agg(price || ':' || sold_count, ',' ORDER BY valid_from) FROM "
                  "warehouse.dim_products"),
            "12.50:0,15.00:7");
  EXPECT_EQ(Query("SELECT string_agg(p.price::text, ',' ORDER BY f.order_id) FROM warehouse.fact_sales f "
                  "JOIN warehouse.dim_products p USING (product_key)"),
            "12.50,15.00");
  // Both orders are after the third email version began? No: 10:05 and 10:15 are after 10:02.
  EXPECT_EQ(Query("SELECT string_agg(c.email, ',' ORDER BY f.order_id) FROM warehouse.fact_sales f "
                  "JOIN warehouse.dim_customers c USING (customer_key)"),
            "ada@z,ada@z");
}

TEST_F(LoaderTest, LateArrivingMembersAndLines) {
  CreateTopics(1);
  EmitMembers(kT0);
  // A line whose product (2) has not arrived, and a line (order 31) before its header.
  EmitOrder(30, "2024-01-02T09:00:00Z", kT0);
  EmitLine(30, 1, 2, 3, "4.00", kT0);
  EmitLine(31, 1, 1, 1, "12.50", kT0);
  Flush();
  StartLoader();
  WaitFor("SELECT count(*) FROM warehouse.fact_sales", "1");
  EXPECT_EQ(
      Query("SELECT is_inferred || '/' || (name IS NULL) FROM warehouse.dim_products WHERE product_id = 2"),
      "true/true");
  const auto inferred_key = Query("SELECT product_key FROM warehouse.dim_products WHERE product_id = 2");
  EXPECT_EQ(Query("SELECT product_key FROM warehouse.fact_sales WHERE order_id = 30"), inferred_key);
  EXPECT_EQ(Query("SELECT count(*) FROM warehouse.stg_orderdetails WHERE order_id = '31'"), "1");  // waits

  EmitProduct(2, "4.00", kT0 + 5000);
  EmitOrder(31, "2024-01-02T09:30:00Z", kT0 + 5000);
  Flush();
  WaitFor("SELECT count(*) FROM warehouse.fact_sales", "2");
  WaitFor("SELECT is_inferred || '/' || name FROM warehouse.dim_products WHERE product_id = 2",
          "false/Prod 2");
  EXPECT_EQ(Query("SELECT product_key FROM warehouse.fact_sales WHERE order_id = 30"), inferred_key);
  EXPECT_EQ(Query("SELECT seller_key IS NOT NULL FROM warehouse.fact_sales WHERE order_id = 30"), "t");
}

TEST_F(LoaderTest, AColumnOrATableAddedMidStreamAppearsWithoutARestart) {
  CreateTopics(1);
  EmitMembers(kT0);
  Flush();
  StartLoader();
  WaitFor("SELECT count(*) FROM warehouse.dim_products", "1");
  Emit("customers", 'c', {{"id", 2}},
       {{"id", 2}, {"first_name", "B"}, {"last_name", "C"}, {"email", "b@c"}, {"loyalty_tier", "gold"}},
       kT0 + 1000);
  Flush();
  WaitFor("SELECT loyalty_tier FROM warehouse.stg_customers WHERE id = '2'", "gold");
  EXPECT_EQ(Query("SELECT count(*) FROM warehouse.stg_customers WHERE loyalty_tier IS NULL"), "1");
  // A new table's topic, created while the loader runs, is picked up by the pattern subscription.
  kafka::EnsureTopic(brokers_, Topic("brands"), 1, 1);
  Emit("brands", 'c', {{"id", 9}}, {{"id", 9}, {"name", "Acme"}, {"order", 3}},
       kT0 + 2000);  // a reserved word
  Flush();
  WaitFor("SELECT name || '/' || \"order\" FROM warehouse.stg_brands WHERE id = '9'", "Acme/3", 90s);
}

TEST_F(LoaderTest, PoisonGoesToTheDeadLetterTopicAndTheNextMessageLoads) {
  CreateTopics(1);
  kafka::ConsumerConfig cc{brokers_, name_ + "-dlq-reader", {Topic("orderdetails.dlq")}, "loader-test"};
  kafka::EnsureTopic(brokers_, Topic("orderdetails.dlq"), 1, 1);
  cc.tail = true;
  kafka::Consumer dlq(cc);
  EmitMembers(kT0);
  EmitOrder(40, "2024-01-03T09:00:00Z", kT0);
  Send(Topic("orderdetails"), R"({"order_id":40,"line_no":1})", "{this is not json");
  EmitLine(40, 2, 1, 1, "not-a-price", kT0);  // parses, but the warehouse cannot cast it
  EmitLine(40, 3, 1, 2, "12.50", kT0);
  Flush();
  StartLoader();
  WaitFor("SELECT string_agg(line_no::text, ',') FROM warehouse.fact_sales", "3");
  std::vector<kafka::ConsumedMessage> dead;
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (dead.size() < 2 && std::chrono::steady_clock::now() < end) {
    if (auto m = dlq.Poll(200ms)) dead.push_back(*m);
  }
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_NE(dead[0].HeaderValue("dlq.error").value_or("").find("not JSON"), std::string::npos);
  EXPECT_EQ(dead[0].HeaderValue("dlq.topic"), Topic("orderdetails"));
  EXPECT_EQ(dead[0].HeaderValue("dlq.offset"), "0");
  EXPECT_NE(dead[1].HeaderValue("dlq.error").value_or("").find("not-a-price"), std::string::npos);
  EXPECT_EQ(Query("SELECT count(*) FROM warehouse.stg_orderdetails"), "1");  // the refused line is not staged
}

// 100,000 events (orders with two lines each over 3 partitions) while the loader is killed -9 five
// times at random instants, Kafka is restarted once and PostgreSQL once, each while events wait to be
// loaded. Afterwards Reconcile (against source tables holding the same rows) reports zero difference
// and the lake holds every event exactly once.
TEST_F(LoaderTest, HundredThousandEventsSurviveKillsAndRestarts) {
  CreateTopics(3);
  EmitMembers(kT0);
  Flush();
  constexpr int kOrders = 33'333;  // + the 5 members: 100,004 events
  const auto qty = [](int i, int line) { return 1 + (i * 7 + line) % 5; };
  const auto created = [](int i) { return "2024-01-0" + std::to_string(1 + i % 5) + "T12:00:00Z"; };
  // The source the events describe, for Reconcile.
  {
    pg::Connection c(dsn_);
    c.Exec("CREATE SCHEMA src");
    c.Exec(
        "CREATE TABLE src.orders AS SELECT 1000 + i AS id, ('2024-01-0' || (1 + i % 5) || "
        "'T12:00:00Z')::timestamptz "
        "AS created_at FROM generate_series(0, " +
        std::to_string(kOrders - 1) + ") i");
    c.Exec(
        "CREATE TABLE src.orderdetails AS SELECT 1000 + i AS order_id, l AS line_no, 1 + (i * 7 + l) % 5 AS "
        "quantity, "
        "12.50::numeric(12,2) AS price FROM generate_series(0, " +
        std::to_string(kOrders - 1) + ") i, generate_series(1, 2) l");
  }
  int emitted = 0;
  const auto emit_some = [&](int n) {
    for (int i = 0; i < n && emitted < kOrders; ++i, ++emitted) {
      EmitOrder(1000 + emitted, created(emitted), kT0 + emitted);
      for (int line = 1; line <= 2; ++line)
        EmitLine(1000 + emitted, line, 1, qty(emitted, line), "12.50", kT0 + emitted);
    }
    Flush();
  };
  // Events produced but not yet in the warehouse right now.
  const auto behind = [&] {
    const auto loaded = Query("SELECT coalesce(sum(next_offset), 0) FROM warehouse.loader_offsets");
    return 5 + 3LL * emitted - std::stoll(loaded.empty() ? "0" : loaded);
  };
  std::mt19937 rng(7);
  StartLoader({{"LOADER_BATCH_EVENTS", "2000"}});
  int faults_in_flight = 0;
  for (int round = 0; round < 7; ++round) {
    emit_some(kOrders / 8);
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 800));
    const auto lag = behind();
    if (lag > 0) ++faults_in_flight;
    if (round == 2) {
      ASSERT_EQ(rainbow::testing::StackCommand("restart kafka"), 0);
    } else if (round == 4) {
      ASSERT_EQ(rainbow::testing::StackCommand("restart postgres"), 0);
    } else {
      loaders_.back()->Signal(SIGKILL);
      loaders_.back()->Wait(10s);
      StartLoader({{"LOADER_BATCH_EVENTS", "2000"}});
    }
  }
  emit_some(kOrders);
  EXPECT_GE(faults_in_flight, 5) << "the faults must land while produced events wait to be loaded";
  WaitFor("SELECT count(*) FROM warehouse.fact_sales", std::to_string(2 * kOrders), 300s);

  auto env = LoaderEnv();
  ChildProcess reconcile(LOADER_ADMIN_BIN, {"reconcile", "--source-schema", "src", "--wait", "30"}, env);
  EXPECT_EQ(reconcile.Wait(60s), 0) << reconcile.Stdout() << reconcile.Stderr();
  EXPECT_NE(reconcile.Stdout().find("zero difference"), std::string::npos) << reconcile.Stdout();
  EXPECT_NE(reconcile.Stdout().find("sales 2024-01-05"), std::string::npos) << reconcile.Stdout();

  // The lake: every event once. It commits a window when the next one starts; SIGTERM writes the rest.
  loaders_.back()->Signal(SIGTERM);
  EXPECT_EQ(loaders_.back()->Wait(60s), 0);
  std::multiset<std::string> positions;
  std::string token;
  for (;;) {
    s3::ListOptions o;
    o.continuation_token = token;
    const auto page = s3_->ListObjectsV2(s3::BucketName(bucket_), o);
    for (const auto& obj : page.objects) {
      const auto text = Gunzip(s3_->GetObject(s3::BucketName(bucket_), s3::ObjectKey(obj.key)));
      for (size_t pos = 0; pos < text.size();) {
        const auto nl = text.find('\n', pos);
        const auto e = json::parse(text.substr(pos, nl - pos));
        positions.insert(e["topic"].get<std::string>() + "/" + std::to_string(e["partition"].get<int>()) +
                         "/" + std::to_string(e["offset"].get<int64_t>()));
        pos = nl + 1;
      }
    }
    if (page.next_continuation_token.empty()) break;
    token = page.next_continuation_token;
  }
  EXPECT_EQ(positions.size(), static_cast<size_t>(5 + 3 * kOrders));
  EXPECT_EQ(std::set<std::string>(positions.begin(), positions.end()).size(), positions.size())
      << "an event twice";
}

// A digest of every warehouse table, by natural columns only (surrogate keys depend on the order rows
// were inserted in; a fact's dimension versions are named by their valid_from instead).
std::string WarehouseDigest(const std::string& dsn) {
  pg::Connection c(dsn);
  std::string out;
  const auto add = [&](const std::string& name, const std::string& sql) {
    const auto r = c.Exec(
        "SELECT count(*) || ':' || coalesce(md5(string_agg(j::text, '|' ORDER BY j::text)), '-') "
        "FROM (" +
        sql + ") t(j)");
    out += name + "=" + std::string(r.Text(0, 0)) + "\n";
  };
  for (const char* t :
       {"customers", "payments", "sellers", "promotions", "products", "orders", "orderdetails"})
    add(std::string("stg_") + t,
        std::string("SELECT to_jsonb(s) - '_loaded_at' - '_version' FROM warehouse.stg_") + t + " s");
  for (const auto& [dim, key] :
       std::vector<std::pair<std::string, std::string>>{{"customers", "customer_key"},
                                                        {"payments", "payment_key"},
                                                        {"sellers", "seller_key"},
                                                        {"promotions", "promotion_key"},
                                                        {"products", "product_key"}})
    add("dim_" + dim, "SELECT to_jsonb(d) - '_version' - '" + key + "' FROM warehouse.dim_" + dim + " d");
  add("dim_dates", "SELECT to_jsonb(d) - '_version' FROM warehouse.dim_dates d");
  add("fact_sales",
      "SELECT to_jsonb(f) - 'loaded_at' - '_version' - 'product_key' - 'customer_key' - 'payment_key' - "
      "'promotion_key' - "
      "'seller_key' || jsonb_build_object('p', p.valid_from, 'c', c.valid_from, 'pay', pay.valid_from, 'pr', "
      "pr.valid_from, 's', s.valid_from) FROM warehouse.fact_sales f "
      "LEFT JOIN warehouse.dim_products p USING (product_key) LEFT JOIN warehouse.dim_customers c USING "
      "(customer_key) "
      "LEFT JOIN warehouse.dim_payments pay USING (payment_key) "
      "LEFT JOIN warehouse.dim_promotions pr USING (promotion_key) LEFT JOIN warehouse.dim_sellers s USING "
      "(seller_key)");
  return out;
}

// Backfill from staging twice leaves the warehouse as streaming built it; a recompute from the lake
// alone into an empty warehouse builds the same tables.
TEST_F(LoaderTest, BackfillAndRecomputeFromTheLakeEqualWhatStreamingBuilt) {
  CreateTopics(2);
  EmitMembers(kT0);
  EmitOrder(50, "2024-03-01T08:00:00Z", kT0);
  EmitLine(50, 1, 2, 3, "4.00", kT0);   // product 2 arrives late
  EmitLine(51, 1, 1, 1, "12.50", kT0);  // before its header
  Emit("customers", 'u', {{"id", 1}},
       {{"id", 1}, {"first_name", "Ada"}, {"last_name", "L"}, {"email", "ada@v2"}}, kT0 + 60'000);
  EmitProduct(1, "13.00", kT0 + 120'000, 'u');
  EmitProduct(2, "4.00", kT0 + 130'000);
  EmitOrder(51, "2024-03-02T08:00:00Z", kT0 + 140'000);
  for (int i = 0; i < 50; ++i) {
    EmitOrder(60 + i, "2024-03-0" + std::to_string(1 + i % 3) + "T09:00:00Z", kT0 + 200'000 + i);
    EmitLine(60 + i, 1, 1 + i % 2, 1 + i % 4, i % 2 ? "4.00" : "13.00", kT0 + 200'000 + i);
  }
  EmitLine(60, 1, 1, 1, "13.00", kT0 + 300'000, 'd');
  Flush();
  StartLoader();
  WaitFor("SELECT count(*) FROM warehouse.fact_sales", "51");
  loaders_.back()->Signal(SIGTERM);  // writes the lake's unfinished windows
  ASSERT_EQ(loaders_.back()->Wait(60s), 0);
  const auto streamed = WarehouseDigest(dsn_);

  const auto admin = [&](const std::vector<std::string>& args, const std::string& warehouse) {
    auto env = LoaderEnv();
    env["LOADER_WAREHOUSE_DSN"] = warehouse;
    ChildProcess p(LOADER_ADMIN_BIN, args, env);
    const auto rc = p.Wait(120s);
    EXPECT_EQ(rc, 0) << p.Stdout() << p.Stderr();
    return p.Stdout();
  };
  EXPECT_NE(admin({"backfill", "--from", "2024-03-01", "--to", "2024-03-03"}, dsn_).find("51 fact rows"),
            std::string::npos);
  EXPECT_EQ(WarehouseDigest(dsn_), streamed);
  admin({"backfill", "--from", "2024-03-01", "--to", "2024-03-03"}, dsn_);
  EXPECT_EQ(WarehouseDigest(dsn_), streamed);

  const std::string empty = name_ + "_lake";
  {
    pg::Connection c(base_dsn_);
    c.Exec("CREATE DATABASE " + empty);
  }
  const std::string empty_dsn = base_dsn_ + " dbname=" + empty;
  {
    // The secrets through files, as a Kubernetes secret mounts them (NAME_FILE, as for the services).
    const auto secret_file = [&](const std::string& what, const std::string& value) {
      const std::string path = (std::filesystem::temp_directory_path() / (name_ + "." + what)).string();
      std::ofstream(path) << value << "\n";
      return path;
    };
    auto env = LoaderEnv();
    const std::string s3_secret = env.at("S3_SECRET_KEY");
    env.erase("S3_SECRET_KEY");
    env.erase("PG_DSN");
    env["PG_DSN_FILE"] = secret_file("source-dsn", dsn_);
    env["LOADER_WAREHOUSE_DSN_FILE"] = secret_file("warehouse-dsn", empty_dsn);
    env["S3_SECRET_KEY_FILE"] = secret_file("s3-secret", s3_secret);
    // A secret given twice (its value and its file) is a config error, exit 2, that names the variable
    // and not its value.
    auto twice = env;
    twice["S3_SECRET_KEY"] = s3_secret;
    ChildProcess refused(LOADER_ADMIN_BIN, {"backfill", "--from-lake", "--bucket", bucket_}, twice);
    EXPECT_EQ(refused.Wait(60s), 2) << refused.Stderr();
    EXPECT_NE(refused.Stderr().find("S3_SECRET_KEY"), std::string::npos) << refused.Stderr();
    EXPECT_EQ(refused.Stderr().find(s3_secret), std::string::npos) << refused.Stderr();
    ChildProcess p(LOADER_ADMIN_BIN, {"backfill", "--from-lake", "--bucket", bucket_}, env);
    EXPECT_EQ(p.Wait(120s), 0) << p.Stdout() << p.Stderr();
  }
  const auto recomputed = WarehouseDigest(empty_dsn);
  {
    pg::Connection c(base_dsn_);
    c.Exec("DROP DATABASE IF EXISTS " + empty + " WITH (FORCE)");
  }
  EXPECT_EQ(recomputed, streamed);
}

// Two loaders share the partitions; one joins mid-stream (a rebalance), the other leaves.
TEST_F(LoaderTest, TwoLoadersAndRebalancesNeitherLoseNorDouble) {
  CreateTopics(3);
  EmitMembers(kT0);
  Flush();
  StartLoader({{"LOADER_BATCH_EVENTS", "200"}, {"LOADER_LAKE", "false"}});
  int64_t cents = 0;
  int id = 5000;
  const auto emit = [&](int n) {
    for (int i = 0; i < n; ++i, ++id) {
      EmitOrder(id, "2024-02-01T12:00:00Z", kT0 + id);
      EmitLine(id, 1, 1, 2, "12.50", kT0 + id);
      cents += 2500;
    }
    Flush();
  };
  emit(1500);
  StartLoader({{"LOADER_BATCH_EVENTS", "200"}, {"LOADER_LAKE", "false"}});
  emit(1500);
  loaders_.front()->Signal(SIGTERM);
  EXPECT_EQ(loaders_.front()->Wait(60s), 0);
  emit(1500);
  char want[64];
  std::snprintf(want, sizeof(want), "4500/%lld.%02lld", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  WaitFor("SELECT count(*) || '/' || sum(extended_sales_amount) FROM warehouse.fact_sales", want, 180s);
}

}  // namespace
}  // namespace rainbow::loader
