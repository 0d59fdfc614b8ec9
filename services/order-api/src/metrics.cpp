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
    : orders_created(&prometheus::BuildCounter()
                          .Name("order_api_orders_created_total")
                          .Help("Orders created (idempotent replays not counted).")
                          .Register(registry)
                          .Add({})),
      order_lines_created(&prometheus::BuildCounter()
                               .Name("order_api_order_lines_created_total")
                               .Help("Order lines created.")
                               .Register(registry)
                               .Add({})),
      idempotent_replays(
          &prometheus::BuildCounter()
               .Name("order_api_idempotent_replays_total")
               .Help("Create requests answered from an earlier request with the same Idempotency-Key.")
               .Register(registry)
               .Add({})),
      http_requests_(prometheus::BuildCounter()
                         .Name("order_api_http_requests_total")
                         .Help("REST requests by route template, method and status code.")
                         .Register(registry)),
      http_latency_(prometheus::BuildHistogram()
                        .Name("order_api_http_request_duration_seconds")
                        .Help("REST request latency by route template and method.")
                        .Register(registry)),
      grpc_requests_(prometheus::BuildCounter()
                         .Name("order_api_grpc_requests_total")
                         .Help("gRPC requests by method and status code.")
                         .Register(registry)),
      grpc_latency_(prometheus::BuildHistogram()
                        .Name("order_api_grpc_request_duration_seconds")
                        .Help("gRPC request latency by method.")
                        .Register(registry)),
      pool_size_(prometheus::BuildGauge()
                     .Name("order_api_db_pool_size")
                     .Help("Maximum connections of the PostgreSQL pool.")
                     .Register(registry)
                     .Add({})),
      pool_open_(prometheus::BuildGauge()
                     .Name("order_api_db_pool_open_connections")
                     .Help("Open PostgreSQL connections.")
                     .Register(registry)
                     .Add({})),
      pool_in_use_(prometheus::BuildGauge()
                       .Name("order_api_db_pool_in_use_connections")
                       .Help("PostgreSQL connections leased to requests.")
                       .Register(registry)
                       .Add({})),
      pool_waiting_(prometheus::BuildGauge()
                        .Name("order_api_db_pool_waiting_requests")
                        .Help("Requests waiting for a PostgreSQL connection.")
                        .Register(registry)
                        .Add({})),
      loop_connections_(prometheus::BuildGauge()
                            .Name("order_api_create_loop_connections")
                            .Help("Connections of gRPC CreateOrder's event loop: all (size), connected (up), "
                                  "running a statement (busy).")
                            .Register(registry)),
      loop_size_(loop_connections_.Add({{"state", "size"}})),
      loop_up_(loop_connections_.Add({{"state", "up"}})),
      loop_busy_(loop_connections_.Add({{"state", "busy"}})),
      loop_waiting_(prometheus::BuildGauge()
                        .Name("order_api_create_loop_waiting_statements")
                        .Help("Create statements waiting for a connection of the event loop.")
                        .Register(registry)
                        .Add({})) {}

void OrderMetrics::ObserveHttp(const std::string& route, const std::string& method, int status,
                               std::chrono::nanoseconds took) {
  const std::string code = std::to_string(status);
  HttpChildren children;
  {
    std::lock_guard lock(cache_mu_);
    auto [it, inserted] = http_cache_.try_emplace(route + ' ' + method + ' ' + code);
    if (inserted) {
      it->second.requests = &http_requests_.Add({{"route", route}, {"method", method}, {"code", code}});
      it->second.latency = &http_latency_.Add({{"route", route}, {"method", method}}, LatencyBuckets());
    }
    children = it->second;
  }
  children.requests->Increment();
  children.latency->Observe(std::chrono::duration<double>(took).count());
}

void OrderMetrics::ObserveGrpc(const std::string& method, const std::string& code,
                               std::chrono::nanoseconds took) {
  std::pair<prometheus::Counter*, prometheus::Histogram*> children;
  {
    std::lock_guard lock(cache_mu_);
    auto [it, inserted] = grpc_cache_.try_emplace(method + ' ' + code);
    if (inserted) {
      it->second = {&grpc_requests_.Add({{"method", method}, {"code", code}}),
                    &grpc_latency_.Add({{"method", method}}, LatencyBuckets())};
    }
    children = it->second;
  }
  children.first->Increment();
  children.second->Observe(std::chrono::duration<double>(took).count());
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
