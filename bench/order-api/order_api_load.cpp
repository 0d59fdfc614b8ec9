// order_api_load: a closed-loop load generator for order-api. N workers each create orders of 1-5
// random lines back to back for a fixed time over REST (HTTP/1.1 keep-alive, one connection per
// client) or gRPC (one HTTP/2 connection per client: by default the lean nghttp2 client of
// bench/common/grpc_h2_load, or `--grpc-client grpc++`, the C++ gRPC library's async API), then
// print throughput and latency percentiles as one JSON line. `--print-pgbench-script` prints the pgbench
// script that runs the very statement order-api runs (taken from OrderStore::Statements()), for the reference
// measurement.
#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <iostream>
#include <latch>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "bench/common/grpc_h2_load.hpp"
#include "bench/common/tcp.hpp"
#include "bench/order-api/load_support.hpp"
#include "common/security/grpc_security.hpp"
#include "rainbow/order_api.grpc.pb.h"
#include "services/order-api/src/order_store.hpp"

namespace {

using namespace rainbow::order::load;
using rainbow::bench::ConnectTcp;
using rainbow::bench::SendAll;
using rainbow::bench::SplitHostPort;

// Every client works like pgbench -j: a few threads, each driving its share of the connections from
// one event loop (epoll for HTTP and nghttp2, a completion queue for grpc++), one request outstanding
// per connection (closed loop). A thread per connection blocking on its socket would spend the 2-core
// machine's CPU on context switches that PostgreSQL needs, and measure the generator instead of the
// service.

// --- REST: HTTP/1.1 keep-alive over plain sockets ---

struct HttpConnection {
  int fd = -1;
  std::vector<std::string> requests;  // complete HTTP requests
  size_t next = 0;
  std::string in;
  Clock::time_point sent;
};

std::string HttpRequest(const std::string& host, const std::string& body) {
  return "POST /api/v1/orders HTTP/1.1\r\nHost: " + host +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         body;
}

// The status code once `in` holds a whole response (headers and Content-Length body), else 0; the
// response is removed from `in`.
int TakeResponse(std::string& in) {
  const size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return 0;
  size_t body = 0;
  for (size_t at = in.find("\r\n"); at < head_end; at = in.find("\r\n", at + 2)) {
    constexpr std::string_view kLength = "content-length:";
    if (in.size() > at + 2 + kLength.size() &&
        strncasecmp(in.data() + at + 2, kLength.data(), kLength.size()) == 0) {
      body = std::strtoull(in.c_str() + at + 2 + kLength.size(), nullptr, 10);
    }
  }
  if (in.size() < head_end + 4 + body) return 0;
  const int status = in.size() > 12 ? std::atoi(in.c_str() + 9) : 0;
  in.erase(0, head_end + 4 + body);
  return status;
}

void RestThread(const Options& o, int thread, const std::function<void()>& ready,
                const std::shared_future<Clock::time_point>& end_at, WorkerResult& out) {
  const auto [host, port] = SplitHostPort(o.url);
  const std::string hostport = host + ":" + std::to_string(port);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<HttpConnection> conns;
  for (int c : ConnectionsOfThread(o, thread)) {
    std::mt19937_64 rng(static_cast<uint64_t>(1000 + c));
    HttpConnection conn;
    for (int i = 0; i < kRing; ++i) {
      const auto order = MakeOrder(rng, o);
      nlohmann::json products = nlohmann::json::array();
      for (auto [p, q] : order.lines) products.push_back({{"productId", p}, {"quantity", q}});
      conn.requests.push_back(HttpRequest(hostport, nlohmann::json{{"customerId", order.customer},
                                                                   {"payment_id", order.payment},
                                                                   {"products", products}}
                                                        .dump()));
    }
    conn.fd = ConnectTcp(host, port);
    conns.push_back(std::move(conn));
  }
  ready();
  const auto end = end_at.get();
  for (size_t i = 0; i < conns.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    conns[i].sent = Clock::now();
    const auto& request = conns[i].requests[conns[i].next++ % kRing];
    SendAll(conns[i].fd, request.data(), request.size());
  }
  std::vector<epoll_event> events(conns.size());
  char buf[16384];
  while (Clock::now() < end) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < n; ++e) {
      auto& conn = conns[events[static_cast<size_t>(e)].data.u64];
      const ssize_t got = recv(conn.fd, buf, sizeof(buf), 0);
      if (got <= 0) throw std::runtime_error("connection closed by order-api");
      conn.in.append(buf, static_cast<size_t>(got));
      const int status = TakeResponse(conn.in);
      if (status == 0) continue;
      const auto now = Clock::now();
      if (status == 201) {
        out.latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - conn.sent).count());
      } else {
        out.errors++;
      }
      if (now >= end) continue;
      conn.sent = now;
      const auto& request = conn.requests[conn.next++ % kRing];
      SendAll(conn.fd, request.data(), request.size());
    }
  }
  for (auto& conn : conns) close(conn.fd);
  close(ep);
}

rainbow::order::v1::CreateOrderRequest ToRequest(const RandomOrder& order) {
  rainbow::order::v1::CreateOrderRequest req;
  req.set_customer_id(order.customer);
  req.set_payment_id(order.payment);
  for (auto [p, q] : order.lines) {
    auto* l = req.add_products();
    l->set_product_id(p);
    l->set_quantity(q);
  }
  return req;
}

// --- gRPC, lean: bench/common's nghttp2 client, one connection per client ---

void GrpcLeanThread(const Options& o, int thread, const std::function<void()>& ready,
                    const std::shared_future<Clock::time_point>& end_at, WorkerResult& out) {
  const auto [host, port] = SplitHostPort(o.grpc_addr);
  const std::vector<int> clients = ConnectionsOfThread(o, thread);
  std::vector<std::vector<std::string>> rings(clients.size());  // serialized CreateOrderRequests
  for (size_t i = 0; i < clients.size(); ++i) {
    std::mt19937_64 rng(static_cast<uint64_t>(1000 + clients[i]));  // the same orders as the other clients
    for (int k = 0; k < kRing; ++k) {
      rings[i].push_back(ToRequest(MakeOrder(rng, o)).SerializeAsString());
    }
  }
  std::vector<size_t> next(clients.size(), 0);
  // --grpc-connections N: the thread's clients share its part of N connections as HTTP/2 streams.
  const int shared = std::max(1, o.grpc_connections / o.threads);
  const int connections = std::min(static_cast<int>(clients.size()), shared);
  if (clients.size() % static_cast<size_t>(connections) != 0) {
    throw std::runtime_error("--grpc-connections must split each thread's clients evenly");
  }
  rainbow::bench::GrpcH2Load load(
      host, port, connections, static_cast<int>(clients.size()) / connections,
      [&](int slot, rainbow::bench::UnaryRequest& req) {
        const auto i = static_cast<size_t>(slot);
        req.path = "/rainbow.order.v1.OrderService/CreateOrder";
        req.message = rings[i][next[i]++ % rings[i].size()];
      },
      [&](int, const rainbow::bench::UnaryReply& reply) {
        if (reply.ok) {
          out.latencies_ms.push_back(reply.latency_ms);
        } else {
          out.errors++;
        }
      });
  ready();
  load.Run(end_at.get());
}

// --- gRPC: the async API, one completion queue per thread ---

struct GrpcCall {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<rainbow::order::v1::OrderService::Stub> stub;
  std::vector<rainbow::order::v1::CreateOrderRequest> requests;
  size_t next = 0;
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientAsyncResponseReader<rainbow::order::v1::Order>> reader;
  rainbow::order::v1::Order response;
  grpc::Status status;
  Clock::time_point sent;

  void Start(grpc::CompletionQueue& cq) {
    ctx = std::make_unique<grpc::ClientContext>();
    sent = Clock::now();
    reader = stub->PrepareAsyncCreateOrder(ctx.get(), requests[next++ % requests.size()], &cq);
    reader->StartCall();
    reader->Finish(&response, &status, this);
  }
};

void GrpcThread(const Options& o, const std::vector<std::shared_ptr<grpc::Channel>>& channels, int thread,
                const std::function<void()>& ready, const std::shared_future<Clock::time_point>& end_at,
                WorkerResult& out) {
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<GrpcCall>> calls;
  for (int c : ConnectionsOfThread(o, thread)) {
    auto call = std::make_unique<GrpcCall>();
    call->channel = channels[static_cast<size_t>(c) % channels.size()];
    call->stub = rainbow::order::v1::OrderService::NewStub(call->channel);
    std::mt19937_64 rng(static_cast<uint64_t>(1000 + c));
    call->requests.resize(kRing);
    for (auto& req : call->requests) req = ToRequest(MakeOrder(rng, o));
    calls.push_back(std::move(call));
  }
  // Connect before the clock starts.
  for (auto& call : calls) {
    if (!call->channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      throw std::runtime_error("cannot connect to " + o.grpc_addr);
    }
  }
  ready();
  const auto end = end_at.get();
  for (auto& call : calls) call->Start(cq);
  size_t outstanding = calls.size();
  while (outstanding > 0) {
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) break;
    auto* call = static_cast<GrpcCall*>(tag);
    const auto now = Clock::now();
    if (ok && call->status.ok()) {
      out.latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - call->sent).count());
    } else {
      out.errors++;
    }
    if (now < end) {
      call->Start(cq);
    } else {
      --outstanding;
    }
  }
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
}

// CPU time (user + system) of this process so far: what the generator takes from the machine.
double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
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
  auto replace = [&](const std::string& from, const std::string& to) {  // every occurrence
    auto at = sql.find(from);
    if (at == std::string::npos) throw std::runtime_error("statement has no " + from);
    for (; at != std::string::npos; at = sql.find(from, at + to.size())) sql.replace(at, from.size(), to);
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

ClientThread ChooseClient(const Options& o, const std::vector<std::shared_ptr<grpc::Channel>>& channels) {
  if (o.mode == "rest") return RestThread;
  if (o.grpc_client == "nghttp2") return GrpcLeanThread;
  return [&channels](const Options& opt, int thread, const std::function<void()>& ready,
                     const std::shared_future<Clock::time_point>& end_at,
                     WorkerResult& out) { GrpcThread(opt, channels, thread, ready, end_at, out); };
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
  app.add_option("--threads,-j", o.threads, "event-loop threads the clients are spread over (pgbench -j)")
      ->check(CLI::Range(1, 64));
  app.add_option("--grpc-client", o.grpc_client,
                 "nghttp2 (lean: HTTP/2 framing only, like pgbench's libpq) or grpc++ (the C++ gRPC library)")
      ->check(CLI::IsMember({"nghttp2", "grpc++"}));
  app.add_option(
         "--grpc-connections", o.grpc_connections,
         "HTTP/2 connections the gRPC clients share (default: one per client; the lean client gives each "
         "thread N / threads of them, at least one)")
      ->check(CLI::Range(1, 1024));
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
  // The lean client speaks plaintext HTTP/2 without tokens: against a server with TLS or tokens it
  // would only measure refusals.
  if (o.mode == "grpc" && o.grpc_client != "grpc++") {
    const auto client = rainbow::security::ClientFromProcessEnv();
    if (client.tls() || !client.token.empty()) {
      std::cerr << "order_api_load: GRPC_CLIENT_CA_FILE or GRPC_CLIENT_TOKEN is set, and the lean client has "
                   "neither TLS nor tokens: use --grpc-client grpc++\n";
      return 2;
    }
  }
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);  // see common/grpc
  o.threads = std::min(o.threads, o.concurrency);
  std::vector<WorkerResult> results(static_cast<size_t>(o.threads));
  // By default one channel (so one HTTP/2 connection) per client, as pgbench has one connection per
  // client; --grpc-connections N lets the clients share N connections (HTTP/2 multiplexing).
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  const bool grpcpp = o.mode == "grpc" && o.grpc_client == "grpc++";
  for (int i = 0; i < std::min(o.concurrency, o.grpc_connections) && grpcpp; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);  // no connection sharing between channels
    channels.push_back(
        rainbow::security::Connect(o.grpc_addr, rainbow::security::ClientFromProcessEnv(), args));
  }
  const ClientThread client = ChooseClient(o, channels);
  std::vector<std::thread> workers;
  // Every thread connects and builds its requests first; the clock starts when all are ready.
  std::latch ready(o.threads);
  std::promise<Clock::time_point> end_promise;
  std::shared_future<Clock::time_point> end_future = end_promise.get_future().share();
  std::atomic<bool> failed{false};
  for (int t = 0; t < o.threads; ++t) {
    workers.emplace_back([&, t] {
      bool counted = false;  // a thread failing before it is ready must not hold the others up
      auto set_ready = [&] {
        counted = true;
        ready.count_down();
      };
      try {
        client(o, t, set_ready, end_future, results[static_cast<size_t>(t)]);
      } catch (const std::exception& e) {
        std::cerr << "order_api_load: " << e.what() << std::endl;
        failed = true;
        if (!counted) ready.count_down();
      }
    });
  }
  ready.wait();
  const auto start = Clock::now();
  end_promise.set_value(
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds)));
  for (auto& w : workers) w.join();
  if (failed) return 1;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  int64_t errors = 0;
  for (auto& r : results) {
    all.insert(all.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    errors += r.errors;
  }
  const double tps = static_cast<double>(all.size()) / elapsed;
  nlohmann::json report{{"mode", o.mode},
                        {"grpc_client", o.mode == "grpc" ? o.grpc_client : ""},
                        {"concurrency", o.concurrency},
                        {"seconds", elapsed},
                        {"orders", all.size()},
                        {"errors", errors},
                        {"tps", tps},
                        {"p50_ms", Percentile(all, 0.50)},
                        {"p99_ms", Percentile(all, 0.99)},
                        {"client_cpu_s", CpuSeconds()}};
  std::cout << report.dump() << std::endl;
  return errors > 0 && all.empty() ? 1 : 0;
}
