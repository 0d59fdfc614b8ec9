#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace rainbow::cdc {

// A WAL position (XLogRecPtr). PostgreSQL prints it as two hex halves "16/B374D848".
class Lsn {
 public:
  constexpr Lsn() = default;
  constexpr explicit Lsn(uint64_t value) : value_(value) {}
  constexpr uint64_t value() const { return value_; }
  constexpr bool valid() const { return value_ != 0; }
  auto operator<=>(const Lsn&) const = default;

  std::string ToString() const;
  // Parses "X/Y"; nullopt for anything else.
  static std::optional<Lsn> Parse(std::string_view text);

 private:
  uint64_t value_ = 0;
};

// "16/B374D848" in logs and in test failure messages (gtest would print the raw bytes otherwise).
inline std::ostream& operator<<(std::ostream& out, const Lsn& lsn) { return out << lsn.ToString(); }

}  // namespace rainbow::cdc
