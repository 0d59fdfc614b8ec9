#include "common/security/token_table.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "common/crypto/sha256.hpp"

namespace rainbow::security {

namespace {

constexpr size_t kMinSecret = 16;  // shorter tokens are guessable; refusing them beats warning
constexpr size_t kMaxSecret = 4096;

bool ValidScope(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == ':' || c == '_' || c == '-' || c == '.' || c == '*';
  });
}

std::vector<std::string> ParseScopes(const std::string& field, size_t line_no) {
  std::vector<std::string> scopes;
  std::stringstream in(field);
  std::string scope;
  while (std::getline(in, scope, ',')) {
    if (!ValidScope(scope)) {
      throw std::runtime_error("line " + std::to_string(line_no) + ": '" + scope +
                               "' is not a scope (lower-case letters, digits, ':', '_', '-', '.', or '*')");
    }
    scopes.push_back(scope);
  }
  if (scopes.empty()) throw std::runtime_error("line " + std::to_string(line_no) + ": no scopes");
  return scopes;
}

}  // namespace

bool Principal::HasScope(std::string_view scope) const {
  return std::any_of(scopes.begin(), scopes.end(),
                     [&](const std::string& s) { return s == "*" || s == scope; });
}

TokenTable TokenTable::Parse(std::string_view text) {
  TokenTable table;
  std::set<std::string> names;
  std::set<std::array<uint8_t, 32>> digests;
  std::stringstream in{std::string(text)};
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::stringstream fields(line);
    std::string kind, name, scopes, secret, extra;
    if (!(fields >> kind)) continue;  // blank or comment
    const std::string where = "line " + std::to_string(line_no) + ": ";
    if (kind == "token") {
      if (!(fields >> name >> scopes >> secret) || (fields >> extra)) {
        throw std::runtime_error(where + "expected 'token <name> <scopes> <secret>'");
      }
      if (secret.size() < kMinSecret || secret.size() > kMaxSecret) {
        throw std::runtime_error(where + "the secret of token '" + name + "' must be 16 to 4096 bytes long");
      }
      const auto digest = crypto::Sha256Of(secret);
      if (!digests.insert(digest).second) {
        throw std::runtime_error(where + "token '" + name + "' repeats the secret of an earlier token");
      }
      table.tokens_.push_back({digest, {name, ParseScopes(scopes, line_no)}});
    } else if (kind == "mtls") {
      if (!(fields >> name >> scopes) || (fields >> extra)) {
        throw std::runtime_error(where + "expected 'mtls <common-name> <scopes>'");
      }
      table.identities_.push_back({name, ParseScopes(scopes, line_no)});
    } else {
      throw std::runtime_error(where + "unknown kind '" + kind + "' (token or mtls)");
    }
    if (!names.insert(kind + ":" + name).second) {
      throw std::runtime_error(where + kind + " '" + name + "' is listed twice");
    }
  }
  if (table.tokens_.empty() && table.identities_.empty()) {
    throw std::runtime_error("no token or mtls entry (an empty file would lock every caller out)");
  }
  return table;
}

TokenTable TokenTable::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str());
}

const Principal* TokenTable::FindToken(std::string_view token) const {
  const auto digest = crypto::Sha256Of(token);
  const Principal* found = nullptr;
  // Every entry is compared, match or not: the time taken depends on the table's size only.
  for (const auto& entry : tokens_) {
    const bool same = CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0;
    if (same) found = &entry.principal;
  }
  return found;
}

const Principal* TokenTable::FindIdentity(std::string_view common_name) const {
  for (const auto& p : identities_) {
    if (p.name == common_name) return &p;
  }
  return nullptr;
}

}  // namespace rainbow::security
