// order-api when a create's fate is uncertain: a commit reply lost on the way (UNKNOWN / 500, never the
// retry-me UNAVAILABLE / 503), and gRPC calls that outlive their deadline or overflow the create queue
// while the database does not answer (not started / refused at once).
#include "services/order-api/tests/commit_reply_cutter.hpp"
#include "services/order-api/tests/order_api_test_support.hpp"
#include "tests/support/reply_fault_proxy.hpp"

namespace rainbow::order::api_test {

// The create reaches PostgreSQL and commits; the reply is lost with the connection. order-api cannot
// know whether the order exists: 500 / UNKNOWN with a hint at the Idempotency-Key, and a retry with the
// key gets the one order.
TEST_F(OrderApi, LostCommitReplyIsAnUnknownOutcome) {
  CommitReplyCutter cutter(std::stoi(StackEnv("PG_PORT")));
  Service s = StartService(WithPort(DsnFor(db_), cutter.port()),
                           {{"ORDER_API_PG_POOL_SIZE", "2"}, {"ORDER_API_CREATE_LOOP_CONNECTIONS", "2"}});
  ASSERT_TRUE(WaitReady(s, 30s)) << s.process->Stderr();
  const auto post = [&](const std::string& body, std::vector<std::string> headers) {
    headers.push_back("Content-Type: application/json");
    return HttpCall("POST", s.Url("/api/v1/orders"), body, headers);
  };

  // REST without a key (the pool's connection): 500, and the order is there once.
  ASSERT_EQ(OrdersWithQuantity(4321), 0);
  cutter.Arm("{4321}");  // the quantities array parameter, as the create statement's Bind carries it
  auto r = post(Body(7, 1, {{11, 4321}}), {});
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(json::parse(r.body).value("error", "").find("Idempotency-Key"), std::string::npos) << r.body;
  EXPECT_EQ(cutter.cuts(), 1);
  EXPECT_EQ(OrdersWithQuantity(4321), 1) << "the statement whose reply was cut did not commit";

  // REST with a key: 500, then the retry with the same key replays that order.
  const std::string rest_key = "lost-reply-rest-" + std::to_string(::getpid());
  cutter.Arm("{4322}");  // not the key: the lookup of the key before the create carries that
  r = post(Body(7, 1, {{12, 4322}}), {"Idempotency-Key: " + rest_key});
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(json::parse(r.body).value("error", "").find("same Idempotency-Key"), std::string::npos) << r.body;
  EXPECT_EQ(cutter.cuts(), 2);
  r = post(Body(7, 1, {{12, 4322}}), {"Idempotency-Key: " + rest_key});
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers["idempotent-replayed"], "true");
  EXPECT_EQ(OrdersWithQuantity(4322), 1);

  // gRPC with a key (the event loop's connection): UNKNOWN, then the retry replays.
  auto stub = Grpc(s.grpc);
  auto req = GrpcBody(8, 1, {{13, 4323}});
  req.set_idempotency_key("lost-reply-grpc-" + std::to_string(::getpid()));
  cutter.Arm("{4323}");
  v1::Order out;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    const auto st = stub->CreateOrder(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNKNOWN) << st.error_message();
    EXPECT_NE(st.error_message().find("same Idempotency-Key"), std::string::npos) << st.error_message();
  }
  EXPECT_EQ(cutter.cuts(), 3);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    const auto st = stub->CreateOrder(&ctx, req, &out);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(ctx.GetServerTrailingMetadata().count("idempotent-replayed"), 1u);
  }
  EXPECT_EQ(OrdersWithQuantity(4323), 1);
  s.process->Signal(SIGTERM);
  EXPECT_EQ(s.process->Wait(30s), 0) << s.process->Stderr();
}

// PostgreSQL frozen: gRPC creates queue behind the event loop's two connections, at most
// ORDER_API_GRPC_CREATE_QUEUE of them (the rest RESOURCE_EXHAUSTED at once). Their deadlines pass;
// when PostgreSQL answers again, only the statements already sent complete: the queued calls are not
// started, so no client that was told DEADLINE_EXCEEDED finds an order it gave up on.
TEST_F(OrderApi, GrpcCallsPastTheirDeadlineAreNotStarted) {
  Service s = StartService(DsnFor(db_), {{"ORDER_API_PG_POOL_SIZE", "2"},
                                         {"ORDER_API_CREATE_LOOP_CONNECTIONS", "2"},
                                         {"ORDER_API_GRPC_CREATE_QUEUE", "6"},
                                         {"LOG_LEVEL", "info"}});
  ASSERT_TRUE(WaitReady(s, 30s)) << s.process->Stderr();
  constexpr int kBase = 4400, kQueued = 6, kOver = 4;
  for (int i = 0; i < kQueued + kOver; ++i) ASSERT_EQ(OrdersWithQuantity(kBase + i), 0);
  auto stub = Grpc(s.grpc);
  std::mutex mu;
  std::map<grpc::StatusCode, int> codes;
  const auto call = [&](int i, std::chrono::milliseconds deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    v1::Order out;
    const auto st = stub->CreateOrder(&ctx, GrpcBody(9, 1, {{14, kBase + i}}), &out);
    std::lock_guard lock(mu);
    ++codes[st.error_code()];
  };
  {
    FrozenPostgres frozen;
    std::vector<std::thread> clients;
    for (int i = 0; i < kQueued; ++i) clients.emplace_back(call, i, 1500ms);
    std::this_thread::sleep_for(500ms);  // all six taken (two sent, four queued)
    const auto over_start = std::chrono::steady_clock::now();
    for (int i = kQueued; i < kQueued + kOver; ++i) clients.emplace_back(call, i, 5000ms);
    for (auto& c : clients) c.join();
    EXPECT_LT(std::chrono::steady_clock::now() - over_start, 4s)
        << "calls over the limit were not refused at once";
    std::this_thread::sleep_for(200ms);
  }  // thawed
  EXPECT_EQ(codes[grpc::StatusCode::DEADLINE_EXCEEDED], kQueued);
  EXPECT_EQ(codes[grpc::StatusCode::RESOURCE_EXHAUSTED], kOver);
  // The four queued calls expire in order-api's queue once the loop's connections are free again.
  const auto server_codes = [&] {
    std::map<std::string, int> n;
    for (const auto& line : LogLines(*s.process, "grpc request")) {
      if (line.value("rpc", "") == "CreateOrder") ++n[line.value("code", "")];
    }
    return n;
  };
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (server_codes()["DEADLINE_EXCEEDED"] + server_codes()["OK"] < kQueued &&
         std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(100ms);
  }
  auto seen = server_codes();
  EXPECT_EQ(seen["DEADLINE_EXCEEDED"], kQueued - 2) << "the queued calls did not wait in the queue";
  EXPECT_EQ(seen["OK"], 2) << "the two statements sent before the deadline";
  EXPECT_EQ(seen["RESOURCE_EXHAUSTED"], kOver);
  int64_t created = 0;
  for (int i = 0; i < kQueued + kOver; ++i) created += OrdersWithQuantity(kBase + i);
  EXPECT_EQ(created, 2) << "calls that expired in the queue created orders";
  s.process->Signal(SIGTERM);
  EXPECT_EQ(s.process->Wait(30s), 0) << s.process->Stderr();
}

// A create-loop connection whose PREPARE gets no answer (a proxy holds it back, as a database that stops
// answering right after the connection was made would): the connection gives up within
// PG_STATEMENT_TIMEOUT + PG_CONNECT_TIMEOUT, is made again, and the loop is whole long before the held
// request would have been answered; SIGTERM meanwhile is not held up either.
TEST_F(OrderApi, ACreateLoopPrepareWithoutAnAnswerGivesUpWithinTheTimeouts) {
  testing::ReplyFaultProxy proxy(std::stoi(StackEnv("PG_PORT")));
  proxy.ArmHoldRequest("INSERT INTO rainbow.orders (customer_id, payment_id)", 60s);
  Service s = StartService(WithPort(DsnFor(db_), proxy.port()), {{"PG_STATEMENT_TIMEOUT", "1s"},
                                                                 {"PG_CONNECT_TIMEOUT", "2s"},
                                                                 {"ORDER_API_PG_POOL_SIZE", "1"},
                                                                 {"ORDER_API_CREATE_LOOP_CONNECTIONS", "1"}});
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(StdoutShows(*s.process, "no answer from the server within", 20s))
      << s.process->Stdout() << s.process->Stderr();
  EXPECT_EQ(proxy.faults(), 1) << "no prepare was held";
  ASSERT_TRUE(WaitReady(s, 30s)) << "the create loop waited for the held prepare\n" << s.process->Stdout();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 40s);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  v1::Order out;
  const auto st = Grpc(s.grpc)->CreateOrder(&ctx, GrpcBody(9, 1, {{14, 4324}}), &out);
  EXPECT_TRUE(st.ok()) << st.error_message();
  s.process->Signal(SIGTERM);
  EXPECT_EQ(s.process->Wait(20s), 0) << s.process->Stderr();
}

}  // namespace rainbow::order::api_test
