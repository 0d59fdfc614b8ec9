#include "common/security/authorizer.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <stdexcept>

#include "common/logging/log.hpp"

namespace rainbow::security {

namespace {

std::optional<std::string_view> BearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {  // the scheme is case-insensitive (RFC 7235)
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  auto token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

}  // namespace

std::optional<Authorizer::FileVersion> Authorizer::VersionOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileVersion{st.st_ino, st.st_size, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec};
}

Authorizer::Authorizer(AuthConfig config) : config_(std::move(config)) {
  if (config_.enabled()) {
    table_ = std::make_shared<const TokenTable>(TokenTable::Load(config_.tokens_file));
    version_ = VersionOf(config_.tokens_file).value_or(FileVersion{});
    next_check_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    log::Info("authentication on", {{"tokens", table_->token_count()}});
  }
}

std::shared_ptr<const TokenTable> Authorizer::Current() const {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now < next_check_) return table_;
  next_check_ = now + std::chrono::seconds(1);
  const auto seen = VersionOf(config_.tokens_file);
  if (!seen || *seen == version_) return table_;  // unchanged, or gone mid-rotation: keep the last good
  version_ = *seen;
  try {
    table_ = std::make_shared<const TokenTable>(TokenTable::Load(config_.tokens_file));
    log::Info("tokens file reloaded", {{"tokens", table_->token_count()}});
  } catch (const std::exception& e) {
    log::Error("tokens file not reloaded; the previous version stays in force", {{"error", e.what()}});
  }
  return table_;
}

Decision Authorizer::Decide(std::optional<std::string_view> authorization,
                            const std::vector<std::string>& peer_common_names, std::string_view scope) const {
  if (!enabled()) return {Verdict::kAllowed, "anonymous", ""};
  const auto table = Current();
  const Principal* who = nullptr;
  if (authorization) {
    const auto token = BearerToken(*authorization);
    if (!token) return {Verdict::kUnauthenticated, "", "the Authorization value is not 'Bearer <token>'"};
    who = table->FindToken(*token);
    if (who == nullptr) return {Verdict::kUnauthenticated, "", "unknown bearer token"};
  } else {
    for (const auto& cn : peer_common_names) {
      if ((who = table->FindIdentity(cn)) != nullptr) break;
    }
    if (who == nullptr) return {Verdict::kUnauthenticated, "", "a bearer token is required"};
  }
  if (!who->HasScope(scope)) {
    return {Verdict::kPermissionDenied, who->name, "'" + who->name + "' lacks scope " + std::string(scope)};
  }
  return {Verdict::kAllowed, who->name, ""};
}

}  // namespace rainbow::security
