// grpc_floor: the least a gRPC order service built on this machine's C++ gRPC library can do per
// CreateOrder, to measure how close order-api's gRPC side is to that library's floor. It is order-api
// with everything of its own taken out of the call: no validation, idempotency lookup, request id,
// metrics or access log. What is left is what any such service needs: the same gRPC server setup
// (common/grpc: sync server, pollers = pool size, health and reflection), the request read from its
// protobuf, the same OrderStore::Create (one prepared statement on the same pool) and the reply
// filled by the same ToProto. Only CreateOrder is served. Benchmark use only: it trusts its input.
//   grpc_floor --dsn DSN --addr 127.0.0.1:PORT [--pool N]
#include <absl/synchronization/mutex.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <libpq-fe.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <deque>
#include <functional>
#include <iostream>
#include <mutex>
#include <thread>

#include "common/grpc/grpc_server.hpp"
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

// Experiment: PostgreSQL driven by one event-loop thread over non-blocking libpq connections; gRPC
// callback handlers only queue the statement and return.
class PgLoop {
 public:
  struct Job {
    std::vector<std::string> params;
    std::function<void(PGresult*)> done;  // the statement's last result (nullptr: connection failed)
  };
  std::function<void()> after_batch;
  PgLoop(const std::string& dsn, int size, const std::string& sql) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < size; ++i) {
      auto c = std::make_unique<Conn>();
      c->pg = PQconnectdb(dsn.c_str());
      if (PQstatus(c->pg) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(c->pg));
      PGresult* r = PQprepare(c->pg, "order_create", sql.c_str(), 0, nullptr);
      if (PQresultStatus(r) != PGRES_COMMAND_OK) throw std::runtime_error(PQerrorMessage(c->pg));
      PQclear(r);
      PQsetnonblocking(c->pg, 1);
      epoll_event ev{};
      ev.data.ptr = c.get();
      epoll_ctl(epfd_, EPOLL_CTL_ADD, PQsocket(c->pg), &ev);
      idle_.push_back(c.get());
      conns_.push_back(std::move(c));
    }
  }
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Submit(Job job) {
    Conn* c = nullptr;
    {
      std::lock_guard lock(mu_);
      if (idle_.empty()) {
        waiting_.push_back(std::move(job));
        return;
      }
      c = idle_.back();
      idle_.pop_back();
    }
    Send(c, std::move(job));
  }

 private:
  struct Conn {
    PGconn* pg = nullptr;
    Job job;
    PGresult* last = nullptr;
  };
  void Arm(Conn* c, uint32_t events) {
    epoll_event ev{};
    ev.events = events | EPOLLONESHOT;
    ev.data.ptr = c;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, PQsocket(c->pg), &ev);
  }
  void Send(Conn* c, Job job) {
    c->job = std::move(job);
    const char* values[4];
    for (int i = 0; i < 4; ++i) values[i] = c->job.params[i].c_str();
    if (!PQsendQueryPrepared(c->pg, "order_create", 4, values, nullptr, nullptr, 0)) {
      Finish(c, nullptr);
      return;
    }
    Arm(c, PQflush(c->pg) == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN);
  }
  void Finish(Conn* c, PGresult* r) {
    auto done = std::move(c->job.done);
    done(r);  // takes r
    Job next;
    {
      std::lock_guard lock(mu_);
      if (waiting_.empty()) {
        idle_.push_back(c);
        return;
      }
      next = std::move(waiting_.front());
      waiting_.pop_front();
    }
    Send(c, std::move(next));
  }
  void Run() {
    epoll_event events[64];
    for (;;) {
      int n = epoll_wait(epfd_, events, 64, after_batch ? 20 : -1);
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<Conn*>(events[i].data.ptr);
        if (PQflush(c->pg) == 1) {
          Arm(c, EPOLLIN | EPOLLOUT);
          continue;
        }
        if (!PQconsumeInput(c->pg)) {
          if (c->last) PQclear(c->last);
          c->last = nullptr;
          Finish(c, nullptr);
          continue;
        }
        bool complete = false;
        while (!PQisBusy(c->pg)) {
          PGresult* r = PQgetResult(c->pg);
          if (!r) {
            complete = true;
            break;
          }
          if (c->last) PQclear(c->last);
          c->last = r;
        }
        if (complete) {
          PGresult* r = c->last;
          c->last = nullptr;
          Finish(c, r);
        } else {
          Arm(c, EPOLLIN);
        }
      }
      if (after_batch) after_batch();
    }
  }
  int epfd_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::mutex mu_;
  std::vector<Conn*> idle_;
  std::deque<Job> waiting_;
  std::thread thread_;
};

std::string IntList(const v1::CreateOrderRequest& req, bool products) {
  std::string out = "{";
  for (int i = 0; i < req.products_size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(products ? req.products(i).product_id() : req.products(i).quantity());
  }
  return out + "}";
}

class AsyncFloorService final : public v1::OrderService::CallbackService {
 public:
  explicit AsyncFloorService(PgLoop& loop) : loop_(loop) {}
  grpc::ServerUnaryReactor* CreateOrder(grpc::CallbackServerContext* ctx, const v1::CreateOrderRequest* req,
                                        v1::Order* out) override {
    auto* reactor = ctx->DefaultReactor();
    PgLoop::Job job;
    job.params = {std::to_string(req->customer_id()), std::to_string(req->payment_id()), IntList(*req, true),
                  IntList(*req, false)};
    job.done = [reactor, out](PGresult* r) {
      if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        reactor->Finish({grpc::StatusCode::INTERNAL, r ? PQresultErrorMessage(r) : "connection"});
        if (r) PQclear(r);
        return;
      }
      rainbow::pg::Result res(r);
      auto orders = ReadOrders(res);
      ToProto(orders.at(0), out);
      reactor->Finish(grpc::Status::OK);
    };
    loop_.Submit(std::move(job));
    return reactor;
  }

 private:
  PgLoop& loop_;
};

// Experiment 2: the async (completion-queue) API. One thread takes new calls from the server CQ and
// sends their statement; the loop thread finishes them and drains their completions from a CQ
// nobody blocks on, so no gRPC thread is woken for a finished call.
using AsyncCreate = v1::OrderService::WithAsyncMethod_CreateOrder<v1::OrderService::Service>;
struct CallData {
  grpc::ServerContext ctx;
  v1::CreateOrderRequest req;
  v1::Order resp;
  grpc::ServerAsyncResponseWriter<v1::Order> responder{&ctx};
};

int RunAsync2(const std::string& dsn, const std::string& addr, int pool_size) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  grpc::EnableDefaultHealthCheckService(getenv("NO_HEALTH") == nullptr);
  if (!getenv("NO_REFL")) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  AsyncCreate service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(addr, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto server_cq = builder.AddCompletionQueue();
  auto server = builder.BuildAndStart();
  grpc::CompletionQueue call_cq;
  PgLoop loop(dsn, pool_size, OrderStore::Statements().at("order_create"));
  loop.after_batch = [&call_cq] {
    void* tag;
    bool ok;
    while (call_cq.AsyncNext(&tag, &ok, gpr_time_0(GPR_CLOCK_MONOTONIC)) ==
           grpc::CompletionQueue::GOT_EVENT) {
      delete static_cast<CallData*>(tag);
    }
  };
  loop.Start();
  auto request = [&] {
    auto* cd = new CallData;
    service.RequestCreateOrder(&cd->ctx, &cd->req, &cd->responder, &call_cq, server_cq.get(), cd);
  };
  for (int i = 0; i < 2 * pool_size; ++i) request();
  std::cout << "listening on port " << port << std::endl;
  void* tag;
  bool ok;
  while (server_cq->Next(&tag, &ok)) {
    auto* cd = static_cast<CallData*>(tag);
    if (!ok) {
      delete cd;
      continue;
    }
    request();
    PgLoop::Job job;
    job.params = {std::to_string(cd->req.customer_id()), std::to_string(cd->req.payment_id()),
                  IntList(cd->req, true), IntList(cd->req, false)};
    job.done = [cd](PGresult* r) {
      if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        cd->responder.FinishWithError({grpc::StatusCode::INTERNAL, "db"}, cd);
        if (r) PQclear(r);
        return;
      }
      rainbow::pg::Result res(r);
      ToProto(ReadOrders(res).at(0), &cd->resp);
      cd->responder.Finish(cd->resp, grpc::Status::OK, cd);
    };
    loop.Submit(std::move(job));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"grpc_floor: CreateOrder with nothing but the gRPC library, OrderStore and ToProto"};
  std::string dsn, addr;
  int pool_size = 8;
  app.add_option("--dsn", dsn, "PostgreSQL DSN (a seeded order-api database)")->required();
  app.add_option("--addr", addr, "gRPC listen address, host:port")->required();
  app.add_option("--pool", pool_size, "database connections, and gRPC sync pollers")
      ->check(CLI::Range(1, 256));
  bool async = false;
  app.add_flag("--async", async, "experiment: callback API + libpq event loop");
  bool async2 = false;
  app.add_flag("--async2", async2, "experiment: async CQ API + libpq event loop");
  CLI11_PARSE(app, argc, argv);
  if (async2) return RunAsync2(dsn, addr, pool_size);

  rainbow::ops::BlockTerminationSignals();  // before any thread starts, so all inherit the mask

  if (async) {
    PgLoop loop(dsn, pool_size, OrderStore::Statements().at("order_create"));
    loop.Start();
    AsyncFloorService service(loop);
    rainbow::grpc_boot::GrpcServer server(addr, 16 * 1024 * 1024, 1);
    server.AddService(&service);
    server.Start();
    std::cout << "listening on port " << server.port() << std::endl;
    rainbow::ops::WaitForTerminationSignal();
    server.Shutdown(std::chrono::seconds(1));
    _exit(0);
  }
  rainbow::pg::Pool pool({dsn, pool_size, std::chrono::milliseconds(5'000), OrderStore::Statements()});
  OrderStore store(pool);
  FloorService service(store);
  rainbow::grpc_boot::GrpcServer server(addr, 16 * 1024 * 1024, pool_size);
  server.AddService(&service);
  server.Start();
  std::cout << "listening on port " << server.port() << std::endl;
  rainbow::ops::WaitForTerminationSignal();
  server.Shutdown(std::chrono::seconds(1));
  return 0;
}
