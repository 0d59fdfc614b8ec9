#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace rainbow::order {

struct LineInput {
  int64_t product_id = 0;
  int32_t quantity = 0;
};

struct CreateOrderInput {
  int64_t customer_id = 0;
  int64_t payment_id = 0;
  std::vector<LineInput> lines;
  std::string idempotency_key;         // empty: not idempotent
  bool idempotency_key_given = false;  // the client sent a key, maybe an empty one (a 400)
};

// Money is exact: integer cents (NUMERIC(12,2) in PostgreSQL), formatted "12.50" at the edges.
struct OrderLine {
  int32_t line_no = 0;
  int64_t product_id = 0;
  int32_t quantity = 0;
  int64_t unit_price_cents = 0;
  int64_t discount_unit_price_cents = 0;
  std::optional<int64_t> promotion_id;

  int64_t net_unit_price_cents() const { return unit_price_cents - discount_unit_price_cents; }
};

struct Order {
  int64_t id = 0;
  int64_t customer_id = 0;
  int64_t payment_id = 0;
  std::string status;
  std::string created_at;  // RFC 3339, UTC
  std::vector<OrderLine> lines;

  int64_t total_cents() const;     // sum(quantity * unit price)
  int64_t discount_cents() const;  // sum(quantity * discount per unit)
  int64_t net_cents() const { return total_cents() - discount_cents(); }
};

struct ListQuery {
  int32_t limit = 50;
  int64_t after = 0;  // cursor: orders with a greater id
  std::optional<int64_t> customer_id;
};

struct OrderPage {
  std::vector<Order> orders;
  int64_t next_after = 0;  // 0: no further page
};

// What went wrong, in the terms of the API (mapped to HTTP and gRPC codes in error_mapping.cpp).
enum class ErrorCode {
  kInvalidArgument,  // the request is wrong; `field` names the culprit
  kNotFound,
  kIdempotencyConflict,  // an Idempotency-Key reused for a different request
  kUnavailable,          // the database cannot be reached right now, nothing was written; retry later
  // The connection was lost after the create was sent: the order may or may not exist. Not UNAVAILABLE
  // / 503, which clients retry blindly (a duplicate order); UNKNOWN / 500, retried safely only with
  // the same Idempotency-Key.
  kOutcomeUnknown,
  kInternal,
};

struct ApiError {
  ErrorCode code = ErrorCode::kInternal;
  std::string field;  // e.g. "products[2].quantity"; empty when not about one field
  std::string message;
  std::string subject = {};  // what it is about, by value: the order id not found, the key reused
};

// A call's result: the value, or the API error (order-api returns errors, it does not throw them).
template <typename T>
using ApiResult = std::variant<T, ApiError>;

struct CreateResult {
  Order order;
  bool replayed = false;  // true: an idempotent retry, nothing new was created
};

// "12.50" <-> 1250. Parse accepts what PostgreSQL prints for NUMERIC(12,2) (and up to 2 decimals).
std::string FormatCents(int64_t cents);
std::optional<int64_t> ParseCents(std::string_view text);

}  // namespace rainbow::order
