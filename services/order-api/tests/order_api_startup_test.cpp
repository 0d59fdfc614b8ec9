// order-api starting up: migrations by replicas, readiness before the schema, config errors, an unreachable
// database.
#include "services/order-api/tests/order_api_test_support.hpp"

namespace rainbow::order::api_test {

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
    // The open endpoint names the failing part; why is in the log.
    EXPECT_NE(ready.second.find(R"("failing":["database"])"), std::string::npos) << ready.second;
    EXPECT_TRUE(StdoutShows(*follower.process, "schema not migrated")) << follower.process->Stdout();
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

namespace {

// Customer 1, payment 1 and product 1, enough for CreateOneOrder.
void SeedOneOfEach(pg::Connection& conn) {
  conn.Exec(
      "INSERT INTO rainbow.customers (first_name, last_name, email) VALUES ('A', 'B', 'a@example.com');"
      "INSERT INTO rainbow.payments (name, type) VALUES ('card', 'card');"
      "INSERT INTO rainbow.products (name, price) VALUES ('p', 1.00)");
}

// Holds an EXCLUSIVE lock on rainbow.orders until `conn` commits: creates wait on it (reads do not).
void LockOrders(pg::Connection& conn) {
  conn.Exec("BEGIN");
  conn.Exec("LOCK TABLE rainbow.orders IN EXCLUSIVE MODE");
}

testing::HttpResponse CreateOneOrder(const Service& s) {
  return HttpCall("POST", s.Url("/api/v1/orders"),
                  R"({"customerId":1,"payment_id":1,"products":[{"productId":1,"quantity":1}]})",
                  {"Content-Type: application/json"});
}

}  // namespace

// Readiness does not queue for a pool connection: with the only one held by a create that waits on a
// lock, /readyz and gRPC health still answer "ready" (the database does answer), and the held create
// completes once the lock goes.
TEST(OrderApiStartup, ReadinessDoesNotWaitForThePool) {
  ScratchDatabase db("order_api_busy_pool_");
  Service s = StartService(db.dsn(), {{"ORDER_API_PG_POOL_SIZE", "1"}});
  ASSERT_TRUE(WaitReady(s, 30s)) << s.process->Stderr();
  pg::Connection setup(db.dsn());
  SeedOneOfEach(setup);
  pg::Connection locker(db.dsn());
  LockOrders(locker);
  std::thread create([&] {
    auto r = CreateOneOrder(s);
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

// ORDER_API_REST_MAX_IN_FLIGHT: with two creates held on a lock, a third request is answered 429 with
// Retry-After at once (not queued behind them); once they finish, requests are served again.
TEST(OrderApiStartup, RestRequestsBeyondTheInFlightLimitAre429) {
  ScratchDatabase db("order_api_shedding_");
  Service s = StartService(db.dsn(), {{"ORDER_API_REST_MAX_IN_FLIGHT", "2"}});
  ASSERT_TRUE(WaitReady(s, 30s)) << s.process->Stderr();
  pg::Connection setup(db.dsn());
  SeedOneOfEach(setup);
  pg::Connection locker(db.dsn());
  LockOrders(locker);
  std::vector<std::thread> creates;
  for (int i = 0; i < 2; ++i) {
    creates.emplace_back([&] {
      auto r = CreateOneOrder(s);
      EXPECT_EQ(r.status, 201) << r.body;
    });
  }
  ASSERT_EQ(WaitForLockWaiters(setup, 2), 2) << "the creates never reached the database";
  const auto t0 = std::chrono::steady_clock::now();
  const auto shed = HttpCall("GET", s.Url("/api/v1/orders?limit=1"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "a shed request must not wait";
  EXPECT_EQ(shed.status, 429) << shed.body;
  EXPECT_NE(shed.body.find("too many requests in progress (2)"), std::string::npos) << shed.body;
  EXPECT_EQ(shed.headers.count("retry-after") ? shed.headers.at("retry-after") : "", "1");
  locker.Exec("COMMIT");
  for (auto& t : creates) t.join();
  EXPECT_EQ(HttpCall("GET", s.Url("/api/v1/orders?limit=1")).status, 200);
  EXPECT_EQ(setup.Exec("SELECT count(*) FROM rainbow.orders").Int(0, 0), 2);
}

}  // namespace rainbow::order::api_test
