#pragma once

#include "services/order-api/src/metrics.hpp"
#include "services/order-api/src/order_store.hpp"
#include "services/order-api/src/validation.hpp"

namespace rainbow::order {

// The one implementation behind REST and gRPC: validate, then store. Thread-safe.
class OrderService {
 public:
  OrderService(OrderStore& store, Limits limits, OrderMetrics& metrics)
      : store_(store), limits_(limits), metrics_(metrics) {}

  ApiResult<CreateResult> Create(const CreateOrderInput& input, const std::string& request_id);
  // Create's first and last steps, for a caller that stores the order its own way (gRPC's event loop):
  // the request's first problem, if any; then the metrics and the log line of what came of it.
  std::optional<ApiError> ValidateCreateInput(const CreateOrderInput& input) const;
  void RecordCreate(const CreateOrderInput& input, const ApiResult<CreateResult>& result,
                    const std::string& request_id);
  ApiResult<Order> Get(int64_t id);
  ApiResult<OrderPage> List(const ListQuery& query);
  const Limits& limits() const { return limits_; }
  OrderStore& store() { return store_; }

 private:
  OrderStore& store_;
  Limits limits_;
  OrderMetrics& metrics_;
};

}  // namespace rainbow::order
