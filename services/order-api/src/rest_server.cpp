#include "services/order-api/src/rest_server.hpp"

#include <CivetServer.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/logging/log.hpp"
#include "common/ops/ops_http_server.hpp"
#include "services/order-api/src/error_mapping.hpp"
#include "services/order-api/src/order_json.hpp"
#include "services/order-api/src/request_id.hpp"

namespace rainbow::order {
namespace {

constexpr const char* kOrdersRoute = "/api/v1/orders";

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 503:
      return "Service Unavailable";
    default:
      return status >= 500 ? "Internal Server Error" : "Error";
  }
}

struct Response {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t order_id = 0;  // for the access log
  std::string error;     // for the access log
};

Response Error(const ApiError& e, const std::string& request_id) {
  return Response{HttpStatus(e.code), ErrorToJson(e, request_id), {}, 0, e.message};
}

Response Error(int status, const std::string& message, const std::string& request_id,
               std::string field = {}) {
  ApiError e{ErrorCode::kInvalidArgument, std::move(field), message};
  return Response{status, ErrorToJson(e, request_id), {}, 0, message};
}

// The query string as name -> value. Every name must be one of `known` and appear once: a misspelled
// filter (customer=5) must not quietly list every customer's orders, nor limit=5&limit=abc pass as 5.
ApiResult<std::map<std::string, std::string>> ParseQuery(const char* query,
                                                         std::initializer_list<std::string_view> known) {
  std::map<std::string, std::string> params;
  std::string_view rest = query != nullptr ? query : "";
  const auto decode = [](std::string_view raw) {
    std::string out(raw.size() + 1, '\0');
    const int n =
        mg_url_decode(raw.data(), static_cast<int>(raw.size()), out.data(), static_cast<int>(out.size()), 1);
    out.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return out;
  };
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (part.empty()) continue;
    const auto eq = part.find('=');
    std::string name = decode(part.substr(0, eq));
    if (name.size() > 64) name = name.substr(0, 64) + "...";
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string names;
      for (auto k : known) names += (names.empty() ? "" : ", ") + std::string(k);
      return ApiError{ErrorCode::kInvalidArgument, name,
                      "unknown query parameter '" + name + "'; known: " + names};
    }
    std::string value = eq == std::string_view::npos ? std::string() : decode(part.substr(eq + 1));
    if (!params.emplace(name, std::move(value)).second) {
      return ApiError{ErrorCode::kInvalidArgument, name, name + " is given more than once"};
    }
  }
  return params;
}

// Content-Type names JSON: application/json or a +json type, any case, parameters (charset) allowed.
bool IsJsonMediaType(std::string_view type) {
  type = type.substr(0, type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  std::string lower(type);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const std::string_view suffix = "+json";
  return lower == "application/json" ||
         (lower.rfind("application/", 0) == 0 && lower.size() > 12 + suffix.size() &&
          lower.compare(lower.size() - suffix.size(), suffix.size(), suffix) == 0);
}

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
        service_(service),
        metrics_(metrics),
        started_(std::chrono::steady_clock::now()) {}

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
    const Response r =
        Error(status, message != nullptr && *message != '\0' ? message : Reason(status), request_id);
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
    const mg_request_info* ri = mg_get_request_info(conn);
    const char* sent_id = mg_get_header(conn, "X-Request-Id");
    const std::string request_id = RequestIdOrNew(sent_id ? std::string_view(sent_id) : std::string_view());
    std::string path = uri ? *uri : ri->local_uri != nullptr ? ri->local_uri : "/";
    while (path.size() > 1 && path.back() == '/') path.pop_back();

    std::string route = "unmatched";
    Response r;
    // Counted before the drain flag is read (both seq_cst): Stop either sees this request or the
    // request sees the flag.
    in_flight_.fetch_add(1);
    struct Leave {
      std::atomic<int>& count;
      ~Leave() { count.fetch_sub(1); }
    } leave{in_flight_};
    try {
      if (draining_.load()) {
        r = Error(503, "shutting down; retry on another replica", request_id);
      } else {
        r = Route(conn, ri, method, path, request_id, route);
      }
    } catch (const std::exception& e) {
      log::Error("request failed", {{"request_id", request_id}, {"error", e.what()}});
      r = Error(ApiError{ErrorCode::kInternal, "", "internal error"}, request_id);
    }
    Send(conn, r, request_id, method == "HEAD");

    const auto took = std::chrono::steady_clock::now() - start;
    metrics_.ObserveHttp(route, MethodLabel(method), r.status, took);
    if (config_.access_log) {
      log::Info("http request",
                {{"request_id", request_id},
                 {"method", method},
                 {"route", route},
                 {"path", path},
                 {"status", r.status},
                 {"duration_ms", std::chrono::duration<double, std::milli>(took).count()},
                 {"order_id", r.order_id > 0 ? log::Value(r.order_id) : log::Value::Omitted()},
                 {"error", r.error.empty() ? log::Value::Omitted() : log::Value(r.error)}});
    }
    return true;
  }

  Response Route(mg_connection* conn, const mg_request_info* ri, const std::string& method,
                 const std::string& path, const std::string& request_id, std::string& route) {
    const std::string orders = kOrdersRoute;
    if (path == "/ping") {
      route = "/ping";
      if (method != "GET" && method != "HEAD") return NotAllowed("GET", request_id);
      return Response{200, R"({"message":"pong"})"};
    }
    if (path == "/") {
      route = "/";
      if (method != "GET" && method != "HEAD") return NotAllowed("GET", request_id);
      const auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
      return Response{
          200, nlohmann::json{{"name", "order-api"}, {"version", config_.version}, {"uptime_seconds", uptime}}
                   .dump()};
    }
    if (path == orders) {
      route = orders;
      if (method == "GET" || method == "HEAD") return List(ri, request_id);
      if (method == "POST") return Create(conn, ri, request_id);
      return NotAllowed("GET, POST", request_id);
    }
    if (path.rfind(orders + "/", 0) == 0) {
      route = orders + "/:id";
      const std::string id_text = path.substr(orders.size() + 1);
      if (id_text.find('/') != std::string::npos) {
        route = "unmatched";
        return Error(404, "route not found: " + path, request_id);
      }
      if (method != "GET" && method != "HEAD") return NotAllowed("GET", request_id);
      // The route answers 200 or 404 only (the seed's codes): a path that cannot name an order
      // (abc, 0, -1, beyond int64) names none.
      auto id = ParseId(id_text);
      if (!id || *id == 0) {
        const std::string shown = id_text.size() > 64 ? id_text.substr(0, 64) + "..." : id_text;
        return Error(404, "order " + shown + " not found (ids are positive integers)", request_id, "id");
      }
      auto got = service_.Get(*id);
      if (auto* e = std::get_if<ApiError>(&got)) return Error(*e, request_id);
      const auto& order = std::get<Order>(got);
      return Response{200, OrderToJson(order), {}, order.id};
    }
    return Error(404, "route not found: " + path, request_id);
  }

  Response NotAllowed(const std::string& allow, const std::string& request_id) {
    Response r = Error(405, "method not allowed; allowed: " + allow, request_id);
    r.headers.emplace_back("Allow", allow);
    return r;
  }

  Response List(const mg_request_info* ri, const std::string& request_id) {
    auto parsed = ParseQuery(ri->query_string, {"limit", "after", "customerId", "customer_id"});
    if (auto* e = std::get_if<ApiError>(&parsed)) return Error(*e, request_id);
    const auto& params = std::get<std::map<std::string, std::string>>(parsed);
    ListQuery q;
    if (auto it = params.find("limit"); it != params.end()) {
      auto n = ParseId(it->second);
      if (!n || *n > 1'000'000)
        return Error(400, "limit must be an integer between 1 and 1000", request_id, "limit");
      q.limit = static_cast<int32_t>(*n);
    }
    if (auto it = params.find("after"); it != params.end()) {
      auto n = ParseId(it->second);
      if (!n) return Error(400, "after must be a non-negative order id", request_id, "after");
      q.after = *n;
    }
    if (params.count("customerId") + params.count("customer_id") > 1) {
      return Error(400, "give customerId or customer_id, not both", request_id, "customerId");
    }
    auto customer = params.find("customerId");
    if (customer == params.end()) customer = params.find("customer_id");
    if (customer != params.end()) {
      auto n = ParseId(customer->second);
      if (!n || *n == 0) return Error(400, "customerId must be a positive integer", request_id, "customerId");
      q.customer_id = *n;
    }
    auto page = service_.List(q);
    if (auto* e = std::get_if<ApiError>(&page)) return Error(*e, request_id);
    return Response{200, PageToJson(std::get<OrderPage>(page))};
  }

  Response Create(mg_connection* conn, const mg_request_info* ri, const std::string& request_id) {
    if (ri->content_length > static_cast<long long>(config_.max_body_bytes)) {
      return Error(413, "body larger than " + std::to_string(config_.max_body_bytes) + " bytes", request_id,
                   "body");
    }
    const char* type = mg_get_header(conn, "Content-Type");
    if (type != nullptr && !IsJsonMediaType(type)) {
      return Error(415, "Content-Type must be application/json", request_id, "Content-Type");
    }
    std::string body;
    char buf[8192];
    for (;;) {
      const int n = mg_read(conn, buf, sizeof(buf));
      if (n <= 0) break;
      body.append(buf, static_cast<size_t>(n));
      if (body.size() > config_.max_body_bytes) {
        return Error(413, "body larger than " + std::to_string(config_.max_body_bytes) + " bytes", request_id,
                     "body");
      }
    }
    auto parsed = ParseCreateOrder(body);
    if (auto* e = std::get_if<ApiError>(&parsed)) return Error(*e, request_id);
    auto input = std::get<CreateOrderInput>(std::move(parsed));
    if (const char* key = mg_get_header(conn, "Idempotency-Key")) {
      input.idempotency_key = key;
      input.idempotency_key_given = true;
    }
    auto created = service_.Create(input, request_id);
    if (auto* e = std::get_if<ApiError>(&created)) return Error(*e, request_id);
    const auto& result = std::get<CreateResult>(created);
    Response r{201, OrderToJson(result.order), {}, result.order.id};
    r.headers.emplace_back("Location", std::string(kOrdersRoute) + "/" + std::to_string(result.order.id));
    if (result.replayed) r.headers.emplace_back("Idempotent-Replayed", "true");
    return r;
  }

  void Send(mg_connection* conn, const Response& r, const std::string& request_id, bool head_only) {
    std::string head =
        "HTTP/1.1 " + std::to_string(r.status) + " " + Reason(r.status) +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(r.body.size()) +
        "\r\nX-Request-Id: " + request_id + "\r\n";
    for (const auto& [k, v] : r.headers) head += k + ": " + v + "\r\n";
    head += "\r\n";
    // One write: a header and body sent separately meet Nagle's algorithm and delayed ACKs (~40 ms).
    if (!head_only) head += r.body;
    mg_write(conn, head.data(), head.size());
  }

  RestConfig config_;
  OrderService& service_;
  OrderMetrics& metrics_;
  std::chrono::steady_clock::time_point started_;
  std::atomic<int> in_flight_{0};
  std::atomic<bool> draining_{false};
};

RestServer::RestServer(RestConfig config, OrderService& service, OrderMetrics& metrics) {
  auto [host, port] = ops::SplitHostPort(config.addr, "ORDER_API_REST_ADDR");
  const std::vector<std::string> options = {"listening_ports",       host + ":" + std::to_string(port),
                                            "num_threads",           std::to_string(config.threads),
                                            "enable_keep_alive",     "yes",
                                            "keep_alive_timeout_ms", "15000",
                                            "tcp_nodelay",           "1",
                                            "request_timeout_ms",    "30000"};
  router_ = std::make_unique<Router>(std::move(config), service, metrics);
  CivetCallbacks callbacks;  // copied by civetweb
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
