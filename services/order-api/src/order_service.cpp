#include "services/order-api/src/order_service.hpp"

#include "common/logging/log.hpp"

namespace rainbow::order {

ApiResult<CreateResult> OrderService::Create(const CreateOrderInput& input, const std::string& request_id) {
  if (auto error = ValidateCreate(input, limits_)) return *error;
  // The fingerprint (a SHA-256 of the request) only matters for a keyed request.
  auto result =
      store_.Create(input, input.idempotency_key.empty() ? std::string() : RequestFingerprint(input));
  RecordCreate(input, result, request_id);
  return result;
}

std::optional<ApiError> OrderService::ValidateCreateInput(const CreateOrderInput& input) const {
  return ValidateCreate(input, limits_);
}

void OrderService::RecordCreate(const CreateOrderInput& input, const ApiResult<CreateResult>& result,
                                const std::string& request_id) {
  if (auto* created = std::get_if<CreateResult>(&result)) {
    if (created->replayed) {
      metrics_.idempotent_replays->Increment();
      log::Info("order create replayed", {{"order_id", created->order.id},
                                          {"request_id", request_id},
                                          {"idempotency_key", input.idempotency_key}});
    } else {
      metrics_.orders_created->Increment();
      metrics_.order_lines_created->Increment(static_cast<double>(created->order.lines.size()));
      log::Info("order created", {{"order_id", created->order.id},
                                  {"customer_id", created->order.customer_id},
                                  {"lines", created->order.lines.size()},
                                  {"net_amount", FormatCents(created->order.net_cents())},
                                  {"request_id", request_id}});
    }
  }
}

ApiResult<Order> OrderService::Get(int64_t id) {
  if (id <= 0) return ApiError{ErrorCode::kInvalidArgument, "id", "id must be a positive integer"};
  return store_.Get(id);
}

ApiResult<OrderPage> OrderService::List(const ListQuery& query) {
  if (auto error = ValidateList(query, limits_)) return *error;
  return store_.List(query);
}

}  // namespace rainbow::order
