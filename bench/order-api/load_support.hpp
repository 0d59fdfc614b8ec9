// What order_api_load's clients share: options, random orders, per-thread results.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench/common/grpc_h2_load.hpp"

namespace rainbow::order::load {

using Clock = rainbow::bench::Clock;  // the lean gRPC client takes its end time

struct Options {
  std::string mode = "rest";
  std::string grpc_client = "nghttp2";  // nghttp2 (lean, like pgbench's libpq) or grpc++ (the C++ library)
  std::string url = "http://127.0.0.1:8080";
  std::string grpc_addr = "127.0.0.1:50051";
  int concurrency = 8;
  int threads = 2;
  // HTTP/2 connections the gRPC clients share; capped to the concurrency (one per client, the default).
  int grpc_connections = 1 << 30;
  double seconds = 10;
  int customers = 2000;
  int products = 5000;
  int payments = 6;
};

// What one thread measured. Owned by main, written only by its thread until that thread is joined.
struct WorkerResult {
  std::vector<double> latencies_ms;
  int64_t errors = 0;
};

struct RandomOrder {
  int64_t customer, payment;
  std::vector<std::pair<int64_t, int>> lines;  // product id, quantity
};

// Requests are built before the clock starts (a ring of random orders per connection), so the
// generator spends its CPU on sending, as pgbench does, not on formatting.
constexpr int kRing = 512;

// The signature every client's thread body has: build requests, connect, call `ready`, wait for
// `end_at`, then drive its connections until that time.
using ClientThread = std::function<void(const Options&, int thread, const std::function<void()>& ready,
                                        const std::shared_future<Clock::time_point>& end_at, WorkerResult&)>;

RandomOrder MakeOrder(std::mt19937_64& rng, const Options& o);

// The client indexes thread `thread` drives (clients are spread round robin, as pgbench -j does).
std::vector<int> ConnectionsOfThread(const Options& o, int thread);

}  // namespace rainbow::order::load
