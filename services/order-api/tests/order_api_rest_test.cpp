// order-api over REST against real PostgreSQL: routes, validation, pricing, idempotency, concurrency,
// pagination.
#include "services/order-api/tests/order_api_test_support.hpp"

namespace rainbow::order::api_test {

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

// A path whose escape decodes to NUL named the order list once (civetweb's decoding ended the path
// there): now 400, while an escape that decodes to a digit still names its order.
TEST_F(OrderApi, APathWithAnEncodedNulIsABadRequest) {
  auto nul = HttpCall("GET", service_->Url("/api/v1/orders/%00"));
  EXPECT_EQ(nul.status, 400) << nul.body;
  EXPECT_FALSE(json::parse(nul.body)["error"].get<std::string>().empty());
  EXPECT_EQ(HttpCall("GET", service_->Url("/api/v1/orders%00")).status, 400);
  EXPECT_EQ(HttpCall("GET", service_->Url("/api/v1/orders/%zz")).status, 400);
  auto product = Db().Exec("SELECT id FROM rainbow.products ORDER BY id LIMIT 1");
  auto created = Post(Body(7, 2, {{product.Int(0, 0), 1}}));
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = std::to_string(json::parse(created.body)["id"].get<int64_t>());
  std::string escaped;
  for (char c : id) escaped += "%3" + std::string(1, c);
  auto got = HttpCall("GET", service_->Url("/api/v1/orders/" + escaped));
  EXPECT_EQ(got.status, 200) << escaped;
}

// A body nested 2,000 deep (the suite's 4 KiB body limit; the unit test goes 10,000 deep) is refused:
// 400 naming the limit, nothing written.
TEST_F(OrderApi, DeeplyNestedBodyIsRefused) {
  const int64_t before = Count("orders");
  const std::string deep = R"({"customerId":1,"payment_id":1,"products":)" + std::string(2'000, '[') +
                           std::string(2'000, ']') + "}";
  const auto r = Post(deep);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("nested deeper than 32"), std::string::npos) << r.body;
  EXPECT_EQ(Count("orders"), before);
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

}  // namespace rainbow::order::api_test
