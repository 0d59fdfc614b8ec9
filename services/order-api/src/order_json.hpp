#pragma once

#include <string>
#include <string_view>

#include "services/order-api/src/order_types.hpp"

namespace rainbow::order {

// REST bodies. The request shape is the seed's:
//   {"customerId": 1, "payment_id": 2, "products": [{"productId": 3, "quantity": 1}]}
// Types are strict (an id must be a JSON integer, not "1" or 1.5); unknown fields are ignored.
ApiResult<CreateOrderInput> ParseCreateOrder(std::string_view body);

std::string OrderToJson(const Order& order);
std::string PageToJson(const OrderPage& page);
std::string ErrorToJson(const ApiError& error, const std::string& request_id);

// Parses a positive or zero decimal integer that fits int64 ("12"; not "+1", "1e3", "01x").
std::optional<int64_t> ParseId(std::string_view text);

}  // namespace rainbow::order
