#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rainbow::security {

// Who a caller is once authenticated, and what it may do. `name` is what logs show (never the token).
struct Principal {
  std::string name;
  std::vector<std::string> scopes;  // "*" grants every scope
  bool HasScope(std::string_view scope) const;
};

// The parsed AUTH_TOKENS_FILE. One entry per line, '#' starts a comment:
//   token <name> <scope>[,<scope>...] <secret>   a bearer token (secret: 16 to 4096 printable bytes)
//   mtls  <common-name> <scope>[,<scope>...]     a client certificate's verified subject CN
// Only SHA-256 digests of the secrets are kept; a lookup compares the presented token's digest with
// every entry in constant time, so neither the match nor its position leaks through timing.
// Immutable after construction; safe to share between threads.
class TokenTable {
 public:
  // Throws std::runtime_error naming the line (and never the secret) on a malformed file.
  static TokenTable Parse(std::string_view text);
  static TokenTable Load(const std::string& path);

  // nullptr when no token matches.
  const Principal* FindToken(std::string_view token) const;
  // nullptr when no `mtls` line names this common name.
  const Principal* FindIdentity(std::string_view common_name) const;
  size_t token_count() const { return tokens_.size(); }

 private:
  struct TokenEntry {
    std::array<uint8_t, 32> digest;
    Principal principal;
  };
  std::vector<TokenEntry> tokens_;
  std::vector<Principal> identities_;
};

}  // namespace rainbow::security
