#include "services/order-api/src/grpc_create_async.hpp"

#include <map>

#include "common/logging/log.hpp"
#include "common/security/grpc_security.hpp"
#include "common/security/scopes.hpp"
#include "services/order-api/src/database_check.hpp"
#include "services/order-api/src/error_mapping.hpp"
#include "services/order-api/src/grpc_call_scope.hpp"

namespace rainbow::order {

// One CreateOrder call; its address is the tag of both its arrival and its finish.
struct AsyncCreateOrder::Call {
  grpc::ServerContext ctx;
  v1::CreateOrderRequest req;
  v1::Order resp;
  grpc::ServerAsyncResponseWriter<v1::Order> responder{&ctx};
  std::optional<CallScope> scope;  // from arrival on
  CreateOrderInput input;
  std::string fingerprint;  // keyed requests only
};

namespace {

// The call's deadline on the steady clock the event loop compares with (max: none).
std::chrono::steady_clock::time_point SteadyDeadline(const grpc::ServerContext& ctx) {
  const auto deadline = ctx.deadline();
  if (deadline == std::chrono::system_clock::time_point::max())
    return std::chrono::steady_clock::time_point::max();
  return std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                deadline - std::chrono::system_clock::now());
}

// The two statements the loop runs (a create with and without an idempotency key), as the pool has them.
std::map<std::string, std::string> CreateStatements() {
  const auto all = OrderStore::Statements();
  std::map<std::string, std::string> create;
  for (const bool keyed : {false, true})
    create.emplace(OrderStore::CreateStatement(keyed), all.at(OrderStore::CreateStatement(keyed)));
  return create;
}

}  // namespace

AsyncCreateOrder::AsyncCreateOrder(OrderGrpcService& grpc_service, OrderService& orders,
                                   OrderMetrics& metrics, AsyncCreateConfig config)
    : grpc_service_(grpc_service),
      orders_(orders),
      metrics_(metrics),
      config_(std::move(config)),
      loop_(config_.dsn, config_.connections, CreateStatements(), "order-api-create-loop", config_.timeouts),
      blocking_(config_.blocking_threads) {
  loop_.Start([this] { AfterBatch(); });
}

AsyncCreateOrder::~AsyncCreateOrder() { FinishAll(); }

void AsyncCreateOrder::AfterBatch() {
  FreeFinished();
  // The loop's gauges are set from here, ten times a second (a scrape hook would outlive this).
  const auto now = std::chrono::steady_clock::now();
  if (now - stats_observed_ >= std::chrono::milliseconds(100)) {
    stats_observed_ = now;
    const auto s = loop_.stats();
    metrics_.ObserveCreateLoop(s.size, s.up, s.busy, s.waiting);
  }
}

void AsyncCreateOrder::FreeFinished() {
  void* tag = nullptr;
  bool ok = false;
  while (finished_.AsyncNext(&tag, &ok, gpr_time_0(GPR_CLOCK_MONOTONIC)) ==
         grpc::CompletionQueue::GOT_EVENT) {
    delete static_cast<Call*>(tag);
  }
}

void AsyncCreateOrder::StopAsking() {
  std::lock_guard lock(asking_mu_);
  asking_ = false;
}

void AsyncCreateOrder::Await(grpc::ServerCompletionQueue* arrivals) {
  std::lock_guard lock(asking_mu_);
  if (!asking_) return;
  auto* call = new Call;
  grpc_service_.RequestCreateOrder(&call->ctx, &call->req, &call->responder, &finished_, arrivals, call);
}

void AsyncCreateOrder::Serve(grpc::ServerCompletionQueue* arrivals) {
  // Enough calls asked for ahead that a burst as large as the loop's connections never waits on this
  // thread to ask for more.
  for (int i = 0; i < 2 * config_.connections; ++i) Await(arrivals);
  void* tag = nullptr;
  bool ok = false;
  while (arrivals->Next(&tag, &ok)) {
    auto* call = static_cast<Call*>(tag);
    if (!ok) {  // shutting down: the call asked for never came
      delete call;
      continue;
    }
    Await(arrivals);
    Take(call);
  }
}

void AsyncCreateOrder::Take(Call* call) {
  call->scope.emplace(metrics_, config_.access_log, "CreateOrder", call->ctx);
  if (auto denied = security::Authorize(grpc_service_.auth(), call->ctx, security::scope::kOrdersWrite);
      !denied.ok()) {
    call->responder.FinishWithError(call->scope->Done(denied), call);
    return;
  }
  if (in_progress_.fetch_add(1) >= config_.max_in_progress) {
    Refuse(call, grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                              "too many CreateOrder calls in progress (" +
                                  std::to_string(config_.max_in_progress) + "); retry later"));
    return;
  }
  if (RefusedExpired(call)) return;
  call->input = CreateInputFrom(call->req, call->ctx);
  if (auto error = orders_.ValidateCreateInput(call->input)) {
    Complete(call, *error);
    return;
  }
  const bool keyed = !call->input.idempotency_key.empty();
  if (keyed) call->fingerprint = RequestFingerprint(call->input);
  pg::EventLoop::Job job{
      OrderStore::CreateStatement(keyed), OrderStore::CreateParams(call->input, call->fingerprint),
      [this, call](PGresult* result, bool sent) { OnResult(call, result, sent); }, SteadyDeadline(call->ctx)};
  if (!loop_.Submit(job)) CreateBlocking(call);
}

// On the loop's thread: only the common answer (the order) is handled here, the rest elsewhere.
void AsyncCreateOrder::OnResult(Call* call, PGresult* result, bool sent) {
  if (!sent) {  // the statement never ran: the blocking path runs it, unless the caller gave up
    if (RefusedExpired(call)) return;
    CreateBlocking(call);
    return;
  }
  if (result == nullptr) {
    log::Warn("order create outcome unknown, connection lost",
              {{"request_id", call->scope->request_id()}, {"customer_id", call->input.customer_id}});
    Complete(call, CreateOutcomeUnknown(call->input));
    return;
  }
  const pg::Result answer(result);
  if (PQresultStatus(result) == PGRES_TUPLES_OK) {
    if (auto created = ReadCreated(answer, call->input)) {
      Complete(call, *created);
      return;
    }
    blocking_.Post([this, call] {
      Complete(call, orders_.store().AfterFailedCreate(call->input, call->fingerprint, nullptr));
    });
    return;
  }
  blocking_.Post([this, call, error = pg::ResultError(result, nullptr, "create order")] {
    Complete(call, orders_.store().AfterFailedCreate(call->input, call->fingerprint, &error));
  });
}

void AsyncCreateOrder::CreateBlocking(Call* call) {
  blocking_.Post([this, call] {
    if (RefusedExpired(call)) return;
    Complete(call, orders_.store().Create(call->input, call->fingerprint));
  });
}

bool AsyncCreateOrder::RefusedExpired(Call* call) {
  if (std::chrono::system_clock::now() < call->ctx.deadline()) return false;
  Refuse(call, grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                            "deadline passed before the order was created; nothing was written"));
  return true;
}

void AsyncCreateOrder::Refuse(Call* call, const grpc::Status& status) {
  in_progress_.fetch_sub(1);
  call->responder.FinishWithError(call->scope->Done(status), call);
}

void AsyncCreateOrder::Complete(Call* call, const ApiResult<CreateResult>& outcome) {
  in_progress_.fetch_sub(1);
  orders_.RecordCreate(call->input, outcome, call->scope->request_id());
  if (const auto* error = std::get_if<ApiError>(&outcome)) {
    call->responder.FinishWithError(call->scope->Done(ToGrpcStatus(*error)), call);
    return;
  }
  const auto& result = std::get<CreateResult>(outcome);
  if (result.replayed) call->ctx.AddTrailingMetadata("idempotent-replayed", "true");
  ToProto(result.order, &call->resp);
  call->responder.Finish(call->resp, call->scope->Done(grpc::Status::OK, result.order.id), call);
}

void AsyncCreateOrder::FinishAll() {
  if (finished_all_) return;
  finished_all_ = true;
  loop_.Stop();      // statements in flight are UNAVAILABLE; queued ones go to the blocking path
  blocking_.Stop();  // which runs them, and every explanation posted, to the end
  finished_.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (finished_.Next(&tag, &ok)) delete static_cast<Call*>(tag);
}

}  // namespace rainbow::order
