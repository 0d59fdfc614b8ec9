// PostgreSQL frozen with SIGSTOP (a black hole: connections stay open, the kernel still acknowledges
// TCP, nothing answers): common/pg's statements and connects fail within their timeouts instead of
// hanging, order-api reports not ready and answers 503, and all recover after SIGCONT without a restart.
// Runs on a PostgreSQL of its own (PrivatePostgres): the shared test stack's is never frozen.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <thread>

#include "common/kafka/consumer.hpp"
#include "common/pg/connection.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/private_server.hpp"
#include "tests/support/stack_env.hpp"

namespace rainbow::pg {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::FrozenProcessTree;
using testing::PrivatePostgres;

// "Does not hang": every wait below is bounded by this, far above the timeouts configured (a few s).
constexpr auto kBound = 45s;

class PgFrozen : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new PrivatePostgres(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static Timeouts Short() {
    Timeouts t;
    t.connect = 2s;
    t.statement = 1s;  // the client gives up after 1 s + 2 s
    return t;
  }
  static inline PrivatePostgres* server_ = nullptr;
};

TEST_F(PgFrozen, StatementsAndConnectsFailWithinTheTimeoutAndRecover) {
  Connection conn(server_->dsn(), {}, Short());
  ASSERT_EQ(conn.Exec("SELECT 1").Int(0, 0), 1);
  // The DSN said nothing of timeouts: the session got the configured statement timeout.
  EXPECT_EQ(conn.Exec("SHOW statement_timeout").Text(0, 0), "1s");

  auto frozen = std::make_unique<FrozenProcessTree>(server_->postmaster());
  ASSERT_GE(frozen->size(), 2u) << "the postmaster and at least this connection's backend";
  auto statement = std::async(std::launch::async, [&conn]() -> std::string {
    try {
      conn.Exec("SELECT 1");
      return "answered";
    } catch (const PgError& e) {
      return error::IsRetryable(e.kind()) ? "retryable" : std::string("other: ") + e.what();
    }
  });
  auto connect = std::async(std::launch::async, []() -> std::string {
    try {
      Connection fresh(server_->dsn(), {}, Short());
      return "connected";
    } catch (const PgError& e) {
      return error::IsRetryable(e.kind()) ? "retryable" : std::string("other: ") + e.what();
    }
  });
  const bool statement_returned = statement.wait_for(kBound) == std::future_status::ready;
  const bool connect_returned = connect.wait_for(kBound) == std::future_status::ready;
  frozen.reset();  // thawed before the futures are read: a hung call returns now and the test ends
  EXPECT_TRUE(statement_returned) << "a statement to the frozen server hung";
  EXPECT_TRUE(connect_returned) << "a connect to the frozen server hung";
  EXPECT_EQ(statement.get(), "retryable");
  EXPECT_EQ(connect.get(), "retryable");
  EXPECT_FALSE(conn.Healthy()) << "a connection whose answer never came is not reused";

  // Thawed: a new connection works at once, nothing was restarted.
  Connection again(server_->dsn(), {}, Short());
  EXPECT_EQ(again.Exec("SELECT 2").Int(0, 0), 2);
}

TEST_F(PgFrozen, OrderApiIsNotReadyWhileFrozenAndReadyAfter) {
  const int rest = testing::FreePort(), grpc = testing::FreePort(), ops = testing::FreePort();
  ChildProcess service(ORDER_API_PATH, {},
                       {{"PG_DSN", server_->dsn()},
                        {"PG_CONNECT_TIMEOUT", "2s"},
                        {"PG_STATEMENT_TIMEOUT", "1s"},
                        {"ORDER_API_PG_POOL_SIZE", "2"},
                        {"ORDER_API_CREATE_LOOP_CONNECTIONS", "1"},
                        {"ORDER_API_REST_ADDR", "127.0.0.1:" + std::to_string(rest)},
                        {"GRPC_ADDR", "127.0.0.1:" + std::to_string(grpc)},
                        {"HTTP_ADDR", "127.0.0.1:" + std::to_string(ops)},
                        {"LOG_LEVEL", "warn"}});
  const std::string readyz = "http://127.0.0.1:" + std::to_string(ops) + "/readyz";
  // An order id no order has: 404 says the database answered the lookup.
  const std::string order = "http://127.0.0.1:" + std::to_string(rest) + "/api/v1/orders/987654321";
  ASSERT_EQ(testing::WaitForStatus(readyz, 200, kBound), 200) << service.Stdout() << service.Stderr();
  ASSERT_EQ(testing::HttpCall("GET", order).status, 404) << service.Stderr();

  {
    FrozenProcessTree frozen(server_->postmaster());
    // A REST request that needs the database returns (503: retry later) instead of hanging.
    auto lookup = std::async(std::launch::async, [&] { return testing::HttpCall("GET", order); });
    const bool returned = lookup.wait_for(kBound) == std::future_status::ready;
    EXPECT_TRUE(returned) << "a REST request hung on the frozen database";
    EXPECT_EQ(testing::WaitForStatus(readyz, 503, kBound), 503) << "still ready while the database is frozen";
    if (returned) {
      EXPECT_EQ(lookup.get().status, 503);
    }
    frozen.Thaw();
    if (!returned) lookup.wait();
  }
  EXPECT_EQ(testing::WaitForStatus(readyz, 200, kBound), 200) << "not ready again after SIGCONT\n"
                                                              << service.Stderr();
  EXPECT_EQ(testing::HttpCall("GET", order).status, 404) << service.Stderr();
  service.Signal(SIGTERM);
  EXPECT_EQ(service.Wait(30s), 0) << service.Stderr();
}

// cdc-producer streaming from a database that is then frozen: its session fails within the timeouts
// (the status round's query on the metadata connection gets no answer), /readyz says not ready, and
// after SIGCONT it streams again by itself and a change made then reaches Kafka.
TEST_F(PgFrozen, CdcProducerIsNotReadyWhileFrozenAndStreamsAgainAfter) {
  const std::string name = "frozen_cdc_" + std::to_string(::getpid());
  Connection admin(server_->dsn());
  admin.Exec("CREATE SCHEMA " + name + "; CREATE TABLE " + name + ".items (id int PRIMARY KEY)");
  const int grpc = testing::FreePort(), ops = testing::FreePort();
  std::map<std::string, std::string> env = {{"PG_DSN", server_->dsn()},
                                            {"KAFKA_BROKERS", testing::StackEnv("KAFKA_BROKERS")},
                                            {"CDC_SCHEMAS", name},
                                            {"CDC_SLOT", name},
                                            {"CDC_PUBLICATION", name},
                                            {"CDC_TOPIC_PREFIX", name},
                                            {"CDC_TOPIC_PARTITIONS", "1"},
                                            {"CDC_SNAPSHOT_MODE", "never"},
                                            {"CDC_STATUS_INTERVAL", "200ms"},
                                            {"PG_CONNECT_TIMEOUT", "2s"},
                                            {"PG_STATEMENT_TIMEOUT", "1s"},
                                            {"GRPC_ADDR", "127.0.0.1:" + std::to_string(grpc)},
                                            {"HTTP_ADDR", "127.0.0.1:" + std::to_string(ops)},
                                            {"LOG_LEVEL", "info"}};
  env.merge(testing::KafkaTopicEnv());
  ChildProcess cdc(CDC_PRODUCER_PATH, {}, env);
  const std::string readyz = "http://127.0.0.1:" + std::to_string(ops) + "/readyz";
  ASSERT_EQ(testing::WaitForStatus(readyz, 200, kBound), 200) << cdc.Stdout() << cdc.Stderr();
  const auto created = [&] {
    // cdc_events_total{op="c",table="<schema>.items"}: the inserts produced to Kafka so far.
    const std::string page = testing::HttpGet("http://127.0.0.1:" + std::to_string(ops) + "/metrics").second;
    const std::string series = "cdc_events_total{op=\"c\",table=\"" + name + ".items\"} ";
    const auto at = page.find(series);
    return at == std::string::npos ? 0.0 : std::stod(page.substr(at + series.size()));
  };
  admin.Exec("INSERT INTO " + name + ".items VALUES (1)");
  for (int i = 0; i < 100 && created() < 1; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_EQ(created(), 1) << cdc.Stdout();

  {
    FrozenProcessTree frozen(server_->postmaster());
    EXPECT_EQ(testing::WaitForStatus(readyz, 503, kBound), 503) << "still ready while the database is frozen";
    frozen.Thaw();
  }
  EXPECT_EQ(testing::WaitForStatus(readyz, 200, kBound), 200) << "not ready again after SIGCONT\n"
                                                              << cdc.Stdout();
  // Row 1 may come again (the session that failed had not confirmed it: at least once); row 2's event
  // must come, read from the topic.
  admin.Exec("INSERT INTO " + name + ".items VALUES (2)");
  kafka::Consumer topic({testing::StackEnv("KAFKA_BROKERS"), name + "_check", {name + ".items"}});
  bool row2 = false;
  for (const auto end = std::chrono::steady_clock::now() + 30s;
       !row2 && std::chrono::steady_clock::now() < end;) {
    const auto m = topic.Poll(200ms);
    row2 = m && m->key && m->key->find("\"id\":2}") != std::string::npos;
  }
  EXPECT_TRUE(row2) << "the change made after the thaw did not reach Kafka\n" << cdc.Stdout();
  EXPECT_GE(created(), 2);
  cdc.Signal(SIGTERM);
  EXPECT_EQ(cdc.Wait(30s), 0) << cdc.Stderr();
  admin.Exec("SELECT pg_drop_replication_slot('" + name + "')");
}

}  // namespace
}  // namespace rainbow::pg
