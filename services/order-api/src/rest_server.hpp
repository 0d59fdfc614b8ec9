#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/security/authorizer.hpp"
#include "services/order-api/src/metrics.hpp"
#include "services/order-api/src/order_service.hpp"
#include "services/order-api/src/rest_routes.hpp"

class CivetServer;

namespace rainbow::order {

struct RestConfig {
  std::string addr;  // host:port
  int threads = 16;
  size_t max_body_bytes = 64 * 1024;
  bool access_log = true;
  std::string version;
  const security::Authorizer* auth = nullptr;  // must outlive the server; nullptr = no authentication
  // Requests handled at once (civetweb's threads serve connections, most of them idle keep-alives);
  // one more is answered 429 with Retry-After at once, instead of piling onto a busy database.
  int max_in_flight = 32;
};

// The HTTP plumbing of the seed's REST API (the routes themselves are RestRoutes), on civetweb:
//   GET /ping, GET /, GET /api/v1/orders (limit, after, customerId), POST /api/v1/orders,
//   GET /api/v1/orders/:id.
// Every response is JSON; errors are {"error","field"?,"requestId"}. More than config.max_in_flight
// requests at once: 429 with Retry-After. Each request gets an id (from
// X-Request-Id when the client sends a sane one) echoed in the response and in the access log.
// Owns its civetweb worker threads. Plaintext only: Debian's civetweb loads OpenSSL 3 at run time and
// fails on a symbol OpenSSL 3 no longer exports (SSL_get_peer_certificate), so HTTPS is terminated in
// front of it (the Kubernetes Ingress, or any TLS proxy); see the README's security section.
class RestServer {
 public:
  RestServer(RestConfig config, OrderService& service, OrderMetrics& metrics);
  ~RestServer();
  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  int port() const { return port_; }
  // Graceful stop: new requests get 503 while the ones already being handled finish (up to `drain`),
  // then the listener closes and the workers end. The destructor stops without draining.
  void Stop(std::chrono::milliseconds drain);

 private:
  class Router;
  std::unique_ptr<Router> router_;
  std::unique_ptr<CivetServer> server_;
  int port_ = 0;
};

}  // namespace rainbow::order
