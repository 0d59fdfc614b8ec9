#include "common/security/url_redaction.hpp"

#include <regex>

namespace rainbow::security {

std::string RedactUrl(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const auto authority_start = scheme + 3;
  const auto authority_end = url.find_first_of("/?#", authority_start);
  const auto authority =
      url.substr(authority_start, authority_end == std::string_view::npos ? std::string_view::npos
                                                                          : authority_end - authority_start);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  const auto colon = authority.substr(0, at).find(':');
  if (colon == std::string_view::npos) return std::string(url);  // a user name alone is no secret
  std::string out(url.substr(0, authority_start + colon + 1));
  out += "***";
  out += url.substr(authority_start + at);
  return out;
}

std::string RedactDsn(std::string_view dsn) {
  if (dsn.find("://") != std::string_view::npos) return RedactUrl(dsn);
  static const std::regex kPassword(R"((password\s*=\s*)('([^'\\]|\\.)*'|\S+))");
  return std::regex_replace(std::string(dsn), kPassword, "$1***");
}

}  // namespace rainbow::security
