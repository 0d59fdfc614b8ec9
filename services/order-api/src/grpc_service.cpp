#include "services/order-api/src/grpc_service.hpp"

#include <chrono>

#include "common/logging/log.hpp"
#include "services/order-api/src/error_mapping.hpp"
#include "services/order-api/src/request_id.hpp"

namespace rainbow::order {
namespace {

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    default:
      return "INTERNAL";
  }
}

std::string RequestId(grpc::ServerContext* ctx) {
  const auto& md = ctx->client_metadata();
  auto it = md.find("x-request-id");
  return RequestIdOrNew(it == md.end() ? std::string_view()
                                       : std::string_view(it->second.data(), it->second.size()));
}

// Times a call, records its outcome and writes its access log line (the gRPC twin of REST's).
class CallScope {
 public:
  CallScope(OrderMetrics& metrics, bool access_log, const char* method, grpc::ServerContext* ctx)
      : metrics_(metrics), access_log_(access_log), method_(method), request_id_(RequestId(ctx)) {}
  const std::string& request_id() const { return request_id_; }
  grpc::Status Done(grpc::Status status, int64_t order_id = 0) {
    const auto took = std::chrono::steady_clock::now() - start_;
    const char* code = CodeName(status.error_code());
    metrics_.ObserveGrpc(method_, code, took);
    if (access_log_) {
      log::Info("grpc request",
                {{"request_id", request_id_},
                 {"rpc", method_},
                 {"code", code},
                 {"duration_ms", std::chrono::duration<double, std::milli>(took).count()},
                 {"order_id", order_id > 0 ? log::Value(order_id) : log::Value::Omitted()},
                 {"error", status.ok() ? log::Value::Omitted() : log::Value(status.error_message())}});
    }
    return status;
  }

 private:
  OrderMetrics& metrics_;
  const bool access_log_;
  const char* method_;
  const std::string request_id_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

void ToProto(const Order& order, v1::Order* out) {
  out->set_id(order.id);
  out->set_customer_id(order.customer_id);
  out->set_payment_id(order.payment_id);
  out->set_status(order.status);
  out->set_created_at(order.created_at);
  out->set_total_amount(FormatCents(order.total_cents()));
  out->set_discount_amount(FormatCents(order.discount_cents()));
  out->set_net_amount(FormatCents(order.net_cents()));
  for (const auto& l : order.lines) {
    auto* line = out->add_lines();
    line->set_line_no(l.line_no);
    line->set_product_id(l.product_id);
    line->set_quantity(l.quantity);
    line->set_unit_price(FormatCents(l.unit_price_cents));
    line->set_discount_unit_price(FormatCents(l.discount_unit_price_cents));
    line->set_net_unit_price(FormatCents(l.net_unit_price_cents()));
    line->set_promotion_id(l.promotion_id.value_or(0));
  }
}

grpc::Status OrderGrpcService::CreateOrder(grpc::ServerContext* ctx, const v1::CreateOrderRequest* req,
                                           v1::Order* out) {
  CallScope call(metrics_, access_log_, "CreateOrder", ctx);
  CreateOrderInput input;
  input.customer_id = req->customer_id();
  input.payment_id = req->payment_id();
  for (const auto& p : req->products()) input.lines.push_back({p.product_id(), p.quantity()});
  input.idempotency_key = req->idempotency_key();
  input.idempotency_key_given = !input.idempotency_key.empty();
  if (!input.idempotency_key_given) {
    auto it = ctx->client_metadata().find("idempotency-key");
    if (it != ctx->client_metadata().end()) {
      input.idempotency_key.assign(it->second.data(), it->second.size());
      input.idempotency_key_given = true;
    }
  }
  auto created = service_.Create(input, call.request_id());
  if (auto* e = std::get_if<ApiError>(&created)) return call.Done(ToGrpcStatus(*e));
  const auto& result = std::get<CreateResult>(created);
  if (result.replayed) ctx->AddTrailingMetadata("idempotent-replayed", "true");
  ToProto(result.order, out);
  return call.Done(grpc::Status::OK, result.order.id);
}

grpc::Status OrderGrpcService::GetOrder(grpc::ServerContext* ctx, const v1::GetOrderRequest* req,
                                        v1::Order* out) {
  CallScope call(metrics_, access_log_, "GetOrder", ctx);
  auto got = service_.Get(req->id());
  if (auto* e = std::get_if<ApiError>(&got)) return call.Done(ToGrpcStatus(*e));
  ToProto(std::get<Order>(got), out);
  return call.Done(grpc::Status::OK, req->id());
}

grpc::Status OrderGrpcService::ListOrders(grpc::ServerContext* ctx, const v1::ListOrdersRequest* req,
                                          v1::ListOrdersResponse* out) {
  CallScope call(metrics_, access_log_, "ListOrders", ctx);
  ListQuery q;
  q.limit = req->limit() == 0 ? 50 : req->limit();
  q.after = req->after();
  if (req->customer_id() != 0) q.customer_id = req->customer_id();
  auto page = service_.List(q);
  if (auto* e = std::get_if<ApiError>(&page)) return call.Done(ToGrpcStatus(*e));
  const auto& p = std::get<OrderPage>(page);
  for (const auto& o : p.orders) ToProto(o, out->add_orders());
  out->set_next_after(p.next_after);
  return call.Done(grpc::Status::OK);
}

}  // namespace rainbow::order
