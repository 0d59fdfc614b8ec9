#pragma once

#include <chrono>
#include <string>

#include "common/ops/metrics.hpp"
#include "common/pg/pool.hpp"

namespace rainbow::order {

// The metrics order-api owns (children of labelled families looked up once, ops::LabeledMetrics).
// Labels are bounded: route templates (never raw paths), methods, codes.
// Thread-safe (prometheus-cpp metrics are).
class OrderMetrics {
 public:
  explicit OrderMetrics(prometheus::Registry& registry);

  void ObserveHttp(const std::string& route, const std::string& method, int status,
                   std::chrono::nanoseconds took);
  void ObserveGrpc(const std::string& method, const std::string& code, std::chrono::nanoseconds took);
  // Copies the pool's state into gauges (called at scrape time and after each request).
  void ObservePool(const pg::PoolStats& stats);
  // The same for gRPC CreateOrder's event loop (its own connections, pg::EventLoop::Stats).
  void ObserveCreateLoop(int size, int up, int busy, int waiting);

  prometheus::Counter* orders_created;
  prometheus::Counter* order_lines_created;
  prometheus::Counter* idempotent_replays;

 private:
  ops::LabeledMetrics<prometheus::Counter> http_requests_;
  ops::LabeledMetrics<prometheus::Histogram> http_latency_;
  ops::LabeledMetrics<prometheus::Counter> grpc_requests_;
  ops::LabeledMetrics<prometheus::Histogram> grpc_latency_;
  prometheus::Gauge& pool_size_;
  prometheus::Gauge& pool_open_;
  prometheus::Gauge& pool_in_use_;
  prometheus::Gauge& pool_waiting_;
  prometheus::Family<prometheus::Gauge>& loop_connections_;
  prometheus::Gauge& loop_size_;
  prometheus::Gauge& loop_up_;
  prometheus::Gauge& loop_busy_;
  prometheus::Gauge& loop_waiting_;
};

}  // namespace rainbow::order
