// order-api over gRPC against real PostgreSQL: shared implementation and status codes, rich errors, retries,
// cut connections.
#include "services/order-api/tests/order_api_test_support.hpp"

namespace rainbow::order::api_test {

// The gRPC create path prices every line as REST does: discounted products (their own promotion) and
// an undiscounted one, each line's net unit price = price - discount, and what the database holds is
// what was answered. (A net price computed without the discount passed every gRPC test before this.)
TEST_F(OrderApi, GrpcPricesEachLineWithItsDiscount) {
  auto with_promo =
      Db().Exec("SELECT id FROM rainbow.products WHERE promotion_id IS NOT NULL ORDER BY id LIMIT 2");
  auto without = Db().Exec("SELECT id FROM rainbow.products WHERE promotion_id IS NULL ORDER BY id LIMIT 1");
  const std::vector<std::pair<int64_t, int>> lines = {
      {with_promo.Int(0, 0), 3}, {without.Int(0, 0), 1}, {with_promo.Int(1, 0), 4}};
  v1::Order created;
  {
    grpc::ClientContext ctx;
    const auto st = Grpc()->CreateOrder(&ctx, GrpcBody(9, 1, lines), &created);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  ASSERT_EQ(created.lines_size(), 3);
  int64_t total = 0, discount = 0, discounted_lines = 0;
  for (int i = 0; i < 3; ++i) {
    const auto& line = created.lines(i);
    auto [price, disc] = ExpectedPriceAndDiscount(lines[i].first);
    EXPECT_EQ(line.line_no(), i + 1);
    EXPECT_EQ(line.quantity(), lines[i].second);
    EXPECT_EQ(line.unit_price(), FormatCents(price));
    EXPECT_EQ(line.discount_unit_price(), FormatCents(disc)) << "product " << lines[i].first;
    EXPECT_EQ(line.net_unit_price(), FormatCents(price - disc)) << "product " << lines[i].first;
    total += price * lines[i].second;
    discount += disc * lines[i].second;
    discounted_lines += disc > 0 ? 1 : 0;
  }
  ASSERT_GT(discounted_lines, 0) << "the seed data gave no discounted line: the test would prove nothing";
  EXPECT_EQ(created.total_amount(), FormatCents(total));
  EXPECT_EQ(created.discount_amount(), FormatCents(discount));
  EXPECT_EQ(created.net_amount(), FormatCents(total - discount));
  auto rows = Db().Exec(
      "SELECT count(*), sum(quantity * round(price * 100))::bigint FROM rainbow.orderdetails WHERE order_id "
      "= $1",
      {std::to_string(created.id())});
  EXPECT_EQ(rows.Int(0, 0), 3);
  EXPECT_EQ(rows.Int(0, 1), total);
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

// gRPC CreateOrder runs on an event loop with connections of its own. When they are cut (a database
// restart, a failover), every create is either OK and whole in the database, UNAVAILABLE with
// nothing written, or UNKNOWN (the connection went after the statement was sent: whole or absent),
// and the loop reconnects by itself. The pool's connections are cut too (one
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
  const int64_t last_before = Db().Exec("SELECT coalesce(max(id), 0) FROM rainbow.orders").Int(0, 0);
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
  int64_t unknown = 0;
  for (const auto& [code, n] : codes) {
    const bool known =
        code == "0 " || code == "14 database unavailable, retry later" || code.rfind("2 ", 0) == 0;
    EXPECT_TRUE(known) << n << " x " << code;
    if (code.rfind("2 ", 0) == 0) unknown += n;
  }
  const int64_t written = Count("orders") - before;
  EXPECT_GE(written, static_cast<int64_t>(created.size())) << "an OK create is missing";
  EXPECT_LE(written, static_cast<int64_t>(created.size()) + unknown)
      << "an UNAVAILABLE create wrote an order";
  // Every order written in the window is whole (the OK ones, and any UNKNOWN one that committed).
  EXPECT_EQ(Db().Exec("SELECT count(*) FROM rainbow.orders o WHERE o.id > $1 AND (SELECT count(*) FROM "
                      "rainbow.orderdetails d WHERE d.order_id = o.id) <> 2",
                      {std::to_string(last_before)})
                .Int(0, 0),
            0);
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

}  // namespace rainbow::order::api_test
