#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rainbow::order {

// The request path, percent-decoded; nullopt when an escape is malformed (`%4`, `%zz`) or decodes to a
// control byte (NUL among them). civetweb's own decoding is off because it turns `%00` into the end of
// the string: `/api/v1/orders/%00` would route as the order list.
std::optional<std::string> DecodeUrlPath(std::string_view raw);

}  // namespace rainbow::order
