// order-api under load when it dies (kill -9) or its database restarts: clients that retry with their
// Idempotency-Key end up with exactly one whole order per key, whatever the moment of the fault.
#include "services/order-api/tests/order_api_test_support.hpp"

namespace rainbow::order::api_test {
namespace {

constexpr int kLinesPerOrder = 3;

// Clients posting orders of three lines, each under a key of its own, retrying the same key (as a
// client told "retry with the same Idempotency-Key" does) until it gets 201, then taking a new key.
// The target URL can change between attempts (a restarted service keeps its addresses here).
class RetryingClients {
 public:
  RetryingClients(std::string url, std::string key_prefix, int threads)
      : url_(std::move(url)), prefix_(std::move(key_prefix)) {
    for (int t = 0; t < threads; ++t) threads_.emplace_back([this, t] { Run(t); });
  }
  ~RetryingClients() { Stop(); }

  // Ends the loops; a key a client still held unanswered stays in Unfinished().
  void Stop() {
    stop_ = true;
    for (auto& th : threads_)
      if (th.joinable()) th.join();
  }
  int in_flight() const { return in_flight_; }
  // Waits (up to `timeout`) until `n` orders were created in all; the count then.
  int64_t WaitCreated(int64_t n, std::chrono::milliseconds timeout) const {
    for (const auto end = std::chrono::steady_clock::now() + timeout;
         created_ < n && std::chrono::steady_clock::now() < end;)
      std::this_thread::sleep_for(10ms);
    return created_;
  }
  // Spins (up to `timeout`) until at least `n` creates are open at once; the last count seen. The
  // caller injects its fault right after, while they are still open.
  int WaitOpen(int n, std::chrono::milliseconds timeout) const {
    int open = 0;
    for (const auto end = std::chrono::steady_clock::now() + timeout;
         open < n && std::chrono::steady_clock::now() < end;)
      open = in_flight_;
    return open;
  }
  int64_t created() const { return created_; }
  int64_t unanswered() const { return unanswered_; }  // no HTTP answer at all (connection cut or refused)
  int64_t answered_5xx() const { return answered_5xx_; }
  // Retries of a key whose earlier attempt got no answer, answered with the order committed then.
  int64_t replayed_after_a_cut() const { return replayed_after_cut_; }

  struct Order {
    std::string body;
    int64_t id = 0;  // 0 while unfinished
  };
  std::map<std::string, Order> orders() const {
    std::lock_guard lock(mu_);
    return orders_;
  }
  std::string first_error() const {
    std::lock_guard lock(mu_);
    return first_error_;
  }

 private:
  void Run(int t) {
    for (int n = 0; !stop_; ++n) {
      const std::string key = prefix_ + std::to_string(t) + "-" + std::to_string(n);
      std::vector<std::pair<int64_t, int>> lines;
      for (int l = 0; l < kLinesPerOrder; ++l) lines.push_back({1 + (t * 37 + n * 11 + l) % 90, 1 + l});
      const std::string body = json{
          {"customerId", 1 + (t + n) % 40},
          {"payment_id", 1 + n % 6},
          {"products", [&] {
             json products = json::array();
             for (auto [p, q] : lines) products.push_back({{"productId", p}, {"quantity", q}});
             return products;
           }()}}.dump();
      {
        std::lock_guard lock(mu_);
        orders_[key] = {body, 0};
      }
      bool cut_before = false;
      while (!stop_) {
        ++in_flight_;
        const auto r =
            HttpCall("POST", url_, body, {"Content-Type: application/json", "Idempotency-Key: " + key});
        --in_flight_;
        if (r.status == 201) {
          const int64_t id = json::parse(r.body)["id"].get<int64_t>();
          if (cut_before && r.headers.count("idempotent-replayed") > 0) ++replayed_after_cut_;
          std::lock_guard lock(mu_);
          orders_[key].id = id;
          ++created_;
          break;
        }
        if (r.status == 0) {
          ++unanswered_;
          cut_before = true;
        } else if (r.status == 500 || r.status == 503) {
          ++answered_5xx_;
        } else {
          std::lock_guard lock(mu_);
          if (first_error_.empty()) first_error_ = std::to_string(r.status) + " " + r.body;
          stop_ = true;
          return;
        }
        std::this_thread::sleep_for(20ms);
      }
    }
  }

  const std::string url_;
  const std::string prefix_;
  std::atomic<bool> stop_{false};
  std::atomic<int> in_flight_{0};
  std::atomic<int64_t> created_{0}, unanswered_{0}, answered_5xx_{0}, replayed_after_cut_{0};
  mutable std::mutex mu_;
  std::map<std::string, Order> orders_;
  std::string first_error_;
  std::vector<std::thread> threads_;
};

// Posts each unfinished order again under its key until it is created (a client finishing its retries);
// false when one did not get a 201 within the time.
bool FinishUnfinished(const std::string& url, std::map<std::string, RetryingClients::Order>& orders) {
  for (auto& [key, order] : orders) {
    for (const auto end = std::chrono::steady_clock::now() + 30s; order.id == 0;) {
      const auto r =
          HttpCall("POST", url, order.body, {"Content-Type: application/json", "Idempotency-Key: " + key});
      if (r.status == 201) {
        order.id = json::parse(r.body)["id"].get<int64_t>();
      } else if (std::chrono::steady_clock::now() > end) {
        ADD_FAILURE() << key << ": " << r.status << " " << r.body;
        return false;
      } else {
        std::this_thread::sleep_for(100ms);
      }
    }
  }
  return true;
}

// What the database holds for the keys starting with `prefix`: each key names one order, every such order
// is whole (all its lines), and it is the order its client was given.
void ExpectOneWholeOrderPerKey(pg::Connection& db, const std::string& prefix,
                               const std::map<std::string, RetryingClients::Order>& orders) {
  auto keys = db.Exec(
      "SELECT k.key, k.order_id, (SELECT count(*) FROM rainbow.orderdetails d WHERE d.order_id = "
      "k.order_id), "
      "(SELECT coalesce(max(line_no), 0) FROM rainbow.orderdetails d WHERE d.order_id = k.order_id) "
      "FROM rainbow.idempotency_keys k WHERE k.key LIKE $1",
      {prefix + "%"});
  EXPECT_EQ(static_cast<size_t>(keys.rows()), orders.size())
      << "keys in the database vs keys the clients used";
  std::set<int64_t> ids;
  for (int i = 0; i < keys.rows(); ++i) {
    const std::string key(keys.Text(i, 0));
    ids.insert(keys.Int(i, 1));
    EXPECT_EQ(keys.Int(i, 2), kLinesPerOrder) << "half order " << keys.Int(i, 1) << " of " << key;
    EXPECT_EQ(keys.Int(i, 3), kLinesPerOrder) << key;
    const auto it = orders.find(key);
    if (it == orders.end()) {
      ADD_FAILURE() << "a key no client used: " << key;
      continue;
    }
    EXPECT_EQ(keys.Int(i, 1), it->second.id) << key << ": the client was given another order";
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(keys.rows())) << "two keys share an order";
}

// Service addresses kept across a restart, so that the clients' URL stays valid.
std::map<std::string, std::string> SameAddresses(const Service& s) {
  return {{"ORDER_API_REST_ADDR", "127.0.0.1:" + std::to_string(s.rest)},
          {"GRPC_ADDR", "127.0.0.1:" + std::to_string(s.grpc)},
          {"HTTP_ADDR", "127.0.0.1:" + std::to_string(s.ops)}};
}

}  // namespace

// kill -9 while creates are open: some were committed without an answer, some not started, some half
// written inside a transaction. After a restart the clients' retries with their keys give exactly one
// whole order per key, and no order was written that no key names.
TEST_F(OrderApi, KilledNineUnderLoadLeavesOneWholeOrderPerKey) {
  const std::string prefix = "kill9-" + std::to_string(::getpid()) + "-";
  const int64_t orders_before = Count("orders");
  Service s = StartService(DsnFor(db_));
  ASSERT_TRUE(WaitReady(s, 30s)) << s.process->Stderr();
  RetryingClients clients(s.Url("/api/v1/orders"), prefix, 8);

  // Let orders flow, then kill at an instant when creates are open.
  clients.WaitCreated(200, 20s);
  const int open_at_kill = clients.WaitOpen(4, 10s);
  s.process->Signal(SIGKILL);
  s.process->Wait(10s);
  ASSERT_GE(open_at_kill, 4) << "the kill did not land while creates were open";

  std::this_thread::sleep_for(500ms);  // clients find the service gone
  const auto addresses = SameAddresses(s);
  Service again = StartService(DsnFor(db_), addresses);
  again.rest = s.rest, again.grpc = s.grpc, again.ops = s.ops;
  ASSERT_TRUE(WaitReady(again, 30s)) << again.process->Stderr();
  const int64_t created_at_restart = clients.created();
  clients.WaitCreated(created_at_restart + 100, 20s);
  clients.Stop();
  ASSERT_EQ(clients.first_error(), "");
  EXPECT_GE(clients.created(), created_at_restart + 100) << "creates did not resume after the restart";
  EXPECT_GT(clients.unanswered(), 0) << "no create lost its answer to the kill";

  auto orders = clients.orders();
  ASSERT_TRUE(FinishUnfinished(again.Url("/api/v1/orders"), orders));
  ExpectOneWholeOrderPerKey(Db(), prefix, orders);
  EXPECT_EQ(Count("orders"), orders_before + static_cast<int64_t>(orders.size()))
      << "an order was written that no key names (a create rolled back half-way must leave nothing)";
  std::cout << "orders: " << orders.size() << ", open at the kill: " << open_at_kill
            << ", unanswered attempts: " << clients.unanswered()
            << ", committed before the kill but unanswered (replayed): " << clients.replayed_after_a_cut()
            << "\n";
  again.process->Signal(SIGTERM);
  EXPECT_EQ(again.process->Wait(30s), 0) << again.process->Stderr();
}

// PostgreSQL stopped (fast shutdown: sessions ended, open transactions rolled back) and started again
// under REST load, on a server of the test's own. While it is down order-api is not ready and answers
// 503 (or 500 where a commit's fate is unknown); afterwards it reconnects by itself, and the clients'
// retries leave exactly one whole order per key.
TEST(OrderApiPostgresRestart, RestartedUnderLoadRecoversAndLeavesOneWholeOrderPerKey) {
  testing::PrivatePostgres server;
  const std::string data = ::testing::TempDir() + "/pg-restart-sample-" + std::to_string(::getpid());
  auto [grc, gout] = testing::RunShell("python3 " + std::string(SAMPLE_GENERATOR) + " --out " + data +
                                       " --customers 50 --products 100");
  ASSERT_EQ(grc, 0) << gout;
  ChildProcess seed(ORDER_API_SEED_PATH, {"--data-dir", data, "--catalog", CATALOG_CSV},
                    {{"PG_DSN", server.dsn()}});
  ASSERT_EQ(seed.Wait(120s), 0) << seed.Stdout() << seed.Stderr();
  pg::Connection before_db(server.dsn());
  const int64_t orders_before = before_db.Exec("SELECT count(*) FROM rainbow.orders").Int(0, 0);

  Service s = StartService(server.dsn(), {{"PG_CONNECT_TIMEOUT", "2s"}, {"PG_STATEMENT_TIMEOUT", "5s"}});
  ASSERT_TRUE(WaitReady(s, 30s)) << s.process->Stderr();
  const std::string prefix = "pg-restart-" + std::to_string(::getpid()) + "-";
  RetryingClients clients(s.Url("/api/v1/orders"), prefix, 6);
  clients.WaitCreated(150, 20s);
  const int open_at_stop = clients.WaitOpen(3, 10s);
  server.Stop();
  ASSERT_GE(open_at_stop, 3) << "the stop did not land while creates were open";

  // Down: not ready, and creates are refused with a retryable answer (no hang, no 4xx).
  EXPECT_EQ(testing::WaitForStatus(s.OpsUrl("/readyz"), 503, 30s), 503)
      << "still ready with the database down";
  const int64_t created_while_down = clients.created();
  std::this_thread::sleep_for(2s);
  EXPECT_LE(clients.created(), created_while_down + 6) << "creates went on with the database down";
  EXPECT_GT(clients.answered_5xx(), 0) << "no create was refused while the database was down";

  server.Start();
  EXPECT_EQ(testing::WaitForStatus(s.OpsUrl("/readyz"), 200, 60s), 200)
      << "not ready again after the restart\n"
      << s.process->Stderr();
  const int64_t created_at_restart = clients.created();
  clients.WaitCreated(created_at_restart + 100, 30s);
  clients.Stop();
  ASSERT_EQ(clients.first_error(), "");
  EXPECT_GE(clients.created(), created_at_restart + 100) << "creates did not resume after the restart";

  auto orders = clients.orders();
  ASSERT_TRUE(FinishUnfinished(s.Url("/api/v1/orders"), orders));
  pg::Connection db(server.dsn());
  ExpectOneWholeOrderPerKey(db, prefix, orders);
  EXPECT_EQ(db.Exec("SELECT count(*) FROM rainbow.orders").Int(0, 0),
            orders_before + static_cast<int64_t>(orders.size()));
  std::cout << "orders: " << orders.size() << ", open at the stop: " << open_at_stop
            << ", 5xx answers: " << clients.answered_5xx() << ", unanswered: " << clients.unanswered()
            << "\n";
  s.process->Signal(SIGTERM);
  EXPECT_EQ(s.process->Wait(30s), 0) << s.process->Stderr();
  std::error_code ignored;
  std::filesystem::remove_all(data, ignored);
}

}  // namespace rainbow::order::api_test
