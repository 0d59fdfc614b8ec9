#pragma once

#include <sys/types.h>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/security/security_config.hpp"
#include "common/security/token_table.hpp"

namespace rainbow::security {

enum class Verdict { kAllowed, kUnauthenticated, kPermissionDenied };

struct Decision {
  Verdict verdict = Verdict::kAllowed;
  std::string principal;  // who asked ("" when unknown); never a token
  std::string reason;     // for the caller and the log; never a token
  bool allowed() const { return verdict == Verdict::kAllowed; }
};

// Decides whether a caller may use a scope: a bearer token from AUTH_TOKENS_FILE, or else (when the
// file lists it) the common name of a client certificate the TLS layer verified. When authentication
// is off every call is allowed. The file is re-read when it changes (checked at most once a second,
// on use); a version that does not parse is refused with an error log and the last good one stays.
// Thread-safe; owned by the service's main and shared by its gRPC and REST front ends.
class Authorizer {
 public:
  // Throws std::runtime_error when the file cannot be read or parsed.
  explicit Authorizer(AuthConfig config);

  bool enabled() const { return config_.enabled(); }
  // authorization: the Authorization header or metadata value, if sent ("Bearer <token>").
  // peer_common_names: the subject CNs of a client certificate the TLS layer verified.
  Decision Decide(std::optional<std::string_view> authorization,
                  const std::vector<std::string>& peer_common_names, std::string_view scope) const;

 private:
  struct FileVersion {
    ino_t inode = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileVersion&) const = default;
  };
  static std::optional<FileVersion> VersionOf(const std::string& path);
  std::shared_ptr<const TokenTable> Current() const;

  const AuthConfig config_;
  mutable std::mutex mu_;  // the fields below
  mutable std::shared_ptr<const TokenTable> table_;
  mutable std::chrono::steady_clock::time_point next_check_{};
  mutable FileVersion version_;
};

}  // namespace rainbow::security
