#include "services/order-api/src/rest_server.hpp"

#include <CivetServer.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/logging/log.hpp"
#include "common/ops/ops_http_server.hpp"
#include "services/order-api/src/request_id.hpp"
#include "services/order-api/src/url_path.hpp"

namespace rainbow::order {
namespace {

// The methods CivetHandler has a hook for (the handle* overrides below).
bool HasHandlerHook(std::string_view method) {
  for (std::string_view m : {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}) {
    if (method == m) return true;
  }
  return false;
}

// The method as a metric label: the standard ones as they are, anything else as OTHER, so a client
// sending made-up methods cannot grow the label set without bound.
std::string MethodLabel(const std::string& method) {
  const bool standard = HasHandlerHook(method) || method == "TRACE" || method == "CONNECT";
  return standard ? method : "OTHER";
}

}  // namespace

class RestServer::Router final : public CivetHandler {
 public:
  Router(RestConfig config, OrderService& service, OrderMetrics& metrics)
      : config_(std::move(config)),
        routes_(service, config_.max_body_bytes, config_.version, config_.auth),
        metrics_(metrics) {}

  // From now on requests are answered 503 without being routed; the ones already routed finish.
  void BeginDrain() { draining_.store(true); }
  int in_flight() const { return in_flight_.load(); }

  bool handleGet(CivetServer*, mg_connection* c) override { return Handle(c, "GET"); }
  bool handlePost(CivetServer*, mg_connection* c) override { return Handle(c, "POST"); }
  bool handlePut(CivetServer*, mg_connection* c) override { return Handle(c, "PUT"); }
  bool handleDelete(CivetServer*, mg_connection* c) override { return Handle(c, "DELETE"); }
  bool handlePatch(CivetServer*, mg_connection* c) override { return Handle(c, "PATCH"); }
  bool handleHead(CivetServer*, mg_connection* c) override { return Handle(c, "HEAD"); }
  bool handleOptions(CivetServer*, mg_connection* c) override { return Handle(c, "OPTIONS"); }

  // civetweb answers some requests itself: a method CivetHandler has no hook for comes back as its
  // 404 (PROPFIND) or 400 (TRACE, made-up names), and a request it cannot parse as 400 or 413. Those
  // get our JSON error too: such a method goes through the router (405 with Allow on a known route,
  // 404 elsewhere), anything else names civetweb's reason.
  void HandleCivetError(mg_connection* conn, int status, const char* message) {
    const mg_request_info* ri = mg_get_request_info(conn);
    if (ri != nullptr && ri->request_method != nullptr && !HasHandlerHook(ri->request_method)) {
      // Methods civetweb refuses to parse leave only the raw request URI behind.
      const char* uri = ri->local_uri != nullptr ? ri->local_uri : ri->request_uri;
      if (uri != nullptr) {
        const std::string_view raw(uri);
        Handle(conn, ri->request_method, std::string(raw.substr(0, raw.find('?'))));
        return;
      }
    }
    const std::string request_id = NewRequestId();
    const HttpResponse r = ErrorResponse(
        status, message != nullptr && *message != '\0' ? message : mg_get_response_code_text(conn, status),
        request_id);
    Send(conn, r, request_id, false);
    const std::string method = ri != nullptr && ri->request_method != nullptr ? ri->request_method : "";
    metrics_.ObserveHttp("unmatched", MethodLabel(method), r.status, std::chrono::nanoseconds(0));
    log::Warn("http request rejected before routing",
              {{"request_id", request_id}, {"status", status}, {"error", r.error}});
  }

 private:
  // `uri`: the path when civetweb did not decode one (see HandleCivetError).
  bool Handle(mg_connection* conn, const std::string& method, std::optional<std::string> uri = std::nullopt) {
    const auto start = std::chrono::steady_clock::now();
    const HttpRequest request = ReadRequest(conn, method, std::move(uri));
    const char* sent_id = mg_get_header(conn, "X-Request-Id");
    const std::string request_id = RequestIdOrNew(sent_id ? std::string_view(sent_id) : std::string_view());

    std::string route = "unmatched";
    HttpResponse r;
    // Counted before the drain flag is read (both seq_cst): Stop either sees this request or the
    // request sees the flag.
    const int in_flight = in_flight_.fetch_add(1) + 1;
    struct Leave {
      std::atomic<int>& count;
      ~Leave() { count.fetch_sub(1); }
    } leave{in_flight_};
    try {
      if (draining_.load()) {
        r = ErrorResponse(503, "shutting down; retry on another replica", request_id);
      } else if (in_flight > config_.max_in_flight) {
        r = ErrorResponse(
            429, "too many requests in progress (" + std::to_string(config_.max_in_flight) + "); retry later",
            request_id);
        r.headers.emplace_back("Retry-After", "1");
      } else if (request.path.empty()) {
        r = ErrorResponse(400, "the path has a malformed percent-escape or encodes a control byte",
                          request_id);
      } else {
        r = routes_.Handle(request, request_id, route);
      }
    } catch (const std::exception& e) {
      log::Error("request failed", {{"request_id", request_id}, {"error", e.what()}});
      r = ErrorResponse(ApiError{ErrorCode::kInternal, "", "internal error"}, request_id);
    }
    Send(conn, r, request_id, method == "HEAD");

    const auto took = std::chrono::steady_clock::now() - start;
    metrics_.ObserveHttp(route, MethodLabel(method), r.status, took);
    if (config_.access_log) {
      log::Info("http request",
                {{"request_id", request_id},
                 {"method", method},
                 {"route", route},
                 {"path", request.path},
                 {"status", r.status},
                 {"duration_ms", std::chrono::duration<double, std::milli>(took).count()},
                 {"order_id", r.order_id > 0 ? log::Value(r.order_id) : log::Value::Omitted()},
                 {"error", r.error.empty() ? log::Value::Omitted() : log::Value(r.error)}});
    }
    return true;
  }

  // The request as the routes see it; the body is read from the connection only when a route asks.
  static HttpRequest ReadRequest(mg_connection* conn, const std::string& method,
                                 std::optional<std::string> uri) {
    const mg_request_info* ri = mg_get_request_info(conn);
    HttpRequest request;
    request.method = method;
    // Decoded here (civetweb's decode_url is off, see url_path.hpp); empty when it cannot be.
    request.path = DecodeUrlPath(uri ? *uri : ri->local_uri != nullptr ? ri->local_uri : "/").value_or("");
    while (request.path.size() > 1 && request.path.back() == '/') request.path.pop_back();
    if (ri->query_string != nullptr) request.query = ri->query_string;
    if (const char* type = mg_get_header(conn, "Content-Type")) request.content_type = type;
    if (const char* key = mg_get_header(conn, "Idempotency-Key")) request.idempotency_key = key;
    if (const char* auth = mg_get_header(conn, "Authorization")) request.authorization = auth;
    request.content_length = ri->content_length;
    request.read_body = [conn](std::string& out, size_t max) {
      char buf[8192];
      for (;;) {
        const int n = mg_read(conn, buf, sizeof(buf));
        if (n <= 0) return true;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > max) return false;
      }
    };
    return request;
  }

  static void Send(mg_connection* conn, const HttpResponse& r, const std::string& request_id,
                   bool head_only) {
    std::string head =
        "HTTP/1.1 " + std::to_string(r.status) + " " + mg_get_response_code_text(conn, r.status) +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(r.body.size()) +
        "\r\nX-Request-Id: " + request_id + "\r\n";
    for (const auto& [k, v] : r.headers) head += k + ": " + v + "\r\n";
    head += "\r\n";
    // One write: a header and body sent separately meet Nagle's algorithm and delayed ACKs (~40 ms).
    if (!head_only) head += r.body;
    mg_write(conn, head.data(), head.size());
  }

  RestConfig config_;
  RestRoutes routes_;
  OrderMetrics& metrics_;
  std::atomic<int> in_flight_{0};
  std::atomic<bool> draining_{false};
};

RestServer::RestServer(RestConfig config, OrderService& service, OrderMetrics& metrics) {
  auto [host, port] = ops::SplitHostPort(config.addr, "ORDER_API_REST_ADDR");
  const std::vector<std::string> options = {"listening_ports", host + ":" + std::to_string(port),
                                            "num_threads", std::to_string(config.threads),
                                            "enable_keep_alive", "yes", "keep_alive_timeout_ms", "15000",
                                            "tcp_nodelay", "1", "request_timeout_ms", "30000",
                                            // The path is decoded by DecodeUrlPath: civetweb's decoding
                                            // ends the path at a %00.
                                            "decode_url", "no"};
  router_ = std::make_unique<Router>(std::move(config), service, metrics);
  CivetCallbacks callbacks;  // copied by civetweb
  // civetweb's own errors (a TLS setup that fails, above all) would otherwise go nowhere.
  callbacks.log_message = [](const mg_connection*, const char* message) {
    log::Warn("civetweb", {{"error", std::string(message != nullptr ? message : "")}});
    return 1;
  };
  callbacks.http_error = [](mg_connection* conn, int status, const char* message) {
    const auto* server = static_cast<const CivetServer*>(mg_get_user_data(mg_get_context(conn)));
    auto* router =
        server != nullptr ? static_cast<Router*>(const_cast<void*>(server->getUserContext())) : nullptr;
    if (router == nullptr) return 1;  // not ours (cannot happen): civetweb's own page
    router->HandleCivetError(conn, status, message);
    return 0;
  };
  try {
    server_ = std::make_unique<CivetServer>(options, &callbacks, router_.get());
  } catch (const CivetException& e) {
    throw std::runtime_error("cannot serve REST on " + host + ":" + std::to_string(port) + ": " + e.what());
  }
  server_->addHandler("/", *router_);
  const auto ports = server_->getListeningPorts();
  port_ = ports.empty() ? port : ports.front();
  log::Info("rest server listening", {{"addr", host}, {"port", port_}});
}

RestServer::~RestServer() { Stop(std::chrono::milliseconds(0)); }

void RestServer::Stop(std::chrono::milliseconds drain) {
  if (!server_) return;
  // civetweb's own stop drops every write from the moment it begins, so a request still in a
  // handler would lose its answer (the order written, the client told nothing). Drain first.
  router_->BeginDrain();
  const auto deadline = std::chrono::steady_clock::now() + drain;
  while (router_->in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (const int left = router_->in_flight(); left > 0) {
    log::Warn("rest requests still running at the end of the drain", {{"requests", left}});
  }
  server_->close();  // stops accepting and joins the worker threads
  server_.reset();
}

}  // namespace rainbow::order
