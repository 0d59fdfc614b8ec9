#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/security/authorizer.hpp"
#include "services/order-api/src/order_service.hpp"
#include "services/order-api/src/order_types.hpp"

namespace rainbow::order {

// One REST request as the routes see it: no civetweb in sight, so every route is testable with a
// plain struct. RestServer fills it from the connection.
struct HttpRequest {
  std::string method;  // as sent (GET, POST, ... or anything)
  std::string path;    // decoded, without trailing slashes ("/" stays)
  std::string query;   // raw query string, not decoded
  std::optional<std::string> content_type;
  std::optional<std::string> idempotency_key;
  std::optional<std::string> authorization;  // the Authorization header
  long long content_length = -1;             // -1: not given (chunked)
  // Appends the body to `out`; false as soon as it grows beyond `max` bytes. Unset: no body.
  std::function<bool(std::string& out, size_t max)> read_body;
};

struct HttpResponse {
  int status = 200;
  std::string body;  // JSON
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t order_id = 0;  // for the access log
  std::string error;     // for the access log
};

// The REST API's routes over OrderService (the seed's, see rest_server.hpp): a request in, a
// response out. Errors are {"error","field"?,"requestId"} with the status of their kind. Thread-safe
// (no state of its own beyond construction).
//
// Authorization (when `auth` is on): GET /ping is open (a probe); every other route needs a bearer
// token: orders:read for GET / and the GET routes, orders:write for
// POST. 401 with WWW-Authenticate when the caller is unknown, 403 when it lacks the scope.
class RestRoutes {
 public:
  // auth: must outlive the routes; nullptr = every request allowed.
  RestRoutes(OrderService& service, size_t max_body_bytes, std::string version,
             const security::Authorizer* auth = nullptr);

  // `route` is set to the matched route's label ("/api/v1/orders/:id"; "unmatched" when none).
  HttpResponse Handle(const HttpRequest& request, const std::string& request_id, std::string& route);

 private:
  HttpResponse Root() const;
  HttpResponse List(const HttpRequest& request, const std::string& request_id);
  HttpResponse Create(const HttpRequest& request, const std::string& request_id);
  HttpResponse Get(const std::string& id_text, const std::string& request_id);
  // The refusal when the request may not use `scope`; nullopt when it may.
  std::optional<HttpResponse> Refusal(const HttpRequest& request, std::string_view scope,
                                      const std::string& request_id) const;

  OrderService& service_;
  const size_t max_body_bytes_;
  const std::string version_;
  const security::Authorizer* auth_;
  const std::chrono::steady_clock::time_point started_;
};

// An error response: the API error's own status, or `status` for errors of the HTTP layer.
HttpResponse ErrorResponse(const ApiError& error, const std::string& request_id);
HttpResponse ErrorResponse(int status, const std::string& message, const std::string& request_id,
                           std::string field = {});

// Content-Type names JSON: application/json or a +json type, any case, parameters (charset) allowed.
bool IsJsonMediaType(std::string_view type);

}  // namespace rainbow::order
