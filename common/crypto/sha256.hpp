#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace rainbow::crypto {

// Incremental SHA-256 (OpenSSL EVP) for streams: checksums are computed while bytes flow, never on a
// second pass. Not thread-safe; movable.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void Update(std::string_view bytes);
  // Finishes the digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> Final();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

std::array<uint8_t, 32> Sha256Of(std::string_view bytes);
std::string Hex(const std::array<uint8_t, 32>& digest);
std::string Base64(const std::array<uint8_t, 32>& digest);
std::string Sha256Hex(std::string_view bytes);
std::string Sha256Base64(std::string_view bytes);
// SHA-1 hex: Redis names Lua scripts by it (EVALSHA).
std::string Sha1Hex(std::string_view bytes);

}  // namespace rainbow::crypto
