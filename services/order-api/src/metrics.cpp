#include "services/order-api/src/metrics.hpp"

namespace rainbow::order {
namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                   0.05,   0.1,   0.25,   0.5,   1,    2.5};
  return kBuckets;
}

}  // namespace

OrderMetrics::OrderMetrics(prometheus::Registry& registry)
    : orders_created(&ops::Counter(registry, "order_api_orders_created_total",
                                   "Orders created (idempotent replays not counted).")),
      order_lines_created(
          &ops::Counter(registry, "order_api_order_lines_created_total", "Order lines created.")),
      idempotent_replays(
          &ops::Counter(registry, "order_api_idempotent_replays_total",
                        "Create requests answered from an earlier request with the same Idempotency-Key.")),
      http_requests_(ops::CounterFamily(registry, "order_api_http_requests_total",
                                        "REST requests by route template, method and status code."),
                     {"route", "method", "code"}),
      http_latency_({"route", "method"},
                    [&family = ops::HistogramFamily(registry, "order_api_http_request_duration_seconds",
                                                    "REST request latency by route template and method.")](
                        const prometheus::Labels& labels) -> prometheus::Histogram& {
                      return family.Add(labels, LatencyBuckets());
                    }),
      grpc_requests_(ops::CounterFamily(registry, "order_api_grpc_requests_total",
                                        "gRPC requests by method and status code."),
                     {"method", "code"}),
      grpc_latency_({"method"},
                    [&family = ops::HistogramFamily(registry, "order_api_grpc_request_duration_seconds",
                                                    "gRPC request latency by method.")](
                        const prometheus::Labels& labels) -> prometheus::Histogram& {
                      return family.Add(labels, LatencyBuckets());
                    }),
      pool_size_(
          ops::Gauge(registry, "order_api_db_pool_size", "Maximum connections of the PostgreSQL pool.")),
      pool_open_(ops::Gauge(registry, "order_api_db_pool_open_connections", "Open PostgreSQL connections.")),
      pool_in_use_(ops::Gauge(registry, "order_api_db_pool_in_use_connections",
                              "PostgreSQL connections leased to requests.")),
      pool_waiting_(ops::Gauge(registry, "order_api_db_pool_waiting_requests",
                               "Requests waiting for a PostgreSQL connection.")),
      loop_connections_(
          ops::GaugeFamily(registry, "order_api_create_loop_connections",
                           "Connections of gRPC CreateOrder's event loop: all (size), connected "
                           "(up), running a statement (busy).")),
      loop_size_(loop_connections_.Add({{"state", "size"}})),
      loop_up_(loop_connections_.Add({{"state", "up"}})),
      loop_busy_(loop_connections_.Add({{"state", "busy"}})),
      loop_waiting_(ops::Gauge(registry, "order_api_create_loop_waiting_statements",
                               "Create statements waiting for a connection of the event loop.")) {}

void OrderMetrics::ObserveHttp(const std::string& route, const std::string& method, int status,
                               std::chrono::nanoseconds took) {
  http_requests_.Get({route, method, std::to_string(status)}).Increment();
  http_latency_.Get({route, method}).Observe(std::chrono::duration<double>(took).count());
}

void OrderMetrics::ObserveGrpc(const std::string& method, const std::string& code,
                               std::chrono::nanoseconds took) {
  grpc_requests_.Get({method, code}).Increment();
  grpc_latency_.Get({method}).Observe(std::chrono::duration<double>(took).count());
}

void OrderMetrics::ObservePool(const pg::PoolStats& stats) {
  pool_size_.Set(stats.size);
  pool_open_.Set(stats.open);
  pool_in_use_.Set(stats.in_use);
  pool_waiting_.Set(stats.waiting);
}

void OrderMetrics::ObserveCreateLoop(int size, int up, int busy, int waiting) {
  loop_size_.Set(size);
  loop_up_.Set(up);
  loop_busy_.Set(busy);
  loop_waiting_.Set(waiting);
}

}  // namespace rainbow::order
