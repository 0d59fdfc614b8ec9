#include "tests/support/grpc_probes.hpp"

#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/rpc_method.h>
#include <grpcpp/impl/codegen/sync_stream.h>

#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "rainbow_testing/reflection_wire.pb.h"

namespace rainbow::testing {

bool HealthServing(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  return grpc::health::v1::Health::NewStub(channel)->Check(&ctx, req, &resp).ok() &&
         resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

std::string HealthStatus(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  const auto st = grpc::health::v1::Health::NewStub(channel)->Check(&ctx, req, &resp);
  if (!st.ok()) return "call failed: " + std::to_string(st.error_code());
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
}

std::string HealthStatusOnceIs(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                               const std::string& want, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string got = HealthStatus(channel, service);
  while (got != want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    got = HealthStatus(channel, service);
  }
  return got;
}

Reflected Reflect(const std::shared_ptr<grpc::Channel>& channel, const std::string& symbol) {
  namespace refl = rainbow::testing::reflection;
  Reflected out;
  grpc::ClientContext ctx;
  // What a generated stub does, with the protocol's real method name.
  const grpc::internal::RpcMethod method("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                         grpc::internal::RpcMethod::BIDI_STREAMING, channel);
  std::unique_ptr<grpc::ClientReaderWriter<refl::ServerReflectionRequest, refl::ServerReflectionResponse>>
      stream(grpc::internal::ClientReaderWriterFactory<refl::ServerReflectionRequest,
                                                       refl::ServerReflectionResponse>::Create(channel.get(),
                                                                                               method, &ctx));
  refl::ServerReflectionRequest list;
  list.set_list_services("");
  refl::ServerReflectionResponse resp;
  if (!stream->Write(list) || !stream->Read(&resp)) return out;
  for (const auto& s : resp.list_services_response().service()) out.services.insert(s.name());
  refl::ServerReflectionRequest lookup;
  lookup.set_file_containing_symbol(symbol);
  if (stream->Write(lookup) && stream->Read(&resp)) {
    const auto& files = resp.file_descriptor_response().file_descriptor_proto();
    out.files_for_symbol.assign(files.begin(), files.end());
  }
  stream->WritesDone();
  return out;
}

}  // namespace rainbow::testing
