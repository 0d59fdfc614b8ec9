#pragma once

#include "rainbow/order_api.grpc.pb.h"
#include "services/order-api/src/order_metrics.hpp"
#include "services/order-api/src/order_service.hpp"

namespace rainbow::order {

// OrderService over gRPC: the same implementation as REST, errors mapped in error_mapping.cpp.
// The idempotency key comes from the request field, or the `idempotency-key` metadata.
class OrderGrpcService final : public rainbow::order::v1::OrderService::Service {
 public:
  OrderGrpcService(OrderService& service, OrderMetrics& metrics) : service_(service), metrics_(metrics) {}

  grpc::Status CreateOrder(grpc::ServerContext* ctx, const v1::CreateOrderRequest* req,
                           v1::Order* out) override;
  grpc::Status GetOrder(grpc::ServerContext* ctx, const v1::GetOrderRequest* req, v1::Order* out) override;
  grpc::Status ListOrders(grpc::ServerContext* ctx, const v1::ListOrdersRequest* req,
                          v1::ListOrdersResponse* out) override;

 private:
  OrderService& service_;
  OrderMetrics& metrics_;
};

void ToProto(const Order& order, v1::Order* out);

}  // namespace rainbow::order
