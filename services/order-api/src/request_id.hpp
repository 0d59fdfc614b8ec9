#pragma once

#include <string>
#include <string_view>

namespace rainbow::order {

// The id that follows one request through the logs (REST's X-Request-Id, gRPC's x-request-id).
// A client-sent id is kept only if it is 1-64 characters of [A-Za-z0-9._-], so logs stay clean and
// an id cannot pose as another field; otherwise (or when none was sent) a new random one is made.
std::string RequestIdOrNew(std::string_view sent);
// 16 random hex digits.
std::string NewRequestId();

}  // namespace rainbow::order
