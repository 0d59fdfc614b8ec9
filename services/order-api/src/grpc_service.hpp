#pragma once

#include "common/security/authorizer.hpp"
#include "rainbow/order_api.grpc.pb.h"
#include "services/order-api/src/metrics.hpp"
#include "services/order-api/src/order_service.hpp"

namespace rainbow::order {

// OrderService over gRPC: the same implementation as REST, errors mapped in error_mapping.cpp.
// GetOrder and ListOrders are served here; CreateOrder, the hot path, on the completion-queue API by
// AsyncCreateOrder (grpc_create_async.hpp), which asks this service for its calls (and its authorizer:
// orders:write for CreateOrder, orders:read for the others). `auth` must outlive the service.
class OrderGrpcService final
    : public rainbow::order::v1::OrderService::WithAsyncMethod_CreateOrder<v1::OrderService::Service> {
 public:
  // access_log: one JSON line per call (ORDER_API_ACCESS_LOG, as for REST).
  OrderGrpcService(OrderService& service, OrderMetrics& metrics, bool access_log,
                   const security::Authorizer& auth)
      : service_(service), metrics_(metrics), access_log_(access_log), auth_(auth) {}

  const security::Authorizer& auth() const { return auth_; }

  grpc::Status GetOrder(grpc::ServerContext* ctx, const v1::GetOrderRequest* req, v1::Order* out) override;
  grpc::Status ListOrders(grpc::ServerContext* ctx, const v1::ListOrdersRequest* req,
                          v1::ListOrdersResponse* out) override;

 private:
  OrderService& service_;
  OrderMetrics& metrics_;
  const bool access_log_;
  const security::Authorizer& auth_;
};

void ToProto(const Order& order, v1::Order* out);
// The idempotency key comes from the request field, or else the `idempotency-key` metadata.
CreateOrderInput CreateInputFrom(const v1::CreateOrderRequest& req, const grpc::ServerContext& ctx);

}  // namespace rainbow::order
