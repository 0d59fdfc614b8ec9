// The chaos run's driver (tests/e2e/chaos starts a stack of its own and runs this against it): orders
// through order-api and files dropped into `raw` while a schedule kills each service with SIGKILL and
// restarts PostgreSQL, Kafka, Redis and MinIO once each; then it checks that every acknowledged order
// is in PostgreSQL once and whole and on Kafka, every file is COMPLETED once with a verified checksum,
// and the loader's Reconcile reports zero difference. One JSON line per fault and per check; exit 1
// when a check fails.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/config/env.hpp"
#include "common/logging/log.hpp"
#include "common/ops/service_main.hpp"
#include "common/pg/connection.hpp"
#include "tests/e2e/chaos_src/checks.hpp"
#include "tests/e2e/chaos_src/faults.hpp"
#include "tests/e2e/chaos_src/load.hpp"

namespace {

using namespace std::chrono_literals;
using namespace rainbow::chaos;

struct ChaosConfig {
  std::string pg_dsn, kafka_brokers, order_api_url, order_api_grpc, state_grpc, loader_grpc;
  rainbow::s3::S3Config s3;
  std::string stack_command, stack_dir, sample_json;
  int orders = 0, files = 0, kills = 0;
  std::chrono::seconds duration{0};
};

Catalog ReadCatalog(rainbow::pg::Connection& conn) {
  const auto ids = [&](const std::string& table) {
    std::vector<int64_t> out;
    const auto r =
        conn.Exec("SELECT id FROM rainbow." + table + " WHERE deleted_at IS NULL ORDER BY id LIMIT 200");
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.Int(i, 0));
    if (out.empty()) throw std::runtime_error("rainbow." + table + " is empty: seed the stack first");
    return out;
  };
  return {ids("customers"), ids("payments"), ids("products")};
}

std::string FaultName(const Fault& f) {
  return (f.kind == Fault::Kind::kKillService ? "kill -9 " : "restart ") + f.target;
}

int Run(const ChaosConfig& c) {
  const std::string run = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  rainbow::pg::Connection conn(c.pg_dsn);
  const Catalog catalog = ReadCatalog(conn);
  const int64_t baseline = conn.Exec("SELECT coalesce(max(id), 0) FROM rainbow.orders").Int(0, 0);
  std::ifstream in(c.sample_json, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + c.sample_json);
  std::stringstream body;
  body << in.rdbuf();

  const auto start = std::chrono::steady_clock::now();
  const auto give_up = start + c.duration + 600s;
  OrderLoad load(
      {c.order_api_url, c.order_api_grpc, run, c.orders,
       std::chrono::duration_cast<std::chrono::milliseconds>(c.duration) * 2 / std::max(1, c.orders),
       give_up},
      catalog);
  FileDrops drops(c.s3, run, c.files, body.str(),
                  std::chrono::duration_cast<std::chrono::milliseconds>(c.duration) / std::max(1, c.files),
                  give_up);
  rainbow::log::Info("chaos run starts", {{"run", run},
                                          {"orders", c.orders},
                                          {"files", c.files},
                                          {"kills", c.kills},
                                          {"seconds", c.duration.count()}});

  std::vector<std::string> load_failures, drop_failures;
  std::jthread load_thread([&](std::stop_token stop) { load_failures = load.Run(stop); });
  std::jthread drop_thread([&](std::stop_token stop) { drop_failures = drops.Run(stop); });

  // The faults, evenly spread over the run's duration.
  const auto schedule = MakeSchedule(c.kills);
  FaultInjector injector(c.stack_command, c.stack_dir);
  std::string fault_error;
  long kills_with_requests_in_flight = 0;
  for (size_t i = 0; i < schedule.size() && fault_error.empty(); ++i) {
    std::this_thread::sleep_until(start + c.duration * static_cast<int64_t>(i + 1) /
                                              static_cast<int64_t>(schedule.size() + 1));
    try {
      const auto rec = injector.Apply(schedule[i], [&](FaultRecord& r) {
        // order-api dies with requests open (the window where an order may be committed but not yet
        // acknowledged), unless none comes within a few seconds (the load has ended).
        if (r.fault.target == "order-api") {
          const auto until = std::chrono::steady_clock::now() + 5s;
          while (load.InFlight() == 0 && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(200us);
        }
        r.requests_in_flight = load.InFlight();
        r.orders_acknowledged = load.Acknowledged();
        r.files_dropped = drops.Dropped();
      });
      if (rec.fault.target == "order-api" && rec.requests_in_flight > 0) ++kills_with_requests_in_flight;
      rainbow::log::Info("chaos fault", {{"run", run},
                                         {"fault", FaultName(rec.fault)},
                                         {"pid", rec.pid},
                                         {"requests_in_flight", rec.requests_in_flight},
                                         {"orders_acknowledged", rec.orders_acknowledged},
                                         {"files_dropped", rec.files_dropped},
                                         {"recovery_ms", rec.recovery.count()}});
    } catch (const std::exception& e) {
      fault_error = FaultName(schedule[i]) + ": " + e.what();
    }
  }
  if (!fault_error.empty()) {
    load_thread.request_stop();
    drop_thread.request_stop();
  }
  load_thread.join();
  drop_thread.join();

  std::vector<CheckResult> results;
  const auto add = [&](std::string name, const std::vector<std::string>& failures) {
    CheckResult r{std::move(name), failures.empty(), std::to_string(failures.size()) + " failure(s)"};
    for (size_t i = 0; i < failures.size() && i < 5; ++i) r.detail += " [" + failures[i] + "]";
    results.push_back(r);
  };
  add("fault schedule", fault_error.empty() ? std::vector<std::string>{} : std::vector{fault_error});
  add("orders acknowledged", load_failures);
  add("files dropped", drop_failures);
  // The run must have hit the window it is about: at least one order-api kill with requests open.
  const bool order_api_killed =
      std::any_of(schedule.begin(), schedule.end(), [](const Fault& f) { return f.target == "order-api"; });
  add("order-api killed with requests in flight",
      order_api_killed && kills_with_requests_in_flight == 0 && c.orders > 0
          ? std::vector<std::string>{"no order-api kill landed while a request was open"}
          : std::vector<std::string>{});
  const auto acknowledged = load.AcknowledgedIds();
  results.push_back(CheckOrdersInDatabase(c.pg_dsn, baseline, run, c.orders, catalog, acknowledged));
  results.push_back(CheckOrderEventsOnKafka(c.kafka_brokers, run, c.orders, catalog, acknowledged, 300s));
  results.push_back(CheckFilesConverted(c.s3, c.state_grpc, drops.Keys(), run, 300s));
  results.push_back(CheckReconcile(c.loader_grpc, 300s));

  bool ok = true;
  for (const auto& r : results) {
    ok = ok && r.ok;
    const rainbow::log::Fields fields{{"run", run}, {"check", r.name}, {"ok", r.ok}, {"detail", r.detail}};
    if (r.ok) {
      rainbow::log::Info("chaos check", fields);
    } else {
      rainbow::log::Error("chaos check", fields);
    }
  }
  rainbow::log::Info(
      ok ? "chaos run passed" : "chaos run FAILED",
      {{"run", run},
       {"orders", c.orders},
       {"order_retries", load.Retries()},
       {"files", c.files},
       {"faults", schedule.size()},
       {"order_api_kills_with_requests_in_flight", kills_with_requests_in_flight},
       {"seconds",
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count()}});
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  using rainbow::config::Env;
  return rainbow::ops::RunService<ChaosConfig>(
      {"chaos", "0.1.0", "the chaos run's driver (run tests/e2e/chaos, which starts its stack)"}, argc, argv,
      [](Env& env) {
        ChaosConfig c;
        c.pg_dsn = env.RequireSecret("PG_DSN", "libpq connection string of the chaos stack");
        c.kafka_brokers = env.RequireString("KAFKA_BROKERS", "Kafka bootstrap servers");
        c.s3.endpoint = env.RequireString("S3_ENDPOINT", "S3 endpoint URL");
        c.s3.ca_file = env.String("S3_CA_FILE", "",
                                  "PEM CA bundle for an https S3_ENDPOINT (default: system trust store)");
        c.s3.region = env.String("S3_REGION", "us-east-1", "S3 region");
        c.s3.access_key = env.RequireString("S3_ACCESS_KEY", "S3 access key");
        c.s3.secret_key = env.RequireSecret("S3_SECRET_KEY", "S3 secret key");
        c.order_api_url = env.RequireString("ORDER_API_URL", "order-api REST base URL");
        c.order_api_grpc = env.RequireString("ORDER_API_GRPC", "order-api gRPC address");
        c.state_grpc = env.RequireString("STATE_GRPC", "state-tracker gRPC address");
        c.loader_grpc = env.RequireString("LOADER_GRPC", "loader gRPC address");
        c.stack_command = env.RequireString("RAINBOW_STACK", "the scripts/stack command of the chaos stack");
        c.stack_dir = env.RequireString("RAINBOW_STACK_DIR", "the chaos stack's directory (pid files)");
        c.sample_json = env.String("CHAOS_SAMPLE_JSON", SAMPLE_JSON, "JSON file dropped into bucket raw");
        c.orders = static_cast<int>(env.Int("CHAOS_ORDERS", 300, 1, 10'000'000, "orders to create"));
        c.files = static_cast<int>(env.Int("CHAOS_FILES", 10, 0, 100'000, "files to drop into raw"));
        c.kills = static_cast<int>(env.Int("CHAOS_KILLS", 5, 0, 10'000, "services killed with SIGKILL"));
        c.duration = std::chrono::duration_cast<std::chrono::seconds>(
            env.Duration("CHAOS_DURATION", 120s, "time over which orders, files and faults are spread"));
        return c;
      },
      [](const ChaosConfig& c) { return Run(c); });
}
