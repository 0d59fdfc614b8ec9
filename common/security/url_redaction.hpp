#pragma once

#include <string>
#include <string_view>

namespace rainbow::security {

// `scheme://user:password@host/...` -> `scheme://user:***@host/...`; anything else unchanged. For
// every URL that may reach a log line, an error message or /readyz (REDIS_URL, S3_ENDPOINT, ...).
std::string RedactUrl(std::string_view url);

// libpq `password=...` (keyword form) and `postgresql://user:pass@` (URI form) -> password hidden.
std::string RedactDsn(std::string_view dsn);

}  // namespace rainbow::security
