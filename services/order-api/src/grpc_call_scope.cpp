#include "services/order-api/src/grpc_call_scope.hpp"

#include "common/logging/log.hpp"
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
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    default:
      return "INTERNAL";
  }
}

std::string RequestId(const grpc::ServerContext& ctx) {
  const auto& md = ctx.client_metadata();
  auto it = md.find("x-request-id");
  return RequestIdOrNew(it == md.end() ? std::string_view()
                                       : std::string_view(it->second.data(), it->second.size()));
}

}  // namespace

CallScope::CallScope(OrderMetrics& metrics, bool access_log, const char* method,
                     const grpc::ServerContext& ctx)
    : metrics_(metrics), access_log_(access_log), method_(method), request_id_(RequestId(ctx)) {}

grpc::Status CallScope::Done(grpc::Status status, int64_t order_id) {
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

}  // namespace rainbow::order
