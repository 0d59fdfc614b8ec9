#include "services/order-api/src/rest_routes.hpp"

#include <CivetServer.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>

#include "common/logging/log.hpp"
#include "common/security/scopes.hpp"
#include "services/order-api/src/error_mapping.hpp"
#include "services/order-api/src/order_json.hpp"

namespace rainbow::order {
namespace {

constexpr const char* kOrdersRoute = "/api/v1/orders";

// The query string as name -> value. Every name must be one of `known` and appear once: a misspelled
// filter (customer=5) must not quietly list every customer's orders, nor limit=5&limit=abc pass as 5.
ApiResult<std::map<std::string, std::string>> ParseQuery(std::string_view query,
                                                         std::initializer_list<std::string_view> known) {
  std::map<std::string, std::string> params;
  std::string_view rest = query;
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

HttpResponse NotAllowed(const std::string& allow, const std::string& request_id) {
  HttpResponse r = ErrorResponse(405, "method not allowed; allowed: " + allow, request_id);
  r.headers.emplace_back("Allow", allow);
  return r;
}

HttpResponse TooLarge(size_t max_body_bytes, const std::string& request_id) {
  return ErrorResponse(413, "body larger than " + std::to_string(max_body_bytes) + " bytes", request_id,
                       "body");
}

}  // namespace

HttpResponse ErrorResponse(const ApiError& e, const std::string& request_id) {
  return HttpResponse{HttpStatus(e.code), ErrorToJson(e, request_id), {}, 0, e.message};
}

HttpResponse ErrorResponse(int status, const std::string& message, const std::string& request_id,
                           std::string field) {
  ApiError e{ErrorCode::kInvalidArgument, std::move(field), message};
  return HttpResponse{status, ErrorToJson(e, request_id), {}, 0, message};
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

RestRoutes::RestRoutes(OrderService& service, size_t max_body_bytes, std::string version,
                       const security::Authorizer* auth)
    : service_(service),
      max_body_bytes_(max_body_bytes),
      version_(std::move(version)),
      auth_(auth),
      started_(std::chrono::steady_clock::now()) {}

HttpResponse RestRoutes::Handle(const HttpRequest& request, const std::string& request_id,
                                std::string& route) {
  const std::string orders = kOrdersRoute;
  const std::string& method = request.method;
  const std::string& path = request.path;
  const bool get = method == "GET" || method == "HEAD";
  route = "unmatched";
  if (path == "/ping") {
    route = "/ping";
    return get ? HttpResponse{200, R"({"message":"pong"})"} : NotAllowed("GET", request_id);
  }
  if (path == "/") {
    route = "/";
    if (!get) return NotAllowed("GET", request_id);
    if (auto refused = Refusal(request, security::scope::kOrdersRead, request_id)) return *refused;
    return Root();
  }
  if (path == orders) {
    route = orders;
    if (get) {
      if (auto refused = Refusal(request, security::scope::kOrdersRead, request_id)) return *refused;
      return List(request, request_id);
    }
    if (method == "POST") {
      if (auto refused = Refusal(request, security::scope::kOrdersWrite, request_id)) return *refused;
      return Create(request, request_id);
    }
    return NotAllowed("GET, POST", request_id);
  }
  if (path.rfind(orders + "/", 0) == 0 && path.find('/', orders.size() + 1) == std::string::npos) {
    route = orders + "/:id";
    if (!get) return NotAllowed("GET", request_id);
    if (auto refused = Refusal(request, security::scope::kOrdersRead, request_id)) return *refused;
    return Get(path.substr(orders.size() + 1), request_id);
  }
  return ErrorResponse(404, "route not found: " + path, request_id);
}

std::optional<HttpResponse> RestRoutes::Refusal(const HttpRequest& request, std::string_view scope,
                                                const std::string& request_id) const {
  if (auth_ == nullptr || !auth_->enabled()) return std::nullopt;
  const auto decision = auth_->Decide(request.authorization, {}, scope);
  if (decision.allowed()) return std::nullopt;
  log::Warn("request refused", {{"request_id", request_id},
                                {"principal", decision.principal},
                                {"scope", std::string(scope)},
                                {"reason", decision.reason}});
  if (decision.verdict == security::Verdict::kUnauthenticated) {
    auto r = ErrorResponse(401, decision.reason, request_id);
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"order-api\"");
    return r;
  }
  auto r = ErrorResponse(403, decision.reason, request_id);
  r.headers.emplace_back(
      "WWW-Authenticate",
      "Bearer realm=\"order-api\", error=\"insufficient_scope\", scope=\"" + std::string(scope) + "\"");
  return r;
}

HttpResponse RestRoutes::Root() const {
  const auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return HttpResponse{
      200, nlohmann::json{{"name", "order-api"}, {"version", version_}, {"uptime_seconds", uptime}}.dump()};
}

HttpResponse RestRoutes::Get(const std::string& id_text, const std::string& request_id) {
  // The route answers 200 or 404 only (the seed's codes): a path that cannot name an order
  // (abc, 0, -1, beyond int64) names none.
  auto id = ParseId(id_text);
  if (!id || *id == 0) {
    const std::string shown = id_text.size() > 64 ? id_text.substr(0, 64) + "..." : id_text;
    return ErrorResponse(404, "order " + shown + " not found (ids are positive integers)", request_id, "id");
  }
  auto got = service_.Get(*id);
  if (auto* e = std::get_if<ApiError>(&got)) return ErrorResponse(*e, request_id);
  const auto& order = std::get<Order>(got);
  return HttpResponse{200, OrderToJson(order), {}, order.id};
}

HttpResponse RestRoutes::List(const HttpRequest& request, const std::string& request_id) {
  auto parsed = ParseQuery(request.query, {"limit", "after", "customerId", "customer_id"});
  if (auto* e = std::get_if<ApiError>(&parsed)) return ErrorResponse(*e, request_id);
  const auto& params = std::get<std::map<std::string, std::string>>(parsed);
  ListQuery q;
  if (auto it = params.find("limit"); it != params.end()) {
    auto n = ParseId(it->second);
    if (!n || *n > 1'000'000)
      return ErrorResponse(400, "limit must be an integer between 1 and 1000", request_id, "limit");
    q.limit = static_cast<int32_t>(*n);
  }
  if (auto it = params.find("after"); it != params.end()) {
    auto n = ParseId(it->second);
    if (!n) return ErrorResponse(400, "after must be a non-negative order id", request_id, "after");
    q.after = *n;
  }
  if (params.count("customerId") + params.count("customer_id") > 1) {
    return ErrorResponse(400, "give customerId or customer_id, not both", request_id, "customerId");
  }
  auto customer = params.find("customerId");
  if (customer == params.end()) customer = params.find("customer_id");
  if (customer != params.end()) {
    auto n = ParseId(customer->second);
    if (!n || *n == 0)
      return ErrorResponse(400, "customerId must be a positive integer", request_id, "customerId");
    q.customer_id = *n;
  }
  auto page = service_.List(q);
  if (auto* e = std::get_if<ApiError>(&page)) return ErrorResponse(*e, request_id);
  return HttpResponse{200, PageToJson(std::get<OrderPage>(page))};
}

HttpResponse RestRoutes::Create(const HttpRequest& request, const std::string& request_id) {
  if (request.content_length > static_cast<long long>(max_body_bytes_))
    return TooLarge(max_body_bytes_, request_id);
  if (request.content_type && !IsJsonMediaType(*request.content_type)) {
    return ErrorResponse(415, "Content-Type must be application/json", request_id, "Content-Type");
  }
  std::string body;
  if (request.read_body && !request.read_body(body, max_body_bytes_))
    return TooLarge(max_body_bytes_, request_id);
  auto parsed = ParseCreateOrder(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return ErrorResponse(*e, request_id);
  auto input = std::get<CreateOrderInput>(std::move(parsed));
  if (request.idempotency_key) {
    input.idempotency_key = *request.idempotency_key;
    input.idempotency_key_given = true;
  }
  auto created = service_.Create(input, request_id);
  if (auto* e = std::get_if<ApiError>(&created)) return ErrorResponse(*e, request_id);
  const auto& result = std::get<CreateResult>(created);
  HttpResponse r{201, OrderToJson(result.order), {}, result.order.id};
  r.headers.emplace_back("Location", std::string(kOrdersRoute) + "/" + std::to_string(result.order.id));
  if (result.replayed) r.headers.emplace_back("Idempotent-Replayed", "true");
  return r;
}

}  // namespace rainbow::order
