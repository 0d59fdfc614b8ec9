#include "services/order-api/src/validation.hpp"

#include <algorithm>

#include "common/crypto/sha256.hpp"

namespace rainbow::order {
namespace {

ApiError Invalid(std::string field, std::string message) {
  return ApiError{ErrorCode::kInvalidArgument, std::move(field), std::move(message)};
}

}  // namespace

std::optional<ApiError> ValidateCreate(const CreateOrderInput& input, const Limits& limits) {
  if (input.customer_id <= 0) return Invalid("customerId", "customerId must be a positive integer");
  if (input.payment_id <= 0) return Invalid("payment_id", "payment_id must be a positive integer");
  if (input.lines.empty()) return Invalid("products", "products must hold at least one line");
  if (static_cast<int>(input.lines.size()) > limits.max_lines) {
    return Invalid("products", "products may hold at most " + std::to_string(limits.max_lines) + " lines");
  }
  for (size_t i = 0; i < input.lines.size(); ++i) {
    const auto& line = input.lines[i];
    const std::string at = "products[" + std::to_string(i) + "]";
    if (line.product_id <= 0) return Invalid(at + ".productId", at + ".productId must be a positive integer");
    if (line.quantity <= 0 || line.quantity > limits.max_quantity) {
      return Invalid(at + ".quantity",
                     at + ".quantity must be between 1 and " + std::to_string(limits.max_quantity));
    }
  }
  // Visible ASCII only: a key travels in an HTTP header, and bytes the database's encoding rejects
  // would otherwise fail the insert as a server fault.
  const auto& key = input.idempotency_key;
  const bool visible_ascii =
      std::all_of(key.begin(), key.end(), [](char ch) { return ch > ' ' && ch < 0x7f; });
  if ((input.idempotency_key_given || !key.empty()) &&
      (key.empty() || key.size() > limits.max_idempotency_key || !visible_ascii)) {
    return Invalid("Idempotency-Key", "Idempotency-Key must be 1 to " +
                                          std::to_string(limits.max_idempotency_key) +
                                          " visible ASCII characters");
  }
  return std::nullopt;
}

std::optional<ApiError> ValidateList(const ListQuery& query, const Limits& limits) {
  if (query.limit < 1 || query.limit > limits.max_page) {
    return Invalid("limit", "limit must be between 1 and " + std::to_string(limits.max_page));
  }
  if (query.after < 0) return Invalid("after", "after must be a non-negative order id");
  if (query.customer_id && *query.customer_id <= 0) {
    return Invalid("customerId", "customerId must be a positive integer");
  }
  return std::nullopt;
}

std::string RequestFingerprint(const CreateOrderInput& input) {
  std::string canonical = std::to_string(input.customer_id) + "|" + std::to_string(input.payment_id);
  for (const auto& l : input.lines)
    canonical += "|" + std::to_string(l.product_id) + "x" + std::to_string(l.quantity);
  return crypto::Sha256Hex(canonical);
}

}  // namespace rainbow::order
