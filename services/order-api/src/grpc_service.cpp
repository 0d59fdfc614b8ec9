#include "services/order-api/src/grpc_service.hpp"

#include "common/security/grpc_security.hpp"
#include "common/security/scopes.hpp"
#include "services/order-api/src/error_mapping.hpp"
#include "services/order-api/src/grpc_call_scope.hpp"

namespace rainbow::order {

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

CreateOrderInput CreateInputFrom(const v1::CreateOrderRequest& req, const grpc::ServerContext& ctx) {
  CreateOrderInput input;
  input.customer_id = req.customer_id();
  input.payment_id = req.payment_id();
  for (const auto& p : req.products()) input.lines.push_back({p.product_id(), p.quantity()});
  input.idempotency_key = req.idempotency_key();
  input.idempotency_key_given = !input.idempotency_key.empty();
  if (!input.idempotency_key_given) {
    auto it = ctx.client_metadata().find("idempotency-key");
    if (it != ctx.client_metadata().end()) {
      input.idempotency_key.assign(it->second.data(), it->second.size());
      input.idempotency_key_given = true;
    }
  }
  return input;
}

grpc::Status OrderGrpcService::GetOrder(grpc::ServerContext* ctx, const v1::GetOrderRequest* req,
                                        v1::Order* out) {
  CallScope call(metrics_, access_log_, "GetOrder", *ctx);
  if (auto denied = security::Authorize(auth_, *ctx, security::scope::kOrdersRead); !denied.ok()) {
    return call.Done(denied);
  }
  auto got = service_.Get(req->id());
  if (auto* e = std::get_if<ApiError>(&got)) return call.Done(ToGrpcStatus(*e));
  ToProto(std::get<Order>(got), out);
  return call.Done(grpc::Status::OK, req->id());
}

grpc::Status OrderGrpcService::ListOrders(grpc::ServerContext* ctx, const v1::ListOrdersRequest* req,
                                          v1::ListOrdersResponse* out) {
  CallScope call(metrics_, access_log_, "ListOrders", *ctx);
  if (auto denied = security::Authorize(auth_, *ctx, security::scope::kOrdersRead); !denied.ok()) {
    return call.Done(denied);
  }
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
