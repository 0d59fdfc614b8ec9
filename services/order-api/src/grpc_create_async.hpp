#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "common/grpc_server/grpc_server.hpp"
#include "common/pg/event_loop.hpp"
#include "services/order-api/src/grpc_service.hpp"
#include "services/order-api/src/metrics.hpp"
#include "services/order-api/src/order_service.hpp"
#include "services/order-api/src/work_queue.hpp"

namespace rainbow::order {

struct AsyncCreateConfig {
  std::string dsn;
  pg::Timeouts timeouts;
  int connections = 16;      // the event loop's own connections (besides the pool)
  int blocking_threads = 4;  // for what must block: explaining a failure, running without the loop
  bool access_log = true;
  int max_in_progress = 1024;  // calls taken and not yet answered (ORDER_API_GRPC_CREATE_QUEUE)
};

// gRPC CreateOrder with no thread waiting on PostgreSQL (bench/README.md: the event-loop floor). The
// call is validated on the thread that takes it, and its one create statement is sent on a
// non-blocking connection of a pg::EventLoop; the loop's thread turns the answer into the reply and
// finishes the call. Finished calls are freed from a queue the loop polls, so no gRPC thread wakes
// for them.
//
// What must block goes to a WorkQueue and OrderStore's pooled connections, answering as Create does:
// explaining a statement that failed or wrote nothing (unknown customer, replay of a key stored by a
// racing request, ...), and running statements the loop could not take (no connection up yet, or
// lost before sending). A statement lost after it was sent has an unknown outcome: it is UNKNOWN (a
// hint to retry with an Idempotency-Key), never run twice.
//
// A call whose deadline has passed is not started (DEADLINE_EXCEEDED: nothing was written), whether
// it expired before it was taken, while queued for a connection of the loop, or while waiting for the
// blocking path. At most `max_in_progress` calls are taken at once; beyond that a call is answered
// RESOURCE_EXHAUSTED at once instead of queueing without bound while the database is slow.
class AsyncCreateOrder final : public grpc_server::AsyncPart {
 public:
  AsyncCreateOrder(OrderGrpcService& grpc_service, OrderService& orders, OrderMetrics& metrics,
                   AsyncCreateConfig config);
  ~AsyncCreateOrder() override;

  void Serve(grpc::ServerCompletionQueue* arrivals) override;
  void StopAsking() override;
  void FinishAll() override;

 private:
  struct Call;
  void Await(grpc::ServerCompletionQueue* arrivals);
  void Take(Call* call);
  void OnResult(Call* call, PGresult* result, bool sent);
  void CreateBlocking(Call* call);
  void Complete(Call* call, const ApiResult<CreateResult>& outcome);
  // Answers `status` without creating anything (too many calls, deadline passed).
  void Refuse(Call* call, const grpc::Status& status);
  // True (the call answered DEADLINE_EXCEEDED) when its deadline has passed.
  bool RefusedExpired(Call* call);
  // On the loop's thread after each batch of its events.
  void AfterBatch();
  void FreeFinished();

  OrderGrpcService& grpc_service_;
  OrderService& orders_;
  OrderMetrics& metrics_;
  const AsyncCreateConfig config_;
  grpc::CompletionQueue finished_;  // the calls' own queue: their Finish lands here
  pg::EventLoop loop_;
  WorkQueue blocking_;
  std::mutex asking_mu_;  // asking_, and a request for a call against StopAsking
  bool asking_ = true;
  bool finished_all_ = false;
  std::atomic<int> in_progress_{0};                       // taken and not yet answered
  std::chrono::steady_clock::time_point stats_observed_;  // loop thread only
};

}  // namespace rainbow::order
