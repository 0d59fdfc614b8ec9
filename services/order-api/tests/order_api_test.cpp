// order-api against real PostgreSQL: the service runs as its own process on a database of its own
// (created, migrated and seeded here), and is driven over REST and gRPC.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "common/pg/connection.hpp"
#include "rainbow/order_api.grpc.pb.h"
#include "rainbow/rpc_status.pb.h"
#include "services/order-api/src/migrations.hpp"
#include "services/order-api/src/order_types.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/grpc_probes.hpp"
#include "tests/support/stack_env.hpp"

namespace rainbow::order {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::ChildProcess;
using testing::FreePort;
using testing::HttpCall;
using testing::StackEnv;

// The field a gRPC error names, read the way any gRPC client reads the rich error model: the details
// are a google.rpc.Status (same code and message) holding one google.rpc.BadRequest.
// The one detail of st's google.rpc.Status (the grpc-status-details-bin trailer), which must have
// type `type_url`; "" (and a test failure) when there is not exactly one.
std::string OneDetail(const grpc::Status& st, const std::string& type_url) {
  const std::string& raw = st.error_details();
  // Field 1 (code) as a varint, then field 2 (message): checked on the bytes, so the field numbers are
  // not only taken from our own copy of the .proto.
  EXPECT_GE(raw.size(), 3u);
  if (raw.size() >= 3) {
    EXPECT_EQ(raw.substr(0, 3), std::string({'\x08', static_cast<char>(st.error_code()), '\x12'}));
  }
  rpc::Status status;
  if (!status.ParseFromString(raw)) {
    ADD_FAILURE() << "details are not a google.rpc.Status";
    return "";
  }
  EXPECT_EQ(status.code(), static_cast<int>(st.error_code()));
  EXPECT_EQ(status.message(), st.error_message());
  if (status.details_size() != 1) {
    ADD_FAILURE() << "details hold " << status.details_size() << " messages";
    return "";
  }
  EXPECT_EQ(status.details(0).type_url(), type_url);
  return status.details(0).value();
}

// The field a google.rpc.BadRequest in st's details names.
std::string ViolatedField(const grpc::Status& st) {
  rpc::BadRequest bad;
  if (!bad.ParseFromString(OneDetail(st, "type.googleapis.com/google.rpc.BadRequest")) ||
      bad.field_violations_size() != 1)
    return "<bad BadRequest>";
  EXPECT_EQ(bad.field_violations(0).description(), st.error_message());
  return bad.field_violations(0).field();
}

// A length-delimited field 1 holding `text`, as the bytes of a message starting with it must begin.
std::string Field1(const std::string& text) {
  return std::string(1, '\x0a') + static_cast<char>(text.size()) + text;
}

std::string DsnFor(const std::string& db) {
  std::string dsn = StackEnv("PG_DSN");
  const auto at = dsn.find("dbname=");
  const auto end = dsn.find(' ', at);
  return dsn.substr(0, at) + "dbname=" + db + (end == std::string::npos ? "" : dsn.substr(end));
}

// A started order-api process with its ports.
struct Service {
  std::unique_ptr<ChildProcess> process;
  int rest = 0, grpc = 0, ops = 0;
  std::string Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(rest) + path; }
  std::string OpsUrl(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(ops) + path;
  }
};

Service StartService(const std::string& dsn, std::map<std::string, std::string> extra = {}) {
  Service s;
  s.rest = FreePort();
  s.grpc = FreePort();
  s.ops = FreePort();
  std::map<std::string, std::string> env = {{"PG_DSN", dsn},
                                            {"ORDER_API_REST_ADDR", "127.0.0.1:" + std::to_string(s.rest)},
                                            {"GRPC_ADDR", "127.0.0.1:" + std::to_string(s.grpc)},
                                            {"HTTP_ADDR", "127.0.0.1:" + std::to_string(s.ops)},
                                            {"ORDER_API_MAX_BODY_BYTES", "4096"},
                                            {"LOG_LEVEL", "warn"}};
  for (auto& [k, v] : extra) env[k] = v;
  s.process = std::make_unique<ChildProcess>(ORDER_API_PATH, std::vector<std::string>{}, env);
  return s;
}

// The first answer of /readyz after the service checked its database once (the ops endpoint answers
// from start-up on; a loaded machine starts processes slowly); status 0 when none came within 20 s.
std::pair<long, std::string> FirstReadyzAnswer(const Service& s) {
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(100ms);
    auto ready = testing::HttpGet(s.OpsUrl("/readyz"));
    if (ready.first != 0 && ready.second.find("database not checked yet") == std::string::npos) return ready;
  }
  return {0, ""};
}

std::shared_ptr<grpc::Channel> ChannelTo(int port) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
}

// DROP DATABASE ... WITH (FORCE), retried: it may not terminate an autovacuum worker that happens to
// be in the database (not a backend of our role), which leaves within moments.
void DropDatabase(pg::Connection& admin, const std::string& name) {
  for (int attempt = 1;; ++attempt) {
    try {
      admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
      return;
    } catch (const pg::PgError&) {
      if (attempt == 20) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
}

// Waits (up to 20 s) until `n` sessions of the connection's database wait on a lock; returns how many do.
int64_t WaitForLockWaiters(pg::Connection& conn, int64_t n) {
  const std::string waiting_sql =
      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (conn.Exec(waiting_sql).Int(0, 0) < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  return conn.Exec(waiting_sql).Int(0, 0);
}

// Ready, and every connection of gRPC CreateOrder's event loop is up (they open in the background; a
// test locking a table would otherwise find one of them waiting on its lock while it prepares).
bool WaitReady(const Service& s, std::chrono::seconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (testing::HttpGet(s.OpsUrl("/readyz")).first == 200) {
      const std::string metrics = testing::HttpGet(s.OpsUrl("/metrics")).second;
      const auto value = [&](const std::string& state) {
        const std::string key = "order_api_create_loop_connections{state=\"" + state + "\"} ";
        const auto at = metrics.find(key);
        return at == std::string::npos ? -1.0 : std::stod(metrics.substr(at + key.size()));
      };
      if (value("size") > 0 && value("up") == value("size")) return true;
    }
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

class OrderApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = "order_api_test_" + std::to_string(::getpid());
    pg::Connection admin(StackEnv("PG_DSN"));
    admin.Exec("DROP DATABASE IF EXISTS " + db_);
    admin.Exec("CREATE DATABASE " + db_);
    const std::string data = ::testing::TempDir() + "/" + db_ + "-sample";
    auto [grc, gout] = testing::RunShell("python3 " + std::string(SAMPLE_GENERATOR) + " --out " + data +
                                         " --customers 300 --products 800");
    ASSERT_EQ(grc, 0) << gout;
    ChildProcess seed(ORDER_API_SEED_PATH, {"--data-dir", data, "--catalog", CATALOG_CSV},
                      {{"PG_DSN", DsnFor(db_)}});
    ASSERT_EQ(seed.Wait(60s), 0) << seed.Stdout() << seed.Stderr();
    service_ = new Service(StartService(DsnFor(db_)));
    ASSERT_TRUE(WaitReady(*service_, 30s)) << service_->process->Stdout() << service_->process->Stderr();
  }
  static void TearDownTestSuite() {
    if (service_ != nullptr) {
      service_->process->Signal(SIGTERM);
      service_->process->Wait(15s);
      delete service_;
      service_ = nullptr;
    }
    pg::Connection admin(StackEnv("PG_DSN"));
    DropDatabase(admin, db_);
  }

  static pg::Connection& Db() {
    static pg::Connection conn(DsnFor(db_));
    return conn;
  }
  static int64_t Count(const std::string& table) {
    return Db().Exec("SELECT count(*) FROM rainbow." + table).Int(0, 0);
  }

  static testing::HttpResponse Post(const std::string& body, std::vector<std::string> headers = {}) {
    headers.push_back("Content-Type: application/json");
    return HttpCall("POST", service_->Url("/api/v1/orders"), body, headers);
  }
  static std::string Body(int64_t customer, int64_t payment,
                          const std::vector<std::pair<int64_t, int>>& lines) {
    json products = json::array();
    for (auto [p, q] : lines) products.push_back({{"productId", p}, {"quantity", q}});
    return json{{"customerId", customer}, {"payment_id", payment}, {"products", products}}.dump();
  }
  // The gRPC twin of Body().
  static v1::CreateOrderRequest GrpcBody(int64_t customer, int64_t payment,
                                         const std::vector<std::pair<int64_t, int>>& lines) {
    v1::CreateOrderRequest req;
    req.set_customer_id(customer);
    req.set_payment_id(payment);
    for (auto [p, q] : lines) {
      auto* line = req.add_products();
      line->set_product_id(p);
      line->set_quantity(q);
    }
    return req;
  }
  std::unique_ptr<v1::OrderService::Stub> Grpc(int port = 0) {
    return v1::OrderService::NewStub(ChannelTo(port != 0 ? port : service_->grpc));
  }

  // The pricing rule, implemented again independently of the service's SQL: the product's own
  // active promotion, else the active global one with the lowest id; Percentage = price * pct / 100
  // rounded half up to cents, Fixed Amount = min(amount, price).
  static std::pair<int64_t, int64_t> ExpectedPriceAndDiscount(int64_t product_id) {
    auto p = Db().Exec("SELECT round(price * 100)::bigint, promotion_id FROM rainbow.products WHERE id = $1",
                       {std::to_string(product_id)});
    const int64_t price = p.Int(0, 0);
    auto promos = Db().Exec(
        "SELECT id, coupon_type, round(price_treatment * 100)::bigint, is_global FROM rainbow.promotions "
        "WHERE now() >= promo_begin AND now() < promo_end AND deleted_at IS NULL ORDER BY id");
    int chosen = -1;
    for (int i = 0; i < promos.rows(); ++i) {
      if (!p.IsNull(0, 1) && promos.Int(i, 0) == p.Int(0, 1)) chosen = i;
    }
    for (int i = 0; chosen < 0 && i < promos.rows(); ++i) {
      if (promos.Text(i, 3) == "t") chosen = i;
    }
    if (chosen < 0) return {price, 0};
    const int64_t treatment = promos.Int(chosen, 2);  // cents or hundredths of a percent
    if (promos.Text(chosen, 1) == "Percentage") return {price, (price * treatment + 5000) / 10000};
    return {price, std::min(treatment, price)};
  }

  static inline std::string db_;
  static inline Service* service_ = nullptr;
};

TEST_F(OrderApi, PingAndServiceInfo) {
  auto ping = HttpCall("GET", service_->Url("/ping"));
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(json::parse(ping.body)["message"], "pong");
  auto info = HttpCall("GET", service_->Url("/"));
  ASSERT_EQ(info.status, 200);
  const auto j = json::parse(info.body);
  EXPECT_EQ(j["name"], "order-api");
  EXPECT_TRUE(j["version"].is_string());
  EXPECT_GE(j["uptime_seconds"].get<double>(), 0.0);
}

TEST_F(OrderApi, CreateWritesTheOrderAndLinesWithPricesAndDiscounts) {
  // Products with their own promotion and without one (global promotion or none).
  auto with_promo =
      Db().Exec("SELECT id FROM rainbow.products WHERE promotion_id IS NOT NULL ORDER BY id LIMIT 2");
  auto without = Db().Exec("SELECT id FROM rainbow.products WHERE promotion_id IS NULL ORDER BY id LIMIT 1");
  const std::vector<std::pair<int64_t, int>> lines = {
      {with_promo.Int(0, 0), 2}, {without.Int(0, 0), 1}, {with_promo.Int(1, 0), 5}};
  auto r = Post(Body(7, 2, lines));
  ASSERT_EQ(r.status, 201) << r.body;
  const auto order = json::parse(r.body);
  EXPECT_EQ(r.headers["location"], "/api/v1/orders/" + std::to_string(order["id"].get<int64_t>()));
  EXPECT_FALSE(r.headers["x-request-id"].empty());
  EXPECT_EQ(order["customerId"], 7);
  EXPECT_EQ(order["paymentId"], 2);
  EXPECT_EQ(order["status"], "CREATED");
  ASSERT_EQ(order["products"].size(), 3u);
  int64_t total = 0, discount = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& line = order["products"][i];
    auto [price, disc] = ExpectedPriceAndDiscount(lines[i].first);
    EXPECT_EQ(line["lineNo"], static_cast<int>(i) + 1);
    EXPECT_EQ(line["productId"], lines[i].first);
    EXPECT_EQ(line["quantity"], lines[i].second);
    EXPECT_EQ(line["unitPrice"], FormatCents(price));
    EXPECT_EQ(line["discountUnitPrice"], FormatCents(disc)) << "product " << lines[i].first;
    EXPECT_EQ(line["netUnitPrice"], FormatCents(price - disc));
    total += price * lines[i].second;
    discount += disc * lines[i].second;
  }
  EXPECT_EQ(order["totalAmount"], FormatCents(total));
  EXPECT_EQ(order["discountAmount"], FormatCents(discount));
  EXPECT_EQ(order["netAmount"], FormatCents(total - discount));

  // What the database holds is what was answered.
  auto rows = Db().Exec(
      "SELECT count(*), sum(quantity * round(price * 100))::bigint FROM rainbow.orderdetails WHERE order_id "
      "= $1",
      {std::to_string(order["id"].get<int64_t>())});
  EXPECT_EQ(rows.Int(0, 0), 3);
  EXPECT_EQ(rows.Int(0, 1), total);

  auto got = HttpCall("GET", service_->Url("/api/v1/orders/" + std::to_string(order["id"].get<int64_t>())));
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(json::parse(got.body), order);
}

// The route answers 200 or 404 (the seed's codes): a path that cannot name an order names none.
TEST_F(OrderApi, GetAnIdThatNamesNoOrderIsNotFound) {
  auto missing = HttpCall("GET", service_->Url("/api/v1/orders/987654321"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_FALSE(json::parse(missing.body)["error"].get<std::string>().empty());
  for (const char* bad : {"abc", "-1", "0", "1.5", "99999999999999999999"}) {
    auto r = HttpCall("GET", service_->Url(std::string("/api/v1/orders/") + bad));
    EXPECT_EQ(r.status, 404) << bad;
    EXPECT_EQ(json::parse(r.body)["field"], "id") << bad;
  }
}

TEST_F(OrderApi, BadInputIsRejectedWithTheFieldAndWritesNothing) {
  const int64_t orders_before = Count("orders");
  const int64_t lines_before = Count("orderdetails");
  struct Case {
    std::string body;
    long status;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"{not json", 400, "body"},
      {"[1,2]", 400, "body"},
      {R"({"payment_id":1,"products":[{"productId":1,"quantity":1}]})", 400, "customerId"},
      {R"({"customerId":"1","payment_id":1,"products":[{"productId":1,"quantity":1}]})", 400, "customerId"},
      {R"({"customerId":1,"payment_id":1.5,"products":[{"productId":1,"quantity":1}]})", 400, "payment_id"},
      {R"({"customerId":1,"payment_id":1})", 400, "products"},
      {R"({"customerId":1,"payment_id":1,"products":[]})", 400, "products"},
      {R"({"customerId":1,"payment_id":1,"products":[{"productId":1}]})", 400, "products[0].quantity"},
      {R"({"customerId":1,"payment_id":1,"products":[{"productId":1,"quantity":0}]})", 400,
       "products[0].quantity"},
      {R"({"customerId":1,"payment_id":1,"products":[{"productId":1,"quantity":-3}]})", 400,
       "products[0].quantity"},
      {R"({"customerId":1,"payment_id":1,"products":[{"productId":1,"quantity":1000001}]})", 400,
       "products[0].quantity"},
      {R"({"customerId":1,"payment_id":1,"products":[{"productId":1,"quantity":1e40}]})", 400,
       "products[0].quantity"},
      {R"({"customerId":999999,"payment_id":1,"products":[{"productId":1,"quantity":1}]})", 400,
       "customerId"},
      {R"({"customerId":1,"payment_id":999,"products":[{"productId":1,"quantity":1}]})", 400, "payment_id"},
      {R"({"customerId":1,"payment_id":1,"products":[{"productId":1,"quantity":1},{"productId":888888,"quantity":1}]})",
       400, "products[1].productId"},
      {std::string(R"({"customerId":1,"payment_id":1,"products":[)") + std::string(5000, ' ') + "]}", 413,
       "body"},
      // A key given twice (parsers disagree on which value wins), trailing garbage, a NUL byte, bytes
      // that are not UTF-8, an integer written as a float.
      {R"({"customerId":1,"payment_id":1,"customerId":2,"products":[{"productId":1,"quantity":1}]})", 400,
       "customerId"},
      {R"({"customerId":1,"payment_id":1,"products":[{"productId":1,"quantity":1,"quantity":5}]})", 400,
       "products[0].quantity"},
      {R"({"customerId":1,"payment_id":1,"products":[{"productId":1,"quantity":1}]} {})", 400, "body"},
      {std::string(R"({"customerId":1,"payment_id":1,)") + std::string(1, '\0') +
           R"("products":[{"productId":1,"quantity":1}]})",
       400, "body"},
      {"{\"customerId\":1,\"payment_id\":1,\"note\":\"\xc3\x28\",\"products\":[{\"productId\":1,\"quantity\":"
       "1}]}",
       400, "body"},
      {R"({"customerId":1,"payment_id":1,"products":[{"productId":1,"quantity":2.0}]})", 400,
       "products[0].quantity"},
  };
  for (const auto& c : cases) {
    auto r = Post(c.body);
    EXPECT_EQ(r.status, c.status) << c.body.substr(0, 120) << " -> " << r.body;
    auto j = json::parse(r.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.body;
    EXPECT_EQ(j.value("field", ""), c.field) << c.body.substr(0, 120) << " -> " << r.body;
    EXPECT_FALSE(j.value("error", "").empty());
  }
  const std::string good = Body(1, 1, {{1, 1}});
  for (const char* type :
       {"text/plain", "application/jsonp", "text/json-ish", "application/x-www-form-urlencoded"}) {
    auto r = HttpCall("POST", service_->Url("/api/v1/orders"), good, {std::string("Content-Type: ") + type});
    EXPECT_EQ(r.status, 415) << type;
    EXPECT_EQ(json::parse(r.body).value("field", ""), "Content-Type") << type;
  }
  EXPECT_EQ(Count("orders"), orders_before) << "a rejected request wrote an order";
  EXPECT_EQ(Count("orderdetails"), lines_before) << "a rejected request wrote lines";
  // Media types are case-insensitive and may carry parameters; +json types are JSON too.
  for (const char* type : {"Application/JSON; charset=utf-8", "application/vnd.rainbow+json"}) {
    auto r = HttpCall("POST", service_->Url("/api/v1/orders"), good, {std::string("Content-Type: ") + type});
    EXPECT_EQ(r.status, 201) << type << " -> " << r.body;
  }
}

// A soft-deleted row (deleted_at set) is gone for the API: ordering for it is a 400 naming the field,
// over REST (keyed or not) and gRPC alike, and writes nothing, not even the idempotency key.
TEST_F(OrderApi, SoftDeletedCustomerPaymentOrProductIsUnknown) {
  const int64_t customer = Db().Exec(
                                   "INSERT INTO rainbow.customers (first_name, last_name, email, deleted_at) "
                                   "VALUES ('Gone', 'Customer', 'gone-' || gen_random_uuid() || "
                                   "'@example.com', now()) RETURNING id")
                               .Int(0, 0);
  const int64_t payment = Db().Exec(
                                  "INSERT INTO rainbow.payments (name, type, deleted_at) VALUES ('gone', "
                                  "'card', now()) RETURNING id")
                              .Int(0, 0);
  const int64_t product = Db().Exec(
                                  "INSERT INTO rainbow.products (name, price, deleted_at) VALUES ('gone', "
                                  "9.99, now()) RETURNING id")
                              .Int(0, 0);
  const int64_t orders_before = Count("orders");
  const int64_t lines_before = Count("orderdetails");
  const int64_t keys_before = Count("idempotency_keys");
  struct Case {
    int64_t customer, payment, product;
    std::string field;
  };
  const std::vector<Case> cases = {{customer, 1, 1, "customerId"},
                                   {1, payment, 1, "payment_id"},
                                   {1, 1, product, "products[0].productId"},
                                   {customer, payment, product, "customerId"}};
  for (const auto& c : cases) {
    const std::string body = Body(c.customer, c.payment, {{c.product, 1}});
    for (const bool keyed : {false, true}) {
      std::vector<std::string> headers;
      if (keyed) headers.push_back("Idempotency-Key: deleted-" + std::to_string(::getpid()) + "-" + c.field);
      auto r = Post(body, headers);
      EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
      const auto j = json::parse(r.body);
      EXPECT_EQ(j.value("field", ""), c.field) << body;
      EXPECT_NE(j.value("error", "").find("does not exist"), std::string::npos) << r.body;
    }
    const auto req = GrpcBody(c.customer, c.payment, {{c.product, 1}});
    grpc::ClientContext ctx;
    v1::Order out;
    const auto st = Grpc()->CreateOrder(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(ViolatedField(st), c.field);
  }
  EXPECT_EQ(Count("orders"), orders_before);
  EXPECT_EQ(Count("orderdetails"), lines_before);
  EXPECT_EQ(Count("idempotency_keys"), keys_before);
  // Restored, the same customer and payment can order again.
  Db().Exec("UPDATE rainbow.customers SET deleted_at = NULL WHERE id = $1", {std::to_string(customer)});
  Db().Exec("UPDATE rainbow.payments SET deleted_at = NULL WHERE id = $1", {std::to_string(payment)});
  auto again = Post(Body(customer, payment, {{1, 1}}));
  EXPECT_EQ(again.status, 201) << again.body;
  // Leave the sample data as the seed made it (other tests count it).
  if (again.status == 201) {
    const std::string id = std::to_string(json::parse(again.body)["id"].get<int64_t>());
    Db().Exec("DELETE FROM rainbow.orderdetails WHERE order_id = $1", {id});
    Db().Exec("DELETE FROM rainbow.orders WHERE id = $1", {id});
  }
  Db().Exec("DELETE FROM rainbow.customers WHERE id = $1", {std::to_string(customer)});
  Db().Exec("DELETE FROM rainbow.payments WHERE id = $1", {std::to_string(payment)});
  Db().Exec("DELETE FROM rainbow.products WHERE id = $1", {std::to_string(product)});
}

// A chunked body has no Content-Length to check up front: the limit applies while it is read.
TEST_F(OrderApi, ChunkedBodiesAreLimitedWhileRead) {
  const int64_t orders_before = Count("orders");
  const std::string padded = std::string(R"({"customerId":1,"payment_id":1,"products":[)") +
                             std::string(20000, ' ') + R"({"productId":1,"quantity":1}]})";
  auto big = Post(padded, {"Transfer-Encoding: chunked"});
  EXPECT_EQ(big.status, 413) << big.body;
  EXPECT_EQ(json::parse(big.body).value("field", ""), "body");
  EXPECT_EQ(Count("orders"), orders_before);
  auto small = Post(Body(1, 1, {{1, 1}}), {"Transfer-Encoding: chunked"});
  EXPECT_EQ(small.status, 201) << small.body;
  EXPECT_EQ(Count("orders"), orders_before + 1);
}

// SIGTERM while creates are in flight: they are held inside the database by a lock this test takes, so
// they are certainly accepted and unfinished when the signal comes. The service must keep running until
// they finish, answer every one with success, and then exit 0; each answered order is in the database.
TEST_F(OrderApi, SigtermDrainsRequestsInFlight) {
  Service s = StartService(DsnFor(db_), {{"LOG_LEVEL", "info"}});
  ASSERT_TRUE(WaitReady(s, 30s)) << s.process->Stderr();
  pg::Connection locker(DsnFor(db_));
  locker.Exec("BEGIN");
  locker.Exec("LOCK TABLE rainbow.orders IN EXCLUSIVE MODE");  // creates wait; reads do not

  std::mutex mu;
  std::vector<int64_t> created;
  std::vector<std::string> failures;
  auto record = [&](bool ok, int64_t id, std::string what) {
    std::lock_guard lock(mu);
    if (ok) {
      created.push_back(id);
    } else {
      failures.push_back(std::move(what));
    }
  };
  constexpr int kRest = 3, kGrpc = 2;
  std::vector<std::thread> clients;
  for (int i = 0; i < kRest; ++i) {
    clients.emplace_back([&, i] {
      auto r = HttpCall("POST", s.Url("/api/v1/orders"), Body(1 + i, 1, {{1 + i, 1}, {11 + i, 2}}),
                        {"Content-Type: application/json"});
      record(r.status == 201, r.status == 201 ? json::parse(r.body)["id"].get<int64_t>() : 0,
             "REST " + std::to_string(r.status) + ": " + r.body);
    });
  }
  for (int i = 0; i < kGrpc; ++i) {
    clients.emplace_back([&, i] {
      const auto req = GrpcBody(20 + i, 2, {{30 + i, 1}, {40 + i, 1}});
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 30s);
      v1::Order out;
      const auto st = Grpc(s.grpc)->CreateOrder(&ctx, req, &out);
      record(st.ok(), out.id(), "gRPC " + std::to_string(st.error_code()) + ": " + st.error_message());
    });
  }
  // Wait until all of them are inside the database, blocked on the lock.
  pg::Connection watcher(DsnFor(db_));
  ASSERT_EQ(WaitForLockWaiters(watcher, kRest + kGrpc), kRest + kGrpc)
      << "the creates never reached the database";

  s.process->Signal(SIGTERM);
  EXPECT_FALSE(s.process->Wait(1500ms).has_value()) << "exited with requests in flight";
  // Draining: a new request is turned away with 503 and writes nothing; the replica says it is not ready.
  const int64_t orders_during_drain = Count("orders");
  auto late =
      HttpCall("POST", s.Url("/api/v1/orders"), Body(1, 1, {{1, 1}}), {"Content-Type: application/json"});
  EXPECT_EQ(late.status, 503) << late.body;
  EXPECT_NE(json::parse(late.body).value("error", "").find("shutting down"), std::string::npos) << late.body;
  EXPECT_EQ(testing::HttpGet(s.OpsUrl("/readyz")).first, 503);
  // gRPC drains at the same time: no new call is taken (the health check is refused or says
  // NOT_SERVING), and a late create is UNAVAILABLE (retry elsewhere), not queued behind the lock.
  const std::string health = testing::HealthStatus(ChannelTo(s.grpc));
  EXPECT_TRUE(health == "NOT_SERVING" || health == "call failed: 14") << health;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::Order out;
    const auto st = Grpc(s.grpc)->CreateOrder(&ctx, GrpcBody(1, 1, {{1, 1}}), &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  }
  locker.Exec("COMMIT");
  for (auto& t : clients) t.join();
  const auto code = s.process->Wait(30s);
  ASSERT_TRUE(code.has_value()) << "still running 30 s after SIGTERM";
  EXPECT_EQ(*code, 0) << s.process->Stderr();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();
  EXPECT_EQ(created.size(), static_cast<size_t>(kRest + kGrpc));
  EXPECT_EQ(Count("orders"), orders_during_drain + kRest + kGrpc) << "the turned-away request wrote an order";
  for (int64_t id : created) {
    auto lines =
        Db().Exec("SELECT count(*) FROM rainbow.orderdetails WHERE order_id = $1", {std::to_string(id)});
    EXPECT_EQ(lines.Int(0, 0), 2) << "order " << id << " was answered but is not in the database whole";
  }
  const std::string out = s.process->Stdout();
  EXPECT_NE(out.find("\"msg\":\"draining\""), std::string::npos) << out.substr(0, 2000);
  EXPECT_NE(out.find("\"msg\":\"stopped\""), std::string::npos);
}

TEST_F(OrderApi, UnknownRoutesAndMethodsAreJsonErrors) {
  auto r = HttpCall("GET", service_->Url("/api/v2/orders"));
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(json::parse(r.body).contains("error"));
  r = HttpCall("GET", service_->Url("/api/v1/orders/1/lines"));
  EXPECT_EQ(r.status, 404);
  r = HttpCall("DELETE", service_->Url("/api/v1/orders/1"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "GET");
  r = HttpCall("PUT", service_->Url("/api/v1/orders"), "{}");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "GET, POST");
  EXPECT_TRUE(json::parse(r.body).contains("error"));
  r = HttpCall("POST", service_->Url("/ping"), "{}");
  EXPECT_EQ(r.status, 405);
  // Methods civetweb has no handler hook for reach the same router, not civetweb's plain-text page.
  for (const char* method : {"TRACE", "PROPFIND", "FOO"}) {
    r = HttpCall(method, service_->Url("/api/v1/orders"));
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.headers["allow"], "GET, POST") << method;
    EXPECT_EQ(json::parse(r.body).value("error", ""), "method not allowed; allowed: GET, POST") << method;
    EXPECT_FALSE(r.headers["x-request-id"].empty()) << method;
  }
  r = HttpCall("FOO", service_->Url("/nowhere"));
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(json::parse(r.body).contains("error"));
  // Made-up methods share one metric label, so they cannot grow the label set.
  const std::string metrics = HttpCall("GET", service_->OpsUrl("/metrics")).body;
  EXPECT_NE(metrics.find("method=\"OTHER\""), std::string::npos);
  EXPECT_EQ(metrics.find("method=\"FOO\""), std::string::npos);
  EXPECT_EQ(metrics.find("method=\"PROPFIND\""), std::string::npos);
}

TEST_F(OrderApi, IdempotentRetryReturnsTheFirstResponseAndCreatesNothingNew) {
  const std::string body = Body(11, 1, {{5, 1}, {6, 2}});
  const std::string key = "Idempotency-Key: retry-" + std::to_string(::getpid());
  auto first = Post(body, {key});
  ASSERT_EQ(first.status, 201) << first.body;
  const int64_t orders = Count("orders");
  const int64_t lines = Count("orderdetails");
  const int64_t keys = Count("idempotency_keys");
  auto second = Post(body, {key});
  EXPECT_EQ(second.status, 201);
  EXPECT_EQ(json::parse(second.body), json::parse(first.body));
  EXPECT_EQ(second.headers["idempotent-replayed"], "true");
  auto other = Post(Body(11, 1, {{5, 9}}), {key});
  EXPECT_EQ(other.status, 422);
  EXPECT_EQ(json::parse(other.body)["field"], "Idempotency-Key");
  // Still the first response once the order was soft-deleted (a plain GET no longer finds it).
  const std::string id = std::to_string(json::parse(first.body)["id"].get<int64_t>());
  Db().Exec("UPDATE rainbow.orders SET deleted_at = now() WHERE id = $1", {id});
  EXPECT_EQ(HttpCall("GET", service_->Url("/api/v1/orders/" + id)).status, 404);
  auto third = Post(body, {key});
  EXPECT_EQ(third.status, 201) << third.body;
  EXPECT_EQ(json::parse(third.body), json::parse(first.body));
  EXPECT_EQ(third.headers["idempotent-replayed"], "true");
  EXPECT_EQ(Count("orders"), orders);
  EXPECT_EQ(Count("orderdetails"), lines);
  EXPECT_EQ(Count("idempotency_keys"), keys);
}

// A key is 1-255 visible ASCII characters. Anything else is the client's mistake, a 400 naming the
// header, never a 500 (bytes the database's UTF-8 rejects) nor a silently unkeyed create (empty).
TEST_F(OrderApi, BadIdempotencyKeysAreRejectedAndWriteNothing) {
  const int64_t orders = Count("orders");
  const int64_t keys = Count("idempotency_keys");
  const std::string body = Body(13, 1, {{5, 1}});
  // curl sends "Name;" as a header with an empty value.
  const std::vector<std::string> headers = {"Idempotency-Key;", "Idempotency-Key: \xff\xfe",
                                            "Idempotency-Key: caf\xc3\xa9", "Idempotency-Key: two words",
                                            "Idempotency-Key: " + std::string(256, 'k')};
  for (const auto& header : headers) {
    auto r = Post(body, {header});
    EXPECT_EQ(r.status, 400) << header.substr(0, 40) << " -> " << r.body;
    auto j = json::parse(r.body, nullptr, false);
    EXPECT_EQ(j.value("field", ""), "Idempotency-Key") << header.substr(0, 40) << " -> " << r.body;
  }
  EXPECT_EQ(Count("orders"), orders);
  EXPECT_EQ(Count("idempotency_keys"), keys);
  auto longest = Post(body, {"Idempotency-Key: " + std::string(255, 'k')});
  EXPECT_EQ(longest.status, 201) << longest.body;
}

TEST_F(OrderApi, ConcurrentRetriesWithOneKeyCreateOneOrder) {
  const std::string body = Body(12, 1, {{8, 1}});
  const std::string key = "Idempotency-Key: race-" + std::to_string(::getpid());
  const int64_t before = Count("orders");
  const int64_t lines_before = Count("orderdetails");
  const int64_t keys_before = Count("idempotency_keys");
  std::vector<std::thread> threads;
  std::vector<int64_t> ids(8, 0);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = Post(body, {key});
      if (r.status == 201) ids[static_cast<size_t>(i)] = json::parse(r.body)["id"].get<int64_t>();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(Count("orders"), before + 1);
  EXPECT_EQ(Count("orderdetails"), lines_before + 1);
  EXPECT_EQ(Count("idempotency_keys"), keys_before + 1);
  for (auto id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_GT(ids[0], 0);
}

// Half the writers go through REST, half through gRPC, at the same time.
TEST_F(OrderApi, ConcurrentCreatesLoseAndDuplicateNothing) {
  const int64_t orders_before = Count("orders");
  const int64_t lines_before = Count("orderdetails");
  constexpr int kThreads = 8, kEach = 40;
  std::atomic<int> failures{0};
  std::atomic<int64_t> lines_sent{0};
  std::mutex mu;
  std::set<int64_t> ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto stub = Grpc();
      for (int i = 0; i < kEach; ++i) {
        const int n = 1 + (t + i) % 5;
        std::vector<std::pair<int64_t, int>> lines;
        for (int l = 0; l < n; ++l) lines.push_back({1 + (t * 31 + i * 7 + l) % 700, 1 + l});
        const int64_t customer = 1 + (t * kEach + i) % 300, payment = 1 + i % 6;
        int64_t id = 0;
        int got_lines = 0;
        if (t % 2 == 0) {
          auto r = Post(Body(customer, payment, lines));
          if (r.status != 201) {
            failures++;
            continue;
          }
          auto j = json::parse(r.body);
          id = j["id"].get<int64_t>();
          got_lines = static_cast<int>(j["products"].size());
        } else {
          grpc::ClientContext ctx;
          v1::Order order;
          if (!stub->CreateOrder(&ctx, GrpcBody(customer, payment, lines), &order).ok()) {
            failures++;
            continue;
          }
          id = order.id();
          got_lines = order.lines_size();
        }
        if (got_lines != n) failures++;
        lines_sent += n;
        std::lock_guard lock(mu);
        ids.insert(id);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(Count("orders"), orders_before + kThreads * kEach);
  EXPECT_EQ(Count("orderdetails"), lines_before + lines_sent.load());
  // Every order has exactly the lines 1..n, no gaps, no duplicates.
  auto bad = Db().Exec(
      "SELECT count(*) FROM (SELECT order_id, count(*) c, max(line_no) m FROM rainbow.orderdetails "
      "GROUP BY order_id HAVING count(*) <> max(line_no)) x");
  EXPECT_EQ(bad.Int(0, 0), 0);
}

// Walks customer 42's orders page by page over REST and over gRPC while REST and gRPC writers add
// more: no order on two pages, none of those that existed before the walk skipped.
TEST_F(OrderApi, PaginationIsStableUnderConcurrentInserts) {
  for (int i = 0; i < 30; ++i) ASSERT_EQ(Post(Body(42, 1, {{3, 1}})).status, 201);
  auto existing = Db().Exec("SELECT id FROM rainbow.orders WHERE customer_id = 42 ORDER BY id");
  std::set<int64_t> expected;
  for (int i = 0; i < existing.rows(); ++i) expected.insert(existing.Int(i, 0));

  // Several writers, so orders also commit out of id order while the walk runs.
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      auto stub = Grpc();
      while (!stop) {
        if (w % 2 == 0) {
          Post(Body(42, 1, {{4, 1}}));
        } else {
          grpc::ClientContext ctx;
          v1::Order order;
          stub->CreateOrder(&ctx, GrpcBody(42, 1, {{5, 1}}), &order);
        }
      }
    });
  }
  // One page after `after`: the ids on it and the next cursor (0 at the end).
  using Page = std::pair<std::vector<int64_t>, int64_t>;
  const auto walk = [&](const std::function<Page(int64_t)>& page_after) {
    std::vector<int64_t> seen;
    int64_t after = 0;
    for (int pages = 0; pages < 1000; ++pages) {
      auto [ids, next] = page_after(after);
      seen.insert(seen.end(), ids.begin(), ids.end());
      if (next == 0) break;
      after = next;
      if (seen.size() > expected.size() + 200) break;  // the writers outran us; enough evidence
    }
    std::set<int64_t> unique(seen.begin(), seen.end());
    EXPECT_EQ(unique.size(), seen.size()) << "an order appeared on two pages";
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
    for (auto id : expected) EXPECT_TRUE(unique.count(id)) << "order " << id << " was skipped";
  };
  walk([&](int64_t after) -> Page {
    auto r =
        HttpCall("GET", service_->Url("/api/v1/orders?customerId=42&limit=7&after=" + std::to_string(after)));
    EXPECT_EQ(r.status, 200) << r.body;
    auto j = json::parse(r.body);
    Page page{{}, j["nextAfter"].is_null() ? 0 : j["nextAfter"].get<int64_t>()};
    for (const auto& o : j["orders"]) {
      EXPECT_EQ(o["customerId"], 42);
      page.first.push_back(o["id"].get<int64_t>());
    }
    return page;
  });
  auto stub = Grpc();
  walk([&](int64_t after) -> Page {
    v1::ListOrdersRequest req;
    req.set_customer_id(42);
    req.set_limit(7);
    req.set_after(after);
    grpc::ClientContext ctx;
    v1::ListOrdersResponse resp;
    const auto st = stub->ListOrders(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    Page page{{}, resp.next_after()};
    for (const auto& o : resp.orders()) {
      EXPECT_EQ(o.customer_id(), 42);
      page.first.push_back(o.id());
    }
    return page;
  });
  stop = true;
  for (auto& w : writers) w.join();
  // Bad cursors, limits and parameters are rejected, naming the parameter: a misspelled filter must
  // not list every customer's orders, a repeated one must not pass on its first value.
  const std::vector<std::pair<std::string, std::string>> bad = {{"limit=0", "limit"},
                                                                {"limit=5000", "limit"},
                                                                {"limit=-1", "limit"},
                                                                {"limit=5&limit=abc", "limit"},
                                                                {"after=x", "after"},
                                                                {"after=-1", "after"},
                                                                {"customerId=-2", "customerId"},
                                                                {"customer=5", "customer"},
                                                                {"customerId=1&customer_id=2", "customerId"},
                                                                {"customerId=1&customerId=1", "customerId"}};
  for (const auto& [query, field] : bad) {
    auto r = HttpCall("GET", service_->Url("/api/v1/orders?" + query));
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_EQ(json::parse(r.body).value("field", ""), field) << query << " -> " << r.body;
  }
  // Percent-encoded names and values are decoded; an empty pair is nothing.
  auto encoded = HttpCall("GET", service_->Url("/api/v1/orders?%63ustomerId=%34%32&&limit=3"));
  ASSERT_EQ(encoded.status, 200) << encoded.body;
  const json page = json::parse(encoded.body);  // named: a range-for would not keep a temporary alive
  for (const auto& o : page["orders"]) EXPECT_EQ(o["customerId"], 42);
}

// Without a customer filter the list walks every live order, oldest first, over REST and gRPC alike.
TEST_F(OrderApi, ListWithoutFilterWalksEveryOrder) {
  ASSERT_EQ(Post(Body(1, 1, {{1, 1}})).status, 201);
  ASSERT_EQ(Post(Body(2, 1, {{2, 1}})).status, 201);
  auto live = Db().Exec("SELECT id FROM rainbow.orders WHERE deleted_at IS NULL ORDER BY id");
  std::vector<int64_t> expected;
  for (int i = 0; i < live.rows(); ++i) expected.push_back(live.Int(i, 0));

  auto first = HttpCall("GET", service_->Url("/api/v1/orders"));  // the default page
  ASSERT_EQ(first.status, 200) << first.body;
  const auto page = json::parse(first.body);
  ASSERT_EQ(page["orders"].size(), std::min<size_t>(50, expected.size()));
  EXPECT_EQ(page["orders"][0]["id"], expected[0]);
  EXPECT_FALSE(page["orders"][0]["products"].empty());

  std::vector<int64_t> rest_seen;
  int64_t after = 0;
  for (int pages = 0; pages < 1000; ++pages) {
    auto r = HttpCall("GET", service_->Url("/api/v1/orders?limit=97&after=" + std::to_string(after)));
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = json::parse(r.body);
    for (const auto& o : j["orders"]) rest_seen.push_back(o["id"].get<int64_t>());
    if (j["nextAfter"].is_null()) break;
    after = j["nextAfter"].get<int64_t>();
  }
  EXPECT_EQ(rest_seen, expected);

  auto stub = Grpc();
  std::vector<int64_t> grpc_seen;
  v1::ListOrdersRequest req;
  req.set_limit(97);
  for (int pages = 0; pages < 1000; ++pages) {
    grpc::ClientContext ctx;
    v1::ListOrdersResponse resp;
    const auto st = stub->ListOrders(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    for (const auto& o : resp.orders()) grpc_seen.push_back(o.id());
    if (resp.next_after() == 0) break;
    req.set_after(resp.next_after());
  }
  EXPECT_EQ(grpc_seen, expected);
}

TEST_F(OrderApi, AFailureMidwayLeavesNothingBehind) {
  // The order row and the first lines are written by the statement before the unknown product of the
  // last line fails it: the whole unit of work must be gone.
  const int64_t orders = Count("orders");
  const int64_t lines = Count("orderdetails");
  const int64_t seq_before = Db().Exec("SELECT last_value FROM rainbow.orders_id_seq").Int(0, 0);
  auto r = Post(Body(3, 1, {{1, 1}, {2, 1}, {3, 1}, {777777, 1}}));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["field"], "products[3].productId");
  EXPECT_GT(Db().Exec("SELECT last_value FROM rainbow.orders_id_seq").Int(0, 0), seq_before)
      << "the order insert did not even run: the test proves nothing";
  EXPECT_EQ(Count("orders"), orders);
  EXPECT_EQ(Count("orderdetails"), lines);
}

TEST_F(OrderApi, GrpcSharesTheImplementationAndStatusCodes) {
  auto stub = Grpc();
  const auto req = GrpcBody(5, 3, {{10, 2}});
  v1::Order created;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->CreateOrder(&ctx, req, &created).ok());
  }
  EXPECT_GT(created.id(), 0);
  ASSERT_EQ(created.lines_size(), 1);
  auto [price, disc] = ExpectedPriceAndDiscount(10);
  EXPECT_EQ(created.lines(0).unit_price(), FormatCents(price));
  EXPECT_EQ(created.net_amount(), FormatCents(2 * (price - disc)));
  // REST sees the same order.
  auto rest =
      json::parse(HttpCall("GET", service_->Url("/api/v1/orders/" + std::to_string(created.id()))).body);
  EXPECT_EQ(rest["netAmount"], created.net_amount());

  v1::Order got;
  {
    grpc::ClientContext ctx;
    v1::GetOrderRequest g;
    g.set_id(created.id());
    ASSERT_TRUE(stub->GetOrder(&ctx, g, &got).ok());
    EXPECT_EQ(got.SerializeAsString(), created.SerializeAsString());
  }
  {
    grpc::ClientContext ctx;
    v1::GetOrderRequest g;
    g.set_id(99999999);
    const auto st = stub->GetOrder(&ctx, g, &got);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
    // google.rpc.ResourceInfo: the type and the id looked up.
    const std::string detail = OneDetail(st, "type.googleapis.com/google.rpc.ResourceInfo");
    const std::string type = "type.googleapis.com/rainbow.order.v1.Order";
    EXPECT_EQ(detail.substr(0, type.size() + 2), Field1(type));
    rpc::ResourceInfo info;
    ASSERT_TRUE(info.ParseFromString(detail));
    EXPECT_EQ(info.resource_type(), type);
    EXPECT_EQ(info.resource_name(), "99999999");
    EXPECT_EQ(info.description(), st.error_message());
  }
  {
    grpc::ClientContext ctx;
    auto bad = req;
    bad.mutable_products(0)->set_quantity(0);
    const auto st = stub->CreateOrder(&ctx, bad, &got);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(ViolatedField(st), "products[0].quantity");
  }
  {
    grpc::ClientContext ctx;
    auto bad = req;
    bad.set_customer_id(4242424);
    const auto st = stub->CreateOrder(&ctx, bad, &got);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(ViolatedField(st), "customerId");
  }
  // Idempotency through the metadata header.
  const std::string key = "grpc-key-" + std::to_string(::getpid());
  v1::Order a, b;
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("idempotency-key", key);
    ASSERT_TRUE(stub->CreateOrder(&ctx, req, &a).ok());
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("idempotency-key", key);
    ASSERT_TRUE(stub->CreateOrder(&ctx, req, &b).ok());
  }
  EXPECT_EQ(a.id(), b.id());
  {
    grpc::ClientContext ctx;
    auto other = req;
    other.set_idempotency_key(key);
    other.mutable_products(0)->set_quantity(9);
    const auto st = stub->CreateOrder(&ctx, other, &b);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    // google.rpc.PreconditionFailure: which precondition, and the key that was reused.
    const std::string detail = OneDetail(st, "type.googleapis.com/google.rpc.PreconditionFailure");
    rpc::PreconditionFailure failure;
    ASSERT_TRUE(failure.ParseFromString(detail));
    ASSERT_EQ(failure.violations_size(), 1);
    EXPECT_EQ(detail.substr(2, 2 + 15), Field1("IDEMPOTENCY_KEY")) << "Violation.type is field 1";
    EXPECT_EQ(failure.violations(0).type(), "IDEMPOTENCY_KEY");
    EXPECT_EQ(failure.violations(0).subject(), key);
    EXPECT_EQ(failure.violations(0).description(), st.error_message());
  }
  // Listing by customer with paging.
  v1::ListOrdersResponse page;
  {
    grpc::ClientContext ctx;
    v1::ListOrdersRequest l;
    l.set_customer_id(5);
    l.set_limit(1);
    ASSERT_TRUE(stub->ListOrders(&ctx, l, &page).ok());
    ASSERT_EQ(page.orders_size(), 1);
    EXPECT_EQ(page.orders(0).customer_id(), 5);
    EXPECT_GT(page.next_after(), 0);
  }
  {
    grpc::ClientContext ctx;
    v1::ListOrdersRequest l;
    l.set_limit(100000);
    EXPECT_EQ(stub->ListOrders(&ctx, l, &page).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
}

// Every bad input REST rejects, gRPC rejects too: INVALID_ARGUMENT naming the same field, nothing written.
TEST_F(OrderApi, GrpcRejectsBadInputNamingTheField) {
  auto stub = Grpc();
  const int64_t orders = Count("orders");
  const int64_t keys = Count("idempotency_keys");
  const auto ok = GrpcBody(6, 1, {{10, 1}});
  struct CreateCase {
    std::string what;
    v1::CreateOrderRequest req;
    std::string metadata_key;  // sent as idempotency-key metadata when not "-"
    std::string field;
  };
  auto with = [&](auto change) {
    auto r = ok;
    change(r);
    return r;
  };
  const std::vector<CreateCase> creates = {
      {"no customer", with([](auto& r) { r.set_customer_id(0); }), "-", "customerId"},
      {"negative payment", with([](auto& r) { r.set_payment_id(-1); }), "-", "payment_id"},
      {"no lines", with([](auto& r) { r.clear_products(); }), "-", "products"},
      {"negative quantity", with([](auto& r) { r.mutable_products(0)->set_quantity(-2); }), "-",
       "products[0].quantity"},
      {"huge quantity", with([](auto& r) { r.mutable_products(0)->set_quantity(2'000'000'000); }), "-",
       "products[0].quantity"},
      {"no product id", with([](auto& r) { r.mutable_products(0)->set_product_id(0); }), "-",
       "products[0].productId"},
      {"unknown payment", with([](auto& r) { r.set_payment_id(987654); }), "-", "payment_id"},
      {"unknown product", with([](auto& r) {
         auto unknown = r.products(0);
         unknown.set_product_id(987654);
         *r.add_products() = unknown;
       }),
       "-", "products[1].productId"},
      {"key with a space", with([](auto& r) { r.set_idempotency_key("two words"); }), "-", "Idempotency-Key"},
      {"key too long", with([](auto& r) { r.set_idempotency_key(std::string(256, 'k')); }), "-",
       "Idempotency-Key"},
      {"empty key metadata", ok, "", "Idempotency-Key"},
  };
  for (const auto& c : creates) {
    grpc::ClientContext ctx;
    if (c.metadata_key != "-") ctx.AddMetadata("idempotency-key", c.metadata_key);
    v1::Order out;
    const auto st = stub->CreateOrder(&ctx, c.req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what << ": " << st.error_message();
    EXPECT_EQ(ViolatedField(st), c.field) << c.what;
  }
  EXPECT_EQ(Count("orders"), orders);
  EXPECT_EQ(Count("idempotency_keys"), keys);

  for (int64_t id : {0, -5}) {
    grpc::ClientContext ctx;
    v1::GetOrderRequest g;
    g.set_id(id);
    v1::Order out;
    const auto st = stub->GetOrder(&ctx, g, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << id;
    EXPECT_EQ(ViolatedField(st), "id") << id;
  }
  struct ListCase {
    int64_t after, customer;
    int32_t limit;
    std::string field;
  };
  for (const auto& c :
       std::vector<ListCase>{{-1, 0, 10, "after"}, {0, -2, 10, "customerId"}, {0, 0, -1, "limit"}}) {
    grpc::ClientContext ctx;
    v1::ListOrdersRequest l;
    l.set_after(c.after);
    l.set_customer_id(c.customer);
    l.set_limit(c.limit);
    v1::ListOrdersResponse out;
    const auto st = stub->ListOrders(&ctx, l, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(ViolatedField(st), c.field);
  }
}

// A retry through the request's idempotency_key field (not the metadata) is replayed: same order,
// `idempotent-replayed` trailer, nothing new written.
TEST_F(OrderApi, GrpcRetryThroughTheKeyFieldIsReplayed) {
  auto stub = Grpc();
  auto req = GrpcBody(8, 2, {{12, 1}, {13, 2}});
  req.set_idempotency_key("grpc-field-" + std::to_string(::getpid()));
  v1::Order first, second;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->CreateOrder(&ctx, req, &first).ok());
    EXPECT_EQ(ctx.GetServerTrailingMetadata().count("idempotent-replayed"), 0u);
  }
  const int64_t orders = Count("orders");
  const int64_t lines = Count("orderdetails");
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->CreateOrder(&ctx, req, &second).ok());
  EXPECT_EQ(second.SerializeAsString(), first.SerializeAsString());
  const auto trailers = ctx.GetServerTrailingMetadata();
  auto replayed = trailers.find("idempotent-replayed");
  ASSERT_NE(replayed, trailers.end());
  EXPECT_EQ(std::string(replayed->second.data(), replayed->second.size()), "true");
  EXPECT_EQ(Count("orders"), orders);
  EXPECT_EQ(Count("orderdetails"), lines);
}

// The value of one series in a Prometheus text page (`series` is the name with its labels as
// printed); -1 when absent.
double Sample(const std::string& page, const std::string& series) {
  const std::string head = "\n" + series + " ";
  const auto at = ("\n" + page).find(head);
  if (at == std::string::npos) return -1;
  return std::stod(page.substr(at + head.size() - 1));
}

// gRPC CreateOrder runs on an event loop with connections of its own. When they are cut (a database
// restart, a failover), every create is either OK and whole in the database or UNAVAILABLE with
// nothing written, and the loop reconnects by itself. The pool's connections are cut too (one
// application_name for all), so the blocking paths see the same.
TEST_F(OrderApi, GrpcCreatesSurviveCutConnections) {
  const std::string app = "order_api_cut_" + std::to_string(::getpid());
  Service s =
      StartService(DsnFor(db_) + " application_name=" + app, {{"ORDER_API_CREATE_LOOP_CONNECTIONS", "3"}});
  ASSERT_TRUE(WaitReady(s, 30s)) << s.process->Stderr();
  auto stub = Grpc(s.grpc);
  const auto create = [&](int i, v1::Order* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    return stub->CreateOrder(&ctx, GrpcBody(1 + i % 50, 1, {{1 + i % 70, 1}, {100 + i % 70, 2}}), out);
  };
  for (int i = 0; i < 3; ++i) {
    v1::Order out;
    ASSERT_TRUE(create(i, &out).ok());
  }
  const auto cut = [&] {
    return Db()
        .Exec("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
              {app})
        .Int(0, 0);
  };
  std::mutex mu;
  std::vector<int64_t> created;
  std::map<std::string, int> codes;
  const auto record = [&](const grpc::Status& st, int64_t id) {
    std::lock_guard lock(mu);
    ++codes[std::to_string(st.error_code()) + " " + st.error_message()];
    if (st.ok()) created.push_back(id);
  };
  const int64_t before = Count("orders");
  // One create at a time, then a burst of parallel ones (queued behind the loop's 3 connections).
  ASSERT_GE(cut(), 3) << "the loop's connections were not found";
  for (int i = 0; i < 10; ++i) {
    v1::Order out;
    const auto st = create(i, &out);
    record(st, out.id());
  }
  ASSERT_GE(cut(), 1);  // the loop's connections not used since are dead already, and not counted
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        v1::Order out;
        const auto st = create(t * 10 + i, &out);
        record(st, out.id());
      }
    });
  }
  for (auto& c : clients) c.join();
  for (const auto& [code, n] : codes) {
    EXPECT_TRUE(code == "0 " || code == "14 database unavailable, retry later") << n << " x " << code;
  }
  EXPECT_EQ(Count("orders") - before, static_cast<int64_t>(created.size()))
      << "an UNAVAILABLE create wrote an order, or an OK one is missing";
  for (int64_t id : created) {
    EXPECT_EQ(Db().Exec("SELECT count(*) FROM rainbow.orderdetails WHERE order_id = $1", {std::to_string(id)})
                  .Int(0, 0),
              2)
        << "order " << id;
  }
  // The loop is whole again, and creates go through.
  ASSERT_TRUE(WaitReady(s, 20s)) << s.process->Stdout();
  for (int i = 0; i < 5; ++i) {
    v1::Order out;
    const auto st = create(i, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
  }
  EXPECT_NE(s.process->Stdout().find("create loop connection lost"), std::string::npos);
  s.process->Signal(SIGTERM);
  const auto code = s.process->Wait(30s);
  ASSERT_TRUE(code.has_value()) << "still running 30 s after SIGTERM";
  EXPECT_EQ(*code, 0) << s.process->Stderr();
}

TEST_F(OrderApi, MetricsCountWhatHappened) {
  const std::string post_201 =
      R"(order_api_http_requests_total{code="201",method="POST",route="/api/v1/orders"})";
  const std::string get_404 =
      R"(order_api_http_requests_total{code="404",method="GET",route="/api/v1/orders/:id"})";
  const std::string grpc_ok = R"(order_api_grpc_requests_total{code="OK",method="CreateOrder"})";
  auto scrape = [&] { return HttpCall("GET", service_->OpsUrl("/metrics")).body; };
  const std::string before = scrape();
  ASSERT_EQ(Post(Body(1, 1, {{1, 1}, {2, 3}})).status, 201);
  ASSERT_EQ(HttpCall("GET", service_->Url("/api/v1/orders/999999999")).status, 404);
  {
    grpc::ClientContext ctx;
    const auto req = GrpcBody(2, 1, {{3, 1}});
    v1::Order out;
    ASSERT_TRUE(Grpc()->CreateOrder(&ctx, req, &out).ok());
  }
  const std::string after = scrape();
  auto grew = [&](const std::string& series) {
    return Sample(after, series) - std::max(0.0, Sample(before, series));
  };
  EXPECT_EQ(grew(post_201), 1) << after;
  EXPECT_EQ(grew(get_404), 1) << after;
  EXPECT_EQ(grew(grpc_ok), 1) << after;
  EXPECT_EQ(grew("order_api_orders_created_total"), 2) << after;
  EXPECT_EQ(grew("order_api_order_lines_created_total"), 3) << after;
  EXPECT_EQ(grew(R"(order_api_http_request_duration_seconds_count{method="POST",route="/api/v1/orders"})"),
            1);
  EXPECT_EQ(grew(R"(order_api_grpc_request_duration_seconds_count{method="CreateOrder"})"), 1);
  EXPECT_GT(Sample(after, "order_api_db_pool_size"), 0);
  EXPECT_GE(Sample(after, "order_api_db_pool_open_connections"), 1);
}

// The JSON lines with message `msg` the service wrote to stdout so far.
std::vector<json> LogLines(const ChildProcess& process, const std::string& msg) {
  std::vector<json> out;
  std::istringstream lines(process.Stdout());
  for (std::string line; std::getline(lines, line);) {
    auto j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("msg", "") == msg) out.push_back(std::move(j));
  }
  return out;
}

// The line with message `msg` and request_id `id`; null when there is none (yet).
json LogLineFor(const ChildProcess& process, const std::string& msg, const std::string& id) {
  for (auto& j : LogLines(process, msg)) {
    if (j.value("request_id", "") == id) return j;
  }
  return nullptr;
}

// One JSON access log line per REST request and per gRPC call, carrying the caller's request id.
TEST_F(OrderApi, AccessLogsAreJsonLinesWithTheRequestId) {
  Service s = StartService(DsnFor(db_), {{"LOG_LEVEL", "info"}});
  ASSERT_TRUE(WaitReady(s, 30s)) << s.process->Stderr();
  const std::string rest_id = "access-rest-" + std::to_string(::getpid());
  const auto created = HttpCall("POST", s.Url("/api/v1/orders"), Body(3, 1, {{7, 2}}),
                                {"Content-Type: application/json", "X-Request-Id: " + rest_id});
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.headers.at("x-request-id"), rest_id);
  const std::string grpc_id = "access-grpc-" + std::to_string(::getpid());
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-request-id", grpc_id);
    v1::GetOrderRequest req;
    req.set_id(999999999);
    v1::Order out;
    auto stub = v1::OrderService::NewStub(ChannelTo(s.grpc));
    EXPECT_EQ(stub->GetOrder(&ctx, req, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  json rest_line, grpc_line;
  for (int i = 0; i < 50 && (rest_line.is_null() || grpc_line.is_null()); ++i) {
    std::this_thread::sleep_for(100ms);
    rest_line = LogLineFor(*s.process, "http request", rest_id);
    grpc_line = LogLineFor(*s.process, "grpc request", grpc_id);
  }
  ASSERT_FALSE(rest_line.is_null()) << s.process->Stdout();
  EXPECT_EQ(rest_line.value("method", ""), "POST");
  EXPECT_EQ(rest_line.value("route", ""), "/api/v1/orders");
  EXPECT_EQ(rest_line.value("status", 0), 201);
  EXPECT_EQ(rest_line.value("order_id", int64_t{0}), json::parse(created.body).value("id", int64_t{-1}));
  EXPECT_TRUE(rest_line.contains("duration_ms"));
  ASSERT_FALSE(grpc_line.is_null()) << s.process->Stdout();
  EXPECT_EQ(grpc_line.value("rpc", ""), "GetOrder");
  EXPECT_EQ(grpc_line.value("code", ""), "NOT_FOUND");
  EXPECT_TRUE(grpc_line.contains("error"));
}

// The gRPC port also answers the standard health protocol and lists OrderService by reflection.
TEST_F(OrderApi, GrpcHealthAndReflection) {
  auto channel = ChannelTo(service_->grpc);
  EXPECT_TRUE(testing::HealthServing(channel));
  const auto got = testing::Reflect(channel, "rainbow.order.v1.OrderService");
  EXPECT_TRUE(got.services.count("rainbow.order.v1.OrderService"));
  ASSERT_FALSE(got.files_for_symbol.empty());
  EXPECT_NE(got.files_for_symbol.front().find("rainbow/order_api.proto"), std::string::npos);
}

TEST_F(OrderApi, MetricsAndReadiness) {
  ASSERT_EQ(Post(Body(1, 1, {{1, 1}})).status, 201);
  const auto [status, body] =
      testing::HttpGet("http://127.0.0.1:" + std::to_string(service_->ops) + "/metrics");
  ASSERT_EQ(status, 200);
  for (const char* m : {"order_api_http_requests_total{", "order_api_http_request_duration_seconds_bucket{",
                        "order_api_orders_created_total", "order_api_db_pool_in_use_connections",
                        "order_api_grpc_requests_total{", "route=\"/api/v1/orders/:id\""}) {
    EXPECT_NE(body.find(m), std::string::npos) << m;
  }
  EXPECT_EQ(testing::RunShell("promtool check metrics", body).first, 0);
  EXPECT_EQ(testing::HttpGet("http://127.0.0.1:" + std::to_string(service_->ops) + "/readyz").first, 200);
}

TEST_F(OrderApi, SeedLoadedTheCatalogAndTheSampleData) {
  EXPECT_EQ(Count("product_catalog"), 105);
  auto row = Db().Exec(
      "SELECT style_number, price_eur::text, brand_code FROM rainbow.product_catalog WHERE ean = "
      "'5713447670000'");
  ASSERT_EQ(row.rows(), 1);
  EXPECT_EQ(row.Text(0, 0), "16050238");
  EXPECT_EQ(row.Text(0, 1), "113.12");
  EXPECT_EQ(row.Int(0, 2), 16);
  EXPECT_EQ(Count("customers"), 300);
  EXPECT_EQ(Count("products"), 800);
  auto coupons = Db().Exec("SELECT count(DISTINCT coupon_type) FROM rainbow.promotions");
  EXPECT_EQ(coupons.Int(0, 0), 2);
  // Seeding again without --replace keeps what is there.
  ChildProcess again(ORDER_API_SEED_PATH, {"--catalog", CATALOG_CSV}, {{"PG_DSN", DsnFor(db_)}});
  EXPECT_EQ(again.Wait(60s), 0) << again.Stderr();
  EXPECT_EQ(Count("product_catalog"), 105);
}

// An empty database of its own for one test, dropped afterwards (also when an assertion ends it early).
struct ScratchDatabase {
  explicit ScratchDatabase(const std::string& prefix) : name(prefix + std::to_string(::getpid())) {
    admin.Exec("DROP DATABASE IF EXISTS " + name);
    admin.Exec("CREATE DATABASE " + name);
  }
  ~ScratchDatabase() {
    try {
      DropDatabase(admin, name);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "could not drop " << name << ": " << e.what();
    }
  }
  std::string dsn() const { return DsnFor(name); }
  pg::Connection admin{StackEnv("PG_DSN")};
  std::string name;
};

// Two replicas starting together on an empty database: both come up, each migration ran once.
TEST(OrderApiStartup, TwoReplicasMigrateOnceAndDrainOnSigterm) {
  ScratchDatabase db("order_api_race_");
  {
    Service a = StartService(db.dsn(), {{"LOG_LEVEL", "info"}});
    Service b = StartService(db.dsn(), {{"LOG_LEVEL", "info"}});
    ASSERT_TRUE(WaitReady(a, 30s)) << a.process->Stdout() << a.process->Stderr();
    ASSERT_TRUE(WaitReady(b, 30s)) << b.process->Stdout() << b.process->Stderr();
    pg::Connection conn(db.dsn());
    const auto known = static_cast<int64_t>(Migrations().size());
    EXPECT_EQ(conn.Exec("SELECT count(*) FROM rainbow.schema_migrations").Int(0, 0), known);
    for (Service* s : {&a, &b}) {
      s->process->Signal(SIGTERM);
      const auto code = s->process->Wait(20s);
      ASSERT_TRUE(code.has_value());
      EXPECT_EQ(*code, 0) << s->process->Stderr();
    }
    // Each replica logged the versions it applied (read after exit: info lines are flushed within
    // a second, and at exit): together all of them, none by both.
    std::multiset<int> applied;
    for (Service* s : {&a, &b}) {
      const auto logged = LogLines(*s->process, "migrations applied");
      EXPECT_EQ(logged.size(), 1u) << s->process->Stdout();
      for (const auto& j : logged) {
        for (int v : j.at("applied")) applied.insert(v);
      }
    }
    EXPECT_EQ(static_cast<int64_t>(applied.size()), known);
    EXPECT_EQ(static_cast<int64_t>(std::set<int>(applied.begin(), applied.end()).size()), known);
  }
}

// A replica told not to migrate, on a database nobody migrated yet, must not say it is ready; it
// becomes ready once another replica has applied the migrations.
TEST(OrderApiStartup, NotReadyUntilTheSchemaIsMigrated) {
  ScratchDatabase db("order_api_unmigrated_");
  {
    Service follower = StartService(db.dsn(), {{"ORDER_API_MIGRATE", "false"}});
    const auto ready = FirstReadyzAnswer(follower);
    EXPECT_EQ(ready.first, 503) << ready.second;
    EXPECT_NE(ready.second.find("schema not migrated"), std::string::npos) << ready.second;
    EXPECT_EQ(testing::HttpGet(follower.OpsUrl("/healthz")).first, 200);
    // gRPC health says the same, for the server and for OrderService.
    EXPECT_EQ(testing::HealthStatus(ChannelTo(follower.grpc)), "NOT_SERVING");
    EXPECT_EQ(testing::HealthStatus(ChannelTo(follower.grpc), "rainbow.order.v1.OrderService"),
              "NOT_SERVING");
    // A request that comes anyway is told to retry (503 / UNAVAILABLE), not that the server broke.
    const std::string body = R"({"customerId":1,"payment_id":1,"products":[{"productId":1,"quantity":1}]})";
    auto early = HttpCall("POST", follower.Url("/api/v1/orders"), body, {"Content-Type: application/json"});
    EXPECT_EQ(early.status, 503) << early.body;
    EXPECT_NE(early.body.find("not migrated"), std::string::npos) << early.body;
    EXPECT_EQ(HttpCall("GET", follower.Url("/api/v1/orders/1")).status, 503);
    {
      grpc::ClientContext ctx;
      v1::GetOrderRequest req;
      req.set_id(1);
      v1::Order out;
      auto stub = v1::OrderService::NewStub(ChannelTo(follower.grpc));
      EXPECT_EQ(stub->GetOrder(&ctx, req, &out).error_code(), grpc::StatusCode::UNAVAILABLE);
    }

    Service migrator = StartService(db.dsn());
    ASSERT_TRUE(WaitReady(migrator, 30s)) << migrator.process->Stderr();
    EXPECT_TRUE(WaitReady(follower, 10s)) << testing::HttpGet(follower.OpsUrl("/readyz")).second;
    EXPECT_EQ(testing::HealthStatus(ChannelTo(follower.grpc)), "SERVING");
    EXPECT_EQ(testing::HealthStatus(ChannelTo(follower.grpc), "rainbow.order.v1.OrderService"), "SERVING");
    // The same connections serve once the schema is there.
    EXPECT_EQ(HttpCall("GET", follower.Url("/api/v1/orders/1")).status, 404);
    pg::Connection conn(db.dsn());
    EXPECT_EQ(conn.Exec("SELECT count(*) FROM rainbow.schema_migrations").Int(0, 0),
              static_cast<int64_t>(Migrations().size()));
  }
}

TEST(OrderApiStartup, MissingDsnExitsNamingTheVar) {
  ChildProcess p(ORDER_API_PATH, {}, {{"GRPC_ADDR", "127.0.0.1:0"}});
  ASSERT_EQ(p.Wait(10s), 2);
  EXPECT_NE(p.Stderr().find("PG_DSN"), std::string::npos);
}

TEST(OrderApiStartup, InvalidHttpAddrExits2NamingTheVar) {
  ChildProcess p(ORDER_API_PATH, {},
                 {{"PG_DSN", "host=127.0.0.1"}, {"GRPC_ADDR", "127.0.0.1:0"}, {"HTTP_ADDR", "127.0.0.1"}});
  ASSERT_EQ(p.Wait(10s), 2);
  EXPECT_NE(p.Stderr().find("HTTP_ADDR"), std::string::npos) << p.Stderr();
}

TEST(OrderApiStartup, UnreachableDatabaseIsNotReady) {
  Service s = StartService("host=127.0.0.1 port=" + std::to_string(FreePort()) +
                           " dbname=x user=x connect_timeout=1");
  // Once the ops endpoint answers, it must say "not ready", and keep saying it.
  const auto ready = FirstReadyzAnswer(s);
  EXPECT_EQ(ready.first, 503) << ready.second;
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(testing::HttpGet("http://127.0.0.1:" + std::to_string(s.ops) + "/readyz").first, 503);
  EXPECT_EQ(testing::HttpGet("http://127.0.0.1:" + std::to_string(s.ops) + "/healthz").first, 200);
  // Start-up still waits for the database (it retries for about two minutes): SIGTERM ends the wait.
  s.process->Signal(SIGTERM);
  const auto code = s.process->Wait(10s);
  ASSERT_TRUE(code.has_value()) << "SIGTERM did not stop a service waiting for its database";
  EXPECT_EQ(*code, 0) << s.process->Stderr();
}

// Readiness does not queue for a pool connection: with the only one held by a create that waits on a
// lock, /readyz and gRPC health still answer "ready" (the database does answer), and the held create
// completes once the lock goes.
TEST(OrderApiStartup, ReadinessDoesNotWaitForThePool) {
  ScratchDatabase db("order_api_busy_pool_");
  Service s = StartService(db.dsn(), {{"ORDER_API_PG_POOL_SIZE", "1"}});
  ASSERT_TRUE(WaitReady(s, 30s)) << s.process->Stderr();
  pg::Connection setup(db.dsn());
  setup.Exec(
      "INSERT INTO rainbow.customers (first_name, last_name, email) VALUES ('A', 'B', 'a@example.com');"
      "INSERT INTO rainbow.payments (name, type) VALUES ('card', 'card');"
      "INSERT INTO rainbow.products (name, price) VALUES ('p', 1.00)");
  pg::Connection locker(db.dsn());
  locker.Exec("BEGIN");
  locker.Exec("LOCK TABLE rainbow.orders IN EXCLUSIVE MODE");
  std::thread create([&] {
    auto r = HttpCall("POST", s.Url("/api/v1/orders"),
                      R"({"customerId":1,"payment_id":1,"products":[{"productId":1,"quantity":1}]})",
                      {"Content-Type: application/json"});
    EXPECT_EQ(r.status, 201) << r.body;
  });
  ASSERT_EQ(WaitForLockWaiters(setup, 1), 1) << "the create never reached the database";
  const auto ready = testing::HttpGet(s.OpsUrl("/readyz"));
  EXPECT_EQ(ready.first, 200) << ready.second;
  EXPECT_EQ(testing::HealthStatus(ChannelTo(s.grpc)), "SERVING");
  locker.Exec("COMMIT");
  create.join();
  EXPECT_EQ(setup.Exec("SELECT count(*) FROM rainbow.orders").Int(0, 0), 1);
}

}  // namespace
}  // namespace rainbow::order
