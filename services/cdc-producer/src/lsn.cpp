#include "services/cdc-producer/src/lsn.hpp"

#include <charconv>
#include <cstdio>

namespace rainbow::cdc {

std::string Lsn::ToString() const {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%X/%X", static_cast<unsigned>(value_ >> 32),
                static_cast<unsigned>(value_ & 0xffffffffu));
  return buf;
}

std::optional<Lsn> Lsn::Parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) return std::nullopt;
  uint32_t hi = 0;
  uint32_t lo = 0;
  const auto a = std::from_chars(text.data(), text.data() + slash, hi, 16);
  if (a.ec != std::errc() || a.ptr != text.data() + slash) return std::nullopt;
  const auto b = std::from_chars(text.data() + slash + 1, text.data() + text.size(), lo, 16);
  if (b.ec != std::errc() || b.ptr != text.data() + text.size()) return std::nullopt;
  return Lsn((static_cast<uint64_t>(hi) << 32) | lo);
}

}  // namespace rainbow::cdc
