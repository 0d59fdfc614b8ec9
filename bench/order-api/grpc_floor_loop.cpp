// grpc_floor_loop: grpc_floor's event-loop twin, the most CPU-frugal gRPC order server this machine's
// C++ gRPC library allows that we found (bench/README.md: "An event-loop gRPC server"). No thread
// waits on PostgreSQL: one thread takes new CreateOrder calls from the completion queue and sends
// their statement on a non-blocking libpq connection (pg::EventLoop); the loop thread fills the reply
// with the same ToProto and finishes the call, then drains finished calls from a queue nobody blocks
// on, so no gRPC thread is woken for them. Health and reflection are on, as every service needs them
// (--no-health: an A/B without the default health service).
// Only CreateOrder is served. Benchmark use only: it trusts its input.
//   grpc_floor_loop --dsn DSN --addr 127.0.0.1:PORT [--pool N] [--no-health]
#include <absl/synchronization/mutex.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <thread>

#include "common/ops/termination.hpp"
#include "common/pg/connection.hpp"
#include "common/pg/event_loop.hpp"
#include "rainbow/order_api.grpc.pb.h"
#include "services/order-api/src/grpc_service.hpp"
#include "services/order-api/src/order_store.hpp"

namespace {

using namespace rainbow::order;
using AsyncCreate = v1::OrderService::WithAsyncMethod_CreateOrder<v1::OrderService::Service>;

// One call; its address is the tag of both its arrival (server queue) and its finish (call queue).
struct Call {
  grpc::ServerContext ctx;
  v1::CreateOrderRequest req;
  v1::Order resp;
  grpc::ServerAsyncResponseWriter<v1::Order> responder{&ctx};
};

// The statement's array parameters, as OrderStore sends them: "{3,4,5}".
std::string IntArray(const v1::CreateOrderRequest& req, bool product_ids) {
  std::string out = "{";
  for (int i = 0; i < req.products_size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(product_ids ? req.products(i).product_id() : req.products(i).quantity());
  }
  return out + "}";
}

rainbow::pg::EventLoop::Job JobFor(Call* call) {
  rainbow::pg::EventLoop::Job job;
  job.statement = "order_create";
  job.params = {std::to_string(call->req.customer_id()), std::to_string(call->req.payment_id()),
                IntArray(call->req, true), IntArray(call->req, false)};
  job.done = [call](PGresult* r, bool) {
    if (r == nullptr || PQresultStatus(r) != PGRES_TUPLES_OK) {
      const std::string error = r != nullptr ? PQresultErrorMessage(r) : "database connection failed";
      if (r != nullptr) PQclear(r);
      call->responder.FinishWithError({grpc::StatusCode::INTERNAL, error}, call);
      return;
    }
    const rainbow::pg::Result result(r);
    auto orders = ReadOrders(result);
    if (orders.size() != 1) {
      call->responder.FinishWithError({grpc::StatusCode::INTERNAL, "no order written"}, call);
      return;
    }
    ToProto(orders.front(), &call->resp);
    call->responder.Finish(call->resp, grpc::Status::OK, call);
  };
  return job;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"grpc_floor_loop: CreateOrder on grpc++'s completion-queue API and a libpq event loop"};
  std::string dsn, addr;
  int pool_size = 8;
  app.add_option("--dsn", dsn, "PostgreSQL DSN (a seeded order-api database)")->required();
  app.add_option("--addr", addr, "gRPC listen address, host:port")->required();
  app.add_option("--pool", pool_size, "database connections")->check(CLI::Range(1, 256));
  bool health = true;
  app.add_flag("!--no-health", health,
               "without grpc++'s default health service (an A/B: its callback API adds two polling threads)");
  CLI11_PARSE(app, argc, argv);

  rainbow::ops::BlockTerminationSignals();  // before any thread starts, so all inherit the mask
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);  // as common/grpc does
  grpc::EnableDefaultHealthCheckService(health);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  AsyncCreate service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(addr, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto arrivals = builder.AddCompletionQueue();
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "cannot serve gRPC on " << addr << "\n";
    return 1;
  }
  grpc::CompletionQueue finished;
  rainbow::pg::EventLoop loop(dsn, pool_size, {{"order_create", OrderStore::Statements().at("order_create")}},
                              "grpc-floor-loop");
  while (loop.stats().up < pool_size) {  // connections open on a thread of their own
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  loop.Start([&finished] {
    void* tag = nullptr;
    bool ok = false;
    while (finished.AsyncNext(&tag, &ok, gpr_time_0(GPR_CLOCK_MONOTONIC)) ==
           grpc::CompletionQueue::GOT_EVENT) {
      delete static_cast<Call*>(tag);
    }
  });
  const auto await_call = [&] {
    auto* call = new Call;
    service.RequestCreateOrder(&call->ctx, &call->req, &call->responder, &finished, arrivals.get(), call);
  };
  for (int i = 0; i < 2 * pool_size; ++i) await_call();
  std::thread taker([&] {
    void* tag = nullptr;
    bool ok = false;
    while (arrivals->Next(&tag, &ok)) {
      auto* call = static_cast<Call*>(tag);
      if (!ok) {  // shutting down: the awaited call never came
        delete call;
        continue;
      }
      await_call();
      auto job = JobFor(call);
      if (!loop.Submit(job)) job.done(nullptr, false);  // no connection up (yet)
    }
  });
  std::cout << "listening on port " << port << std::endl;

  rainbow::ops::WaitForTerminationSignal();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  arrivals->Shutdown();
  taker.join();
  loop.Stop();  // unfinished calls are finished with an error now
  finished.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (finished.Next(&tag, &ok)) delete static_cast<Call*>(tag);
  return 0;
}
