#pragma once
// Shared by order-api's integration tests (order_api_*_test.cpp, one binary): helpers, and the OrderApi
// fixture whose suite runs one order-api process on a database of its own (created, migrated and
// seeded once for every test of the suite, whichever file it is in).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
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
#include "tests/support/private_server.hpp"
#include "tests/support/stack_env.hpp"

namespace rainbow::order::api_test {

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
inline std::string OneDetail(const grpc::Status& st, const std::string& type_url) {
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
inline std::string ViolatedField(const grpc::Status& st) {
  rpc::BadRequest bad;
  if (!bad.ParseFromString(OneDetail(st, "type.googleapis.com/google.rpc.BadRequest")) ||
      bad.field_violations_size() != 1)
    return "<bad BadRequest>";
  EXPECT_EQ(bad.field_violations(0).description(), st.error_message());
  return bad.field_violations(0).field();
}

// A length-delimited field 1 holding `text`, as the bytes of a message starting with it must begin.
inline std::string Field1(const std::string& text) {
  return std::string(1, '\x0a') + static_cast<char>(text.size()) + text;
}

inline std::string DsnFor(const std::string& db) {
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

inline Service StartService(const std::string& dsn, std::map<std::string, std::string> extra = {}) {
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
inline std::pair<long, std::string> FirstReadyzAnswer(const Service& s) {
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(100ms);
    auto ready = testing::HttpGet(s.OpsUrl("/readyz"));
    if (ready.first != 0 && ready.second.find("database not checked yet") == std::string::npos) return ready;
  }
  return {0, ""};
}

inline std::shared_ptr<grpc::Channel> ChannelTo(int port) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
}

// DROP DATABASE ... WITH (FORCE), retried: it may not terminate an autovacuum worker that happens to
// be in the database (not a backend of our role), which leaves within moments.
inline void DropDatabase(pg::Connection& admin, const std::string& name) {
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
inline int64_t WaitForLockWaiters(pg::Connection& conn, int64_t n) {
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
inline bool WaitReady(const Service& s, std::chrono::seconds timeout) {
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

// The test stack's PostgreSQL frozen (SIGSTOP) until Thaw or destruction: the postmaster (found by
// its pid file), then each of its children (every backend calls setsid, so they are not in its process
// group). A black hole: connections stay open, statements sent wait unanswered.
class FrozenPostgres {
 public:
  FrozenPostgres() : frozen_(Postmaster()) {}
  void Thaw() { frozen_.Thaw(); }

 private:
  static pid_t Postmaster() {
    std::ifstream file(StackEnv("RAINBOW_STACK_DIR") + "/postgres.pid");
    pid_t postmaster = 0;
    file >> postmaster;
    if (postmaster <= 1) {
      throw std::runtime_error(
          "cannot freeze PostgreSQL (pid file of the test stack: " + std::to_string(postmaster) + ")");
    }
    return postmaster;
  }
  rainbow::testing::FrozenProcessTree frozen_;  // the postmaster, then its children
};

// A DSN like `dsn` with its port replaced (to go through a proxy on 127.0.0.1).
inline std::string WithPort(const std::string& dsn, int port) {
  const auto at = dsn.find("port=");
  const auto end = dsn.find(' ', at);
  return dsn.substr(0, at) + "port=" + std::to_string(port) +
         (end == std::string::npos ? "" : dsn.substr(end));
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

  // Orders holding a line of `quantity` (tests that look for their orders give them quantities no
  // other test uses).
  static int64_t OrdersWithQuantity(int quantity) {
    return Db()
        .Exec("SELECT count(DISTINCT order_id) FROM rainbow.orderdetails WHERE quantity = $1",
              {std::to_string(quantity)})
        .Int(0, 0);
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

// The value of one series in a Prometheus text page (`series` is the name with its labels as
// printed); -1 when absent.
inline double Sample(const std::string& page, const std::string& series) {
  const std::string head = "\n" + series + " ";
  const auto at = ("\n" + page).find(head);
  if (at == std::string::npos) return -1;
  return std::stod(page.substr(at + head.size() - 1));
}

// The JSON lines with message `msg` the service wrote to stdout so far.
inline std::vector<json> LogLines(const ChildProcess& process, const std::string& msg) {
  std::vector<json> out;
  std::istringstream lines(process.Stdout());
  for (std::string line; std::getline(lines, line);) {
    auto j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("msg", "") == msg) out.push_back(std::move(j));
  }
  return out;
}

// Whether `text` shows up in the service's stdout within `timeout`. Log lines reach stdout a
// little after the state they describe (the readiness loop logs a new reason on its next round).
inline bool StdoutShows(const ChildProcess& process, const std::string& text,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (process.Stdout().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

// The line with message `msg` and request_id `id`; null when there is none (yet).
inline json LogLineFor(const ChildProcess& process, const std::string& msg, const std::string& id) {
  for (auto& j : LogLines(process, msg)) {
    if (j.value("request_id", "") == id) return j;
  }
  return nullptr;
}

}  // namespace rainbow::order::api_test
