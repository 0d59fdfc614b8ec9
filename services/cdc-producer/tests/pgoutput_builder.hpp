#pragma once

// Builds pgoutput / CopyData messages byte by byte, as PostgreSQL sends them (tests and corpus only).
#include <cstdint>
#include <string>
#include <vector>

namespace rainbow::cdc::testing {

class Bytes {
 public:
  Bytes& U8(uint8_t v) {
    b_.push_back(v);
    return *this;
  }
  Bytes& U16(uint16_t v) { return Be(v, 2); }
  Bytes& U32(uint32_t v) { return Be(v, 4); }
  Bytes& U64(uint64_t v) { return Be(v, 8); }
  Bytes& Str(const std::string& s) {
    b_.insert(b_.end(), s.begin(), s.end());
    b_.push_back(0);
    return *this;
  }
  Bytes& Raw(const std::string& s) {
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  // One 't' (text) column value; write 'n' (null) and 'u' (unchanged TOAST) with U8.
  Bytes& Text(const std::string& s) {
    U8('t');
    U32(static_cast<uint32_t>(s.size()));
    return Raw(s);
  }
  const std::vector<uint8_t>& bytes() const { return b_; }

 private:
  Bytes& Be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) b_.push_back(static_cast<uint8_t>((v >> (i * 8)) & 0xff));
    return *this;
  }
  std::vector<uint8_t> b_;
};

}  // namespace rainbow::cdc::testing
