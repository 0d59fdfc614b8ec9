// order-api operations: drain on SIGTERM, metrics, access logs, health and reflection, readiness, the seed.
#include "services/order-api/tests/order_api_test_support.hpp"

namespace rainbow::order::api_test {

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

}  // namespace rainbow::order::api_test
