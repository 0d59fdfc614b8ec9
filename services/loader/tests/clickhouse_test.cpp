// The loader's serving layer against the real ClickHouse, Kafka and PostgreSQL of the test stack, the
// loader as its real binary in a child process. Each test has its own topics, consumer groups,
// warehouse database and ClickHouse database.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/kafka/admin.hpp"
#include "common/kafka/consumer.hpp"
#include "common/kafka/producer.hpp"
#include "common/pg/connection.hpp"
#include "common/pg/migrations.hpp"
#include "rainbow/loader.grpc.pb.h"
#include "services/loader/src/clickhouse_client.hpp"
#include "services/loader/src/clickhouse_sink.hpp"
#include "services/loader/src/migrations.hpp"
#include "services/loader/src/reconcile.hpp"
#include "services/loader/tests/event_emitter.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/reply_fault_proxy.hpp"
#include "tests/support/stack_env.hpp"

namespace rainbow::loader {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using rainbow::testing::ChildProcess;
using rainbow::testing::StackEnv;

constexpr int64_t kT0 = 1704103200000;  // 2024-01-01 10:00 UTC

class ClickHouseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_dsn_ = StackEnv("PG_DSN");
    brokers_ = StackEnv("KAFKA_BROKERS");
    name_ = rainbow::testing::UniqueIdentifier("ch");
    prefix_ = name_ + ".public";
    {
      pg::Connection c(base_dsn_);
      c.Exec("CREATE DATABASE " + name_);
    }
    dsn_ = base_dsn_ + " dbname=" + name_;
    ClickHouseConfig cc;
    cc.url = StackEnv("CLICKHOUSE_URL");
    cc.database = name_;
    ch_ = std::make_unique<ClickHouseClient>(cc);
    emitter_ = std::make_unique<testing::ChangeEventEmitter>(brokers_, prefix_);
  }

  void TearDown() override {
    loaders_.clear();
    // A test that failed while ClickHouse was stopped must not leave it stopped for the next one.
    rainbow::testing::StackCommand("up clickhouse");
    try {
      pg::Connection c(base_dsn_);
      c.Exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
      ch_->Query("DROP DATABASE IF EXISTS " + name_, false);
    } catch (const std::exception&) {
    }
  }

  std::string Topic(const std::string& table) const { return prefix_ + "." + table; }

  void CreateTopics(int partitions) {
    for (const char* t :
         {"customers", "payments", "sellers", "promotions", "products", "orders", "orderdetails"})
      kafka::EnsureTopic(brokers_, Topic(t), partitions, 1);
  }

  void Emit(const std::string& table, char op, const json& key, const json& row, int64_t ts_ms) {
    emitter_->Emit(table, op, key, row, ts_ms);
  }
  void Send(const std::string& topic, std::optional<std::string> key, std::optional<std::string> value) {
    emitter_->Send(topic, std::move(key), std::move(value));
  }
  void Flush() { emitter_->Flush(); }

  void EmitMembers(int64_t t, const std::string& email = "ada@x") {
    Emit("customers", 'c', {{"id", 1}},
         {{"id", 1}, {"first_name", "Ada"}, {"last_name", "L"}, {"email", email}}, t);
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
    Emit("products", 'c', {{"id", 1}},
         {{"id", 1},
          {"name", "Prod 1"},
          {"price", "12.50"},
          {"original_price", "12.50"},
          {"rating_average", "4.50"},
          {"review_count", 3},
          {"sold_count", 0},
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

  void EmitLine(int64_t order, int line, int qty, const std::string& price, int64_t t, char op = 'c') {
    Emit("orderdetails", op, {{"order_id", order}, {"line_no", line}},
         {{"order_id", order},
          {"line_no", line},
          {"product_id", 1},
          {"quantity", qty},
          {"price", price},
          {"promotion_id", 1},
          {"discount_unit_price", "1.25"}},
         t);
  }

  ChildProcess& StartLoader(std::map<std::string, std::string> extra = {}) {
    grpc_port_ = rainbow::testing::FreePort();
    http_port_ = rainbow::testing::FreePort();
    std::map<std::string, std::string> env = {{"KAFKA_BROKERS", brokers_},
                                              {"PG_DSN", dsn_},
                                              {"LOADER_SOURCE_SCHEMA", "src"},
                                              {"LOADER_TOPIC_PATTERN", "^" + name_ + "\\.public\\.[a-z_]+$"},
                                              {"LOADER_GROUP", name_},
                                              {"LOADER_LAKE", "false"},
                                              {"LOADER_BATCH_WAIT", "50ms"},
                                              {"LOADER_CLICKHOUSE_URL", StackEnv("CLICKHOUSE_URL")},
                                              {"LOADER_CLICKHOUSE_DATABASE", name_},
                                              {"LOADER_CLICKHOUSE_INTERVAL", "100ms"},
                                              {"GRPC_ADDR", "127.0.0.1:" + std::to_string(grpc_port_)},
                                              {"HTTP_ADDR", "127.0.0.1:" + std::to_string(http_port_)},
                                              {"LOG_LEVEL", "info"}};
    env.merge(rainbow::testing::KafkaTopicEnv());
    for (auto& [k, v] : extra) env[k] = v;
    loaders_.push_back(std::make_unique<ChildProcess>(LOADER_BIN, std::vector<std::string>{}, env));
    return *loaders_.back();
  }

  std::string Pg(const std::string& sql) {
    pg::Connection c(dsn_);
    const auto r = c.Exec(sql);
    return r.rows() == 0 || r.IsNull(0, 0) ? "" : std::string(r.Text(0, 0));
  }

  std::string Ch(const std::string& sql) {
    auto out = ch_->Query(sql);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  std::string Logs() {
    std::string logs;
    for (auto& l : loaders_) {
      const auto out = l->Stdout() + l->Stderr();
      logs += out.substr(out.size() > 6000 ? out.size() - 6000 : 0);
    }
    return logs;
  }

  // Polls a ClickHouse query until it returns `want`.
  void WaitCh(const std::string& sql, const std::string& want, std::chrono::seconds timeout = 60s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    std::string got;
    while (std::chrono::steady_clock::now() < end) {
      try {
        got = Ch(sql);
        if (got == want) return;
      } catch (const std::exception& e) {
        got = e.what();
      }
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << sql << "\n  wanted " << want << ", got " << got << "\nloader output (tail):\n" << Logs();
  }

  void WaitPg(const std::string& sql, const std::string& want, std::chrono::seconds timeout = 60s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    std::string got;
    while (std::chrono::steady_clock::now() < end) {
      try {
        got = Pg(sql);
        if (got == want) return;
      } catch (const std::exception& e) {
        got = e.what();
      }
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << sql << "\n  wanted " << want << ", got " << got << "\nloader output (tail):\n" << Logs();
  }

  // Each serving view against the same query over the warehouse, row by row ("key|lines|qty|sales").
  void ExpectViewsEqualWarehouse() {
    const std::vector<std::pair<std::string, std::string>> views = {{"sales_by_day", "date_key"},
                                                                    {"sales_by_product", "product_id"},
                                                                    {"sales_by_seller", "seller_id"},
                                                                    {"sales_by_promotion", "promotion_id"}};
    for (const auto& [view, key] : views) {
      std::string ch;
      std::istringstream rows(ch_->Query("SELECT " + key + ", lines, quantity, sales FROM " + view +
                                         " ORDER BY " + key + " FORMAT TabSeparated"));
      for (std::string line; std::getline(rows, line);) {
        std::istringstream f(line);
        std::string k, n, q, s;
        std::getline(f, k, '\t');
        std::getline(f, n, '\t');
        std::getline(f, q, '\t');
        std::getline(f, s, '\t');
        ch += k + "|" + n + "|" + q + "|" + TrimDecimal(s) + "\n";
      }
      std::string pg;
      {
        pg::Connection c(dsn_);
        const auto r = c.Exec("SELECT coalesce(" + key + "::text, '\\N'), count(*), sum(sales_quantity), " +
                              "sum(extended_sales_amount) FROM warehouse.fact_sales GROUP BY " + key +
                              " ORDER BY " + key);
        for (int i = 0; i < r.rows(); ++i)
          pg += std::string(r.Text(i, 0)) + "|" + std::string(r.Text(i, 1)) + "|" +
                std::string(r.Text(i, 2)) + "|" + TrimDecimal(std::string(r.Text(i, 3))) + "\n";
      }
      EXPECT_EQ(ch, pg) << view;
      EXPECT_FALSE(ch.empty()) << view;
    }
  }

  // A migrated warehouse without the loader: January 2024 in dim_dates and fact_sales orders 1..1000
  // (one line each, on 2024-01-02), each line's extended_sales_amount the SQL `sales` over i.
  void FillWarehouse(const std::string& sales) {
    pg::Connection wh(dsn_);
    pg::ApplyMigrations(wh, kMigrationHistory, "rainbow.loader.migrations", Migrations());
    wh.Exec(
        "INSERT INTO warehouse.dim_dates SELECT to_char(d, 'YYYYMMDD')::integer, d, extract(day FROM d), "
        "extract(month FROM d), to_char(d, 'FMMonth'), extract(year FROM d), extract(quarter FROM d), "
        "extract(week FROM d), extract(isodow FROM d), to_char(d, 'FMDay'), extract(isodow FROM d) >= 6 "
        "FROM generate_series('2024-01-01'::date, '2024-01-31'::date, '1 day') d");
    wh.Exec(
        "INSERT INTO warehouse.fact_sales (order_id, line_no, order_ts, date_key, product_id, customer_id, "
        "payment_id, promotion_id, seller_id, sales_quantity, regular_unit_price, discount_unit_price, "
        "net_unit_price, extended_discount_amount, extended_sales_amount) "
        "SELECT i, 1, '2024-01-02'::timestamptz, 20240102, 1, 1, 1, NULL, 1, 2, 10, 0, 10, 0, " +
        sales + " FROM generate_series(1, 1000) i");
  }

  v1::ReconcileResponse ReconcileNow() {
    auto stub = v1::LoaderService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials()));
    v1::ReconcileResponse out;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 60s);
    const auto s = stub->Reconcile(&ctx, {}, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  std::string base_dsn_, dsn_, brokers_, name_, prefix_;
  int grpc_port_ = 0, http_port_ = 0;
  std::unique_ptr<ClickHouseClient> ch_;
  std::unique_ptr<testing::ChangeEventEmitter> emitter_;
  std::vector<std::unique_ptr<ChildProcess>> loaders_;
};

// Inserts, updates and deletes of orders and lines, and an SCD2 change, all reach ClickHouse; the
// serving views equal the same queries over the warehouse; Reconcile checks ClickHouse too.
TEST_F(ClickHouseTest, EveryOperationAndScd2ReachClickHouse) {
  CreateTopics(1);
  EmitMembers(kT0);
  EmitOrder(10, "2024-01-01T10:05:00Z", kT0 + 1000);
  EmitLine(10, 1, 2, "12.50", kT0 + 1000);
  EmitLine(10, 2, 1, "12.50", kT0 + 1000);
  EmitOrder(11, "2024-01-02T09:00:00Z", kT0 + 1000);
  EmitLine(11, 1, 3, "12.50", kT0 + 1000);
  Flush();
  StartLoader();
  WaitCh(
      "SELECT toString(count()) || '/' || toString(sum(extended_sales_amount)) FROM fact_sales FINAL "
      "WHERE is_deleted = 0",
      "3/75.000000");
  EXPECT_EQ(
      Ch("SELECT toString(discount_unit_price) || '/' || toString(net_unit_price) FROM fact_sales FINAL "
         "WHERE order_id = 10 AND line_no = 1"),
      "1.25/11.25");
  // Members and mirrors are copied before the facts of a round.
  EXPECT_EQ(Ch("SELECT count() FROM stg_orders FINAL WHERE is_deleted = 0"), "2");
  EXPECT_EQ(Ch("SELECT day_name FROM dim_dates FINAL WHERE date_key = 20240101"), "Monday");
  EXPECT_EQ(Ch("SELECT count() FROM fact_sales FINAL WHERE product_key NOT IN (SELECT product_key FROM "
               "dim_products)"),
            "0");

  // Update a line and a header, delete a line, change a tracked attribute (SCD2).
  EmitLine(10, 1, 5, "12.50", kT0 + 2000, 'u');
  EmitOrder(10, "2024-01-01T10:05:00Z", kT0 + 2000, 'u', "PAID");
  EmitLine(10, 2, 1, "12.50", kT0 + 2000, 'd');
  Emit("customers", 'u', {{"id", 1}},
       {{"id", 1}, {"first_name", "Ada"}, {"last_name", "L"}, {"email", "ada@new"}}, kT0 + 3000);
  Flush();
  WaitCh(
      "SELECT toString(count()) || '/' || toString(sum(extended_sales_amount)) FROM fact_sales FINAL "
      "WHERE is_deleted = 0",
      "2/100.000000");
  WaitCh("SELECT status FROM stg_orders FINAL WHERE id = '10'", "PAID");
  WaitCh("SELECT count() FROM stg_orderdetails FINAL WHERE is_deleted = 0", "2");
  EXPECT_EQ(Ch("SELECT count() FROM stg_orderdetails FINAL WHERE is_deleted = 1 AND order_id = '10' AND "
               "line_no = '2'"),
            "1");
  // The history: two versions of customer 1, the old one closed at the change's commit time.
  WaitCh("SELECT count() FROM dim_customers FINAL WHERE customer_id = 1", "2");
  EXPECT_EQ(Ch("SELECT email FROM dim_customers FINAL WHERE customer_id = 1 AND is_current = 1"), "ada@new");
  EXPECT_EQ(Ch("SELECT email || ' ' || toString(valid_to) FROM dim_customers FINAL WHERE customer_id = 1 AND "
               "is_current = 0"),
            "ada@x 2024-01-01 10:00:03");
  // Every row is in ClickHouse as often as it was written; FINAL shows each key once.
  EXPECT_EQ(Ch("SELECT count() FROM fact_sales FINAL"), "3");  // with the deleted line
  ExpectViewsEqualWarehouse();

  // Reconcile: the source as the events describe it.
  Pg("CREATE SCHEMA src");
  Pg("CREATE TABLE src.orders AS SELECT * FROM (VALUES (10, '2024-01-01T10:05:00Z'::timestamptz), "
     "(11, '2024-01-02T09:00:00Z'::timestamptz)) v(id, created_at)");
  Pg("CREATE TABLE src.orderdetails AS SELECT * FROM (VALUES (10, 1, 5, 12.50::numeric(12,2)), "
     "(11, 1, 3, 12.50::numeric(12,2))) v(order_id, line_no, quantity, price)");
  const auto report = ReconcileNow();
  std::string text;
  int clickhouse_checks = 0;
  for (const auto& c : report.checks()) {
    text += c.name() + " " + c.source() + " " + c.warehouse() + (c.matches() ? "" : " DIFFERENT") + "\n";
    if (c.name().starts_with("clickhouse")) ++clickhouse_checks;
  }
  EXPECT_TRUE(report.matches()) << text;
  EXPECT_GE(clickhouse_checks, 10) << text;

  // GetStatus and the metric say the sink is up.
  auto stub = v1::LoaderService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials()));
  v1::Status status;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->GetStatus(&ctx, {}, &status).ok());
  EXPECT_TRUE(status.clickhouse_enabled());
  EXPECT_TRUE(status.clickhouse_ok()) << status.DebugString();
  EXPECT_GT(status.clickhouse_rows(), 10u);
  EXPECT_EQ(status.clickhouse_versions_behind(), 0);
  const auto metrics = [&] {
    return rainbow::testing::HttpGet("http://127.0.0.1:" + std::to_string(http_port_) + "/metrics").second;
  };
  EXPECT_NE(metrics().find("loader_sink_up{sink=\"clickhouse\"} 1"), std::string::npos) << metrics();
  // The migrations are recorded once.
  EXPECT_EQ(Ch("SELECT count() FROM schema_migrations"), "2");

  // ClickHouse down: the warehouse goes on, the loader stays ready, the sink says it is down; when
  // ClickHouse is back the sink catches up.
  ASSERT_EQ(rainbow::testing::StackCommand("down clickhouse"), 0);
  EmitOrder(12, "2024-01-03T09:00:00Z", kT0 + 4000);
  EmitLine(12, 1, 4, "12.50", kT0 + 4000);
  Flush();
  WaitPg("SELECT count(*) FROM warehouse.fact_sales WHERE order_id = 12", "1");
  const auto down_by = std::chrono::steady_clock::now() + 30s;
  v1::Status down;
  while (std::chrono::steady_clock::now() < down_by) {
    grpc::ClientContext c;
    down.Clear();
    ASSERT_TRUE(stub->GetStatus(&c, {}, &down).ok());
    if (!down.clickhouse_ok()) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_FALSE(down.clickhouse_ok()) << down.DebugString();
  EXPECT_TRUE(down.warehouse_ok());
  EXPECT_NE(metrics().find("loader_sink_up{sink=\"clickhouse\"} 0"), std::string::npos) << metrics();
  EXPECT_EQ(rainbow::testing::HttpGet("http://127.0.0.1:" + std::to_string(http_port_) + "/readyz").first,
            200);
  ASSERT_EQ(rainbow::testing::StackCommand("up clickhouse"), 0);
  WaitCh("SELECT count() FROM fact_sales FINAL WHERE is_deleted = 0 AND order_id = 12", "1");
  {
    grpc::ClientContext c;
    v1::Status up;
    ASSERT_TRUE(stub->GetStatus(&c, {}, &up).ok());
    EXPECT_TRUE(up.clickhouse_ok()) << up.DebugString();
  }

  loaders_.back()->Signal(SIGTERM);
  EXPECT_EQ(loaders_.back()->Wait(30s), 0);
}

// Many orders over 3 partitions while the loader is killed -9 three times and ClickHouse is stopped
// and started once: afterwards ClickHouse's counts and total sales (FINAL) equal the warehouse's and
// the source's, and the views equal the warehouse's.
// A warehouse row ClickHouse cannot hold (an amount beyond Decimal(38, 6), as a manual fix in the
// warehouse could leave) goes to serving.clickhouse.dlq with ClickHouse's error; the rows around it in
// the same block are copied, and the sink goes on with what comes after.
TEST_F(ClickHouseTest, ARowClickHouseRefusesIsDeadLetteredAndTheRestIsCopied) {
  CreateTopics(1);
  kafka::EnsureTopic(brokers_, "serving.clickhouse.dlq", 1, 1);
  kafka::ConsumerConfig dlq_config{brokers_, name_ + "-dlq", {"serving.clickhouse.dlq"}, "clickhouse-test"};
  dlq_config.tail = true;
  kafka::Consumer dlq(dlq_config);
  EmitMembers(kT0);
  EmitOrder(10, "2024-01-01T10:05:00Z", kT0 + 1000);
  EmitLine(10, 1, 2, "12.50", kT0 + 1000);
  Flush();
  auto& loader = StartLoader();
  WaitCh("SELECT toString(count()) FROM fact_sales FINAL WHERE is_deleted = 0", "1");
  (void)dlq.Poll(100ms);  // joined and at the end before anything is dead-lettered

  // One statement: the refused row and a good one get neighbouring versions, in the same block.
  Pg("UPDATE warehouse.fact_sales SET extended_sales_amount = CASE WHEN line_no = 1 THEN 1e40 ELSE 0 END, "
     "sales_quantity = sales_quantity + 1 WHERE order_id = 10");
  const std::string refused =
      Pg("SELECT _version FROM warehouse.fact_sales WHERE order_id = 10 AND line_no = 1");
  EmitOrder(11, "2024-01-02T09:00:00Z", kT0 + 2000);
  EmitLine(11, 1, 3, "12.50", kT0 + 2000);
  Flush();
  WaitCh("SELECT toString(count()) FROM fact_sales FINAL WHERE is_deleted = 0 AND order_id = 11", "1");
  // Order 10's line keeps its last copy that ClickHouse could hold.
  EXPECT_EQ(
      Ch("SELECT toString(sales_quantity) || '/' || toString(extended_sales_amount) FROM fact_sales FINAL "
         "WHERE order_id = 10"),
      "2/25.000000");

  std::optional<kafka::ConsumedMessage> letter;
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (!letter && std::chrono::steady_clock::now() < end) {
    auto m = dlq.Poll(200ms);
    if (m && m->key == "fact_sales/" + refused && m->value && m->value->rfind("10\t1\t", 0) == 0)
      letter = std::move(m);
  }
  ASSERT_TRUE(letter.has_value()) << "no dead letter for fact_sales version " << refused << "\n" << Logs();
  const auto error = letter->HeaderValue("dlq.error").value_or("");
  EXPECT_NE(error.find("Code:"), std::string::npos) << error;
  EXPECT_EQ(letter->HeaderValue("dlq.table").value_or(""), "fact_sales");
  EXPECT_NE(letter->value->find("10000000000000000000000000000000000000000"), std::string::npos)
      << *letter->value;
  const auto metrics =
      rainbow::testing::HttpGet("http://127.0.0.1:" + std::to_string(http_port_) + "/metrics").second;
  EXPECT_NE(metrics.find("loader_dead_letters_total{table=\"fact_sales\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(loader.Stdout().find("clickhouse refused a row, dead-lettered"), std::string::npos);
}

TEST_F(ClickHouseTest, KillsAndAClickHouseRestartLeaveClickHouseEqualToTheWarehouse) {
  CreateTopics(3);
  EmitMembers(kT0);
  Flush();
  constexpr int kOrders = 16'665;  // 50,000 events (3 per order, 5 members)
  const auto qty = [](int i, int line) { return 1 + (i * 7 + line) % 5; };
  const auto created = [](int i) { return "2024-01-0" + std::to_string(1 + i % 5) + "T12:00:00Z"; };
  int emitted = 0;
  const auto emit_some = [&](int n) {
    for (int i = 0; i < n && emitted < kOrders; ++i, ++emitted) {
      EmitOrder(1000 + emitted, created(emitted), kT0 + emitted);
      for (int line = 1; line <= 2; ++line)
        EmitLine(1000 + emitted, line, qty(emitted, line), "12.50", kT0 + emitted);
    }
    Flush();
  };
  const std::map<std::string, std::string> small = {{"LOADER_BATCH_EVENTS", "500"},
                                                    {"LOADER_CLICKHOUSE_BATCH", "700"}};
  StartLoader(small);
  for (int round = 0; round < 5; ++round) {
    emit_some(kOrders / 6);
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + 200 * round));
    if (round == 2) {
      ASSERT_EQ(rainbow::testing::StackCommand("restart clickhouse"), 0);
    } else if (round != 4) {
      loaders_.back()->Signal(SIGKILL);
      loaders_.back()->Wait(10s);
      StartLoader(small);
    }
  }
  emit_some(kOrders);

  WaitPg("SELECT count(*) FROM warehouse.fact_sales", std::to_string(2 * kOrders), 180s);
  const std::string wh_sales = TrimDecimal(Pg("SELECT sum(extended_sales_amount) FROM warehouse.fact_sales"));
  WaitCh("SELECT count() FROM fact_sales FINAL WHERE is_deleted = 0", std::to_string(2 * kOrders), 120s);
  EXPECT_EQ(TrimDecimal(Ch("SELECT sum(extended_sales_amount) FROM fact_sales FINAL WHERE is_deleted = 0")),
            wh_sales);
  EXPECT_EQ(Ch("SELECT count() FROM stg_orders FINAL WHERE is_deleted = 0"), std::to_string(kOrders));
  EXPECT_EQ(Ch("SELECT count() FROM stg_orderdetails FINAL WHERE is_deleted = 0"),
            std::to_string(2 * kOrders));
  ExpectViewsEqualWarehouse();

  // The source the events describe; Reconcile (source, warehouse and ClickHouse) reports no difference.
  Pg("CREATE SCHEMA src");
  Pg("CREATE TABLE src.orders AS SELECT 1000 + i AS id, ('2024-01-0' || (1 + i % 5) || "
     "'T12:00:00Z')::timestamptz "
     "AS created_at FROM generate_series(0, " +
     std::to_string(kOrders - 1) + ") i");
  Pg("CREATE TABLE src.orderdetails AS SELECT 1000 + i AS order_id, l AS line_no, 1 + (i * 7 + l) % 5 AS "
     "quantity, 12.50::numeric(12,2) AS price FROM generate_series(0, " +
     std::to_string(kOrders - 1) + ") i, generate_series(1, 2) l");
  const auto report = ReconcileNow();
  std::string text;
  for (const auto& c : report.checks())
    text += c.name() + " " + c.source() + " " + c.warehouse() + (c.matches() ? "" : " DIFFERENT") + "\n";
  EXPECT_TRUE(report.matches()) << text;
  EXPECT_EQ(TrimDecimal(report.source_sales_amount()), wh_sales);
}

// The warehouse stops answering in the middle of an export (a proxy holds back PostgreSQL's answer to
// the COPY for a minute): the round fails within PG_STATEMENT_TIMEOUT + PG_CONNECT_TIMEOUT instead of
// waiting for it (the export itself has no statement timeout), and after a Reset the next round copies
// every row.
TEST_F(ClickHouseTest, AnExportTheWarehouseStopsAnsweringFailsWithinTheTimeouts) {
  FillWarehouse("20");
  auto proxy = std::make_unique<rainbow::testing::ReplyFaultProxy>(std::stoi(StackEnv("PG_PORT")));
  proxy->ArmHold("TO STDOUT", 60s);
  ClickHouseConfig cc;
  cc.url = StackEnv("CLICKHOUSE_URL");
  cc.database = name_;
  pg::Timeouts timeouts;
  timeouts.connect = 2s;
  timeouts.statement = 1s;
  // A later keyword wins in a libpq connection string: the same database through the proxy.
  ClickHouseSink sink(cc, dsn_ + " port=" + std::to_string(proxy->port()), nullptr, nullptr, timeouts);
  std::stop_source stop;
  auto round = std::async(std::launch::async, [&]() -> std::string {
    try {
      sink.RunOnce(stop.get_token());
      return "the round returned";
    } catch (const std::exception& e) {
      return e.what();
    }
  });
  const bool ended = round.wait_for(20s) == std::future_status::ready;
  ASSERT_TRUE(ended) << "the round waited for the held export";
  EXPECT_NE(round.get().find("no data from the server for 3000 ms"), std::string::npos);
  EXPECT_EQ(proxy->faults(), 1);

  // The warehouse answers again and drops the session whose client left (and with it the copier lock),
  // as a thawed server does: a reset sink copies everything.
  pg::Connection(base_dsn_).Exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'COPY%'",
      {name_});
  sink.Reset();
  int64_t copied = 0;
  for (const auto end = std::chrono::steady_clock::now() + 30s;
       copied < 1000 && std::chrono::steady_clock::now() < end;) {
    copied += sink.RunOnce(stop.get_token());
    if (copied < 1000) std::this_thread::sleep_for(200ms);
  }
  EXPECT_GE(copied, 1000);
  EXPECT_EQ(ch_->Query("SELECT count() FROM fact_sales FINAL"), "1000\n");
}

// Windows are copied in parallel, one per lane: when the lower lane of a step fails and the upper one
// succeeds, ClickHouse holds versions above a gap. After a reset (as after any failure, or a restart)
// the sink must copy the gap, not resume from ClickHouse's max(_version).
TEST_F(ClickHouseTest, AFailedLaneBelowACopiedOneIsCopiedAfterAReset) {
  FillWarehouse("CASE WHEN i = 100 THEN 1e40 ELSE 20 END");
  // Steps start at version 0: windows (0, 300] and (300, 600], then (600, 900] and (900, 1200]. The
  // refused row (order 100) lies in the first step's lower window.
  const int64_t first = std::stoll(Pg("SELECT min(_version) FROM warehouse.fact_sales"));
  ASSERT_LE(first, 150);
  ClickHouseConfig cc;
  cc.url = StackEnv("CLICKHOUSE_URL");
  cc.database = name_;
  cc.batch_versions = 300;
  cc.copy_lanes = 2;
  // No dead-letter writer: the refused row fails its lane (and the round).
  ClickHouseSink sink(cc, dsn_, nullptr, nullptr);
  std::stop_source stop;
  std::string error;
  try {
    sink.RunOnce(stop.get_token());
  } catch (const std::exception& e) {
    error = e.what();
  }
  EXPECT_NE(error.find("Code:"), std::string::npos) << error;
  // The window hit: the first step's upper lane, (300, 600], was copied; its lower lane, holding the
  // refused row, was not.
  EXPECT_EQ(ch_->Query("SELECT count() FROM fact_sales WHERE _version > 300 AND _version <= 600"), "300\n");
  EXPECT_EQ(ch_->Query("SELECT count() FROM fact_sales"), "300\n");

  // The row fixed (a new version), a reset sink copies everything, the gap included.
  Pg("UPDATE warehouse.fact_sales SET extended_sales_amount = 20 WHERE order_id = 100");
  sink.Reset();
  int64_t copied = 0;
  for (const auto end = std::chrono::steady_clock::now() + 30s;
       copied < 700 && std::chrono::steady_clock::now() < end;) {
    copied += sink.RunOnce(stop.get_token());
  }
  EXPECT_EQ(ch_->Query("SELECT count() FROM fact_sales FINAL"), "1000\n");
  EXPECT_EQ(TrimDecimal(ch_->Query("SELECT sum(extended_sales_amount) FROM fact_sales FINAL")), "20000");
  // And a sink that starts afresh (a restarted loader) finds the progress and copies nothing again.
  ClickHouseSink restarted(cc, dsn_, nullptr, nullptr);
  EXPECT_EQ(restarted.RunOnce(stop.get_token()), 0);
}

}  // namespace
}  // namespace rainbow::loader
