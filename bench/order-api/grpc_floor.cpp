// grpc_floor: the least a gRPC order service built on this machine's C++ gRPC library can do per
// CreateOrder, to measure how close order-api's gRPC side is to that library's floor. It is order-api
// with everything of its own taken out of the call: no validation, idempotency lookup, request id,
// metrics or access log. What is left is what any such service needs: the same gRPC server setup
// (common/grpc: sync server, pollers = pool size, health and reflection), the request read from its
// protobuf, the same OrderStore::Create (one prepared statement on the same pool) and the reply
// filled by the same ToProto. Only CreateOrder is served. Benchmark use only: it trusts its input.
//   grpc_floor --dsn DSN --addr 127.0.0.1:PORT [--pool N]
#include <CLI/CLI.hpp>
#include <iostream>

#include "common/grpc_server/grpc_server.hpp"
#include "common/ops/termination.hpp"
#include "common/pg/pool.hpp"
#include "rainbow/order_api.grpc.pb.h"
#include "services/order-api/src/grpc_service.hpp"
#include "services/order-api/src/order_store.hpp"

namespace {

using namespace rainbow::order;

class FloorService final : public v1::OrderService::Service {
 public:
  explicit FloorService(OrderStore& store) : store_(store) {}

  grpc::Status CreateOrder(grpc::ServerContext*, const v1::CreateOrderRequest* req, v1::Order* out) override {
    CreateOrderInput input;
    input.customer_id = req->customer_id();
    input.payment_id = req->payment_id();
    for (const auto& p : req->products()) input.lines.push_back({p.product_id(), p.quantity()});
    auto created = store_.Create(input, "");
    if (auto* e = std::get_if<ApiError>(&created)) return {grpc::StatusCode::INTERNAL, e->message};
    ToProto(std::get<CreateResult>(created).order, out);
    return grpc::Status::OK;
  }

 private:
  OrderStore& store_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"grpc_floor: CreateOrder with nothing but the gRPC library, OrderStore and ToProto"};
  std::string dsn, addr;
  int pool_size = 8;
  app.add_option("--dsn", dsn, "PostgreSQL DSN (a seeded order-api database)")->required();
  app.add_option("--addr", addr, "gRPC listen address, host:port")->required();
  app.add_option("--pool", pool_size, "database connections, and gRPC sync pollers")
      ->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);

  rainbow::ops::BlockTerminationSignals();  // before any thread starts, so all inherit the mask

  rainbow::pg::Pool pool({dsn, pool_size, std::chrono::milliseconds(5'000), OrderStore::Statements()});
  OrderStore store(pool);
  FloorService service(store);
  rainbow::grpc_server::GrpcServer server(addr, 16 * 1024 * 1024, pool_size);
  server.AddService(&service);
  server.Start();
  std::cout << "listening on port " << server.port() << std::endl;
  rainbow::ops::WaitForTerminationSignal();
  server.Shutdown(std::chrono::seconds(1));
  return 0;
}
