#include "services/order-api/src/request_id.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <random>

namespace rainbow::order {
namespace {

bool PlainId(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

std::string RequestIdOrNew(std::string_view sent) {
  return PlainId(sent) ? std::string(sent) : NewRequestId();
}

std::string NewRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  uint64_t v = rng();
  for (auto& c : id) {
    c = kHex[v & 0xF];
    v >>= 4;
  }
  return id;
}

}  // namespace rainbow::order
