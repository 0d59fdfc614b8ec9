#include "services/order-api/src/order_types.hpp"

#include <charconv>
#include <cstdlib>

namespace rainbow::order {

int64_t Order::total_cents() const {
  int64_t sum = 0;
  for (const auto& l : lines) sum += l.unit_price_cents * l.quantity;
  return sum;
}

int64_t Order::discount_cents() const {
  int64_t sum = 0;
  for (const auto& l : lines) sum += l.discount_unit_price_cents * l.quantity;
  return sum;
}

std::string FormatCents(int64_t cents) {
  const bool negative = cents < 0;
  const uint64_t abs = negative ? static_cast<uint64_t>(-(cents + 1)) + 1 : static_cast<uint64_t>(cents);
  std::string frac = std::to_string(abs % 100);
  if (frac.size() < 2) frac.insert(0, "0");
  return (negative ? "-" : "") + std::to_string(abs / 100) + "." + frac;
}

std::optional<int64_t> ParseCents(std::string_view text) {
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() || frac.size() > 2) return std::nullopt;
  int64_t units = 0;
  auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), units);
  if (ec != std::errc() || p != whole.data() + whole.size()) return std::nullopt;
  int64_t cents = 0;
  if (!frac.empty()) {
    auto [q, ec2] = std::from_chars(frac.data(), frac.data() + frac.size(), cents);
    if (ec2 != std::errc() || q != frac.data() + frac.size()) return std::nullopt;
    if (frac.size() == 1) cents *= 10;
  }
  const int64_t value = units * 100 + cents;
  return negative ? -value : value;
}

}  // namespace rainbow::order
