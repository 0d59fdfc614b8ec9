// order_api_load: a closed-loop load generator for order-api. N workers each create orders of 1-5
// random lines back to back for a fixed time over REST (libcurl, one keep-alive connection per worker)
// or gRPC (one channel, a stub call per request), then print throughput and latency percentiles as
// one JSON line. `--print-pgbench-script` prints the pgbench script that runs the very statement
// order-api runs (taken from OrderStore::Statements()), for the reference measurement.
#include <curl/curl.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "rainbow/order_api.grpc.pb.h"
#include "services/order-api/src/order_store.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode = "rest";
  std::string url = "http://127.0.0.1:8080";
  std::string grpc_addr = "127.0.0.1:50051";
  int concurrency = 8;
  double seconds = 10;
  int customers = 2000;
  int products = 5000;
  int payments = 6;
};

struct WorkerResult {
  std::vector<double> latencies_ms;
  int64_t errors = 0;
};

struct RandomOrder {
  int64_t customer, payment;
  std::vector<std::pair<int64_t, int>> lines;
};

RandomOrder MakeOrder(std::mt19937_64& rng, const Options& o) {
  RandomOrder r;
  r.customer = std::uniform_int_distribution<int64_t>(1, o.customers)(rng);
  r.payment = std::uniform_int_distribution<int64_t>(1, o.payments)(rng);
  const int n = std::uniform_int_distribution<int>(1, 5)(rng);
  for (int i = 0; i < n; ++i) {
    r.lines.push_back({std::uniform_int_distribution<int64_t>(1, o.products)(rng),
                       std::uniform_int_distribution<int>(1, 5)(rng)});
  }
  return r;
}

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

// Requests are built before the clock starts (a ring of random orders per worker), so the generator
// spends its CPU on sending, as pgbench does, not on formatting.
constexpr int kRing = 512;

void RestWorker(const Options& o, Clock::time_point end, int seed, WorkerResult& out) {
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  std::vector<std::string> bodies;
  for (int i = 0; i < kRing; ++i) {
    const auto order = MakeOrder(rng, o);
    nlohmann::json products = nlohmann::json::array();
    for (auto [p, q] : order.lines) products.push_back({{"productId", p}, {"quantity", q}});
    bodies.push_back(
        nlohmann::json{{"customerId", order.customer}, {"payment_id", order.payment}, {"products", products}}
            .dump());
  }
  CURL* curl = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  const std::string url = o.url + "/api/v1/orders";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  for (size_t n = 0; Clock::now() < end; ++n) {
    const std::string& body = bodies[n % bodies.size()];
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    const auto t0 = Clock::now();
    long status = 0;
    if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (status == 201) {
      out.latencies_ms.push_back(ms);
    } else {
      out.errors++;
    }
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
}

void GrpcWorker(const Options& o, std::shared_ptr<grpc::Channel> channel, Clock::time_point end, int seed,
                WorkerResult& out) {
  auto stub = rainbow::order::v1::OrderService::NewStub(channel);
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  std::vector<rainbow::order::v1::CreateOrderRequest> requests(kRing);
  for (auto& req : requests) {
    const auto order = MakeOrder(rng, o);
    req.set_customer_id(order.customer);
    req.set_payment_id(order.payment);
    for (auto [p, q] : order.lines) {
      auto* l = req.add_products();
      l->set_product_id(p);
      l->set_quantity(q);
    }
  }
  rainbow::order::v1::Order resp;
  for (size_t n = 0; Clock::now() < end; ++n) {
    grpc::ClientContext ctx;
    const auto t0 = Clock::now();
    const auto st = stub->CreateOrder(&ctx, requests[n % requests.size()], &resp);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (st.ok()) {
      out.latencies_ms.push_back(ms);
    } else {
      out.errors++;
    }
  }
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

// The pgbench script: the statement order-api prepares for a create without idempotency key, with
// pgbench variables for its parameters (customer, payment, product ids, quantities; 1-5 lines).
std::string PgbenchScript(const Options& o) {
  std::string sql = rainbow::order::OrderStore::Statements().at("order_create");
  auto replace = [&](const std::string& from, const std::string& to) {
    const auto at = sql.find(from);
    if (at == std::string::npos) throw std::runtime_error("statement has no " + from);
    sql.replace(at, from.size(), to);
  };
  replace("$1", ":c");
  replace("$2", ":pay");
  replace("$3::bigint[]", "(ARRAY[:p1, :p2, :p3, :p4, :p5]::bigint[])[1:(:n)]");
  replace("$4::int[]", "(ARRAY[:q1, :q2, :q3, :q4, :q5]::int[])[1:(:n)]");
  std::string out;
  out += "\\set c random(1, " + std::to_string(o.customers) + ")\n";
  out += "\\set pay random(1, " + std::to_string(o.payments) + ")\n";
  out += "\\set n random(1, 5)\n";
  for (int i = 1; i <= 5; ++i) {
    out += "\\set p" + std::to_string(i) + " random(1, " + std::to_string(o.products) + ")\n";
    out += "\\set q" + std::to_string(i) + " random(1, 5)\n";
  }
  // pgbench takes one statement per line unless it ends with ';'.
  for (auto& ch : sql) {
    if (ch == '\n') ch = ' ';
  }
  return out + sql + ";\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool print_script = false;
  CLI::App app{"Closed-loop load generator for order-api (REST or gRPC)"};
  app.add_option("--mode", o.mode, "rest or grpc")->check(CLI::IsMember({"rest", "grpc"}));
  app.add_option("--url", o.url, "REST base URL");
  app.add_option("--grpc-addr", o.grpc_addr, "gRPC address");
  app.add_option("--concurrency,-c", o.concurrency, "concurrent workers")->check(CLI::Range(1, 1024));
  app.add_option("--seconds,-T", o.seconds, "duration")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--customers", o.customers, "customer ids are drawn from 1..N");
  app.add_option("--products", o.products, "product ids are drawn from 1..N");
  app.add_option("--payments", o.payments, "payment ids are drawn from 1..N");
  app.add_flag("--print-pgbench-script", print_script, "print the equivalent pgbench script and exit");
  CLI11_PARSE(app, argc, argv);
  if (print_script) {
    std::cout << PgbenchScript(o);
    return 0;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::vector<WorkerResult> results(static_cast<size_t>(o.concurrency));
  std::vector<std::thread> workers;
  // One channel (so one HTTP/2 connection) per worker, as pgbench has one connection per client; a
  // single shared connection would serialize every call through one server-side transport.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < o.concurrency; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    args.SetInt("rainbow.worker", i);  // distinct args: no subchannel sharing between workers
    channels.push_back(grpc::CreateCustomChannel(o.grpc_addr, grpc::InsecureChannelCredentials(), args));
  }
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  for (int i = 0; i < o.concurrency; ++i) {
    workers.emplace_back([&, i] {
      if (o.mode == "rest") {
        RestWorker(o, end, 1000 + i, results[static_cast<size_t>(i)]);
      } else {
        GrpcWorker(o, channels[static_cast<size_t>(i)], end, 1000 + i, results[static_cast<size_t>(i)]);
      }
    });
  }
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  int64_t errors = 0;
  for (auto& r : results) {
    all.insert(all.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    errors += r.errors;
  }
  const double tps = static_cast<double>(all.size()) / elapsed;
  nlohmann::json report{{"mode", o.mode},
                        {"concurrency", o.concurrency},
                        {"seconds", elapsed},
                        {"orders", all.size()},
                        {"errors", errors},
                        {"tps", tps},
                        {"p50_ms", Percentile(all, 0.50)},
                        {"p99_ms", Percentile(all, 0.99)}};
  std::cout << report.dump() << std::endl;
  return errors > 0 && all.empty() ? 1 : 0;
}
