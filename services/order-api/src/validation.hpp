#pragma once

#include <optional>

#include "services/order-api/src/order_types.hpp"

namespace rainbow::order {

struct Limits {
  int max_lines = 100;
  int max_quantity = 10'000;
  int max_page = 1'000;
  size_t max_idempotency_key = 255;
};

// Checks a create request before any SQL runs: ids positive, 1..max_lines lines, quantities in
// 1..max_quantity, a key (when given) of 1..max_idempotency_key visible ASCII characters. The first problem
// found is returned, naming the field as the REST body spells it (customerId, payment_id,
// products[i].productId, products[i].quantity).
std::optional<ApiError> ValidateCreate(const CreateOrderInput& input, const Limits& limits);
std::optional<ApiError> ValidateList(const ListQuery& query, const Limits& limits);

// A stable digest of what a create request asks for: a retried request with the same Idempotency-Key
// must ask for the same thing.
std::string RequestFingerprint(const CreateOrderInput& input);

}  // namespace rainbow::order
