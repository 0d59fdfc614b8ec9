#include "tests/support/grpc_probes.hpp"

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace rainbow::testing {

bool HealthServing(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  return grpc::health::v1::Health::NewStub(channel)->Check(&ctx, req, &resp).ok() &&
         resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

Reflected Reflect(const std::shared_ptr<grpc::Channel>& channel, const std::string& symbol) {
  namespace refl = grpc::reflection::v1alpha;
  Reflected out;
  grpc::ClientContext ctx;
  auto stream = refl::ServerReflection::NewStub(channel)->ServerReflectionInfo(&ctx);
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
