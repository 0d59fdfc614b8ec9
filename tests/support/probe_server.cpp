// A minimal service built only from common/: the gRPC bootstrap, ops HTTP endpoint, config and
// signal handling that every real service uses. Tests start it as a process to check the shared
// behaviour (health, reflection, /metrics, SIGTERM -> exit 0, config errors) independently of any one
// service.
#include <prometheus/counter.h>

#include <chrono>

#include "common/grpc/grpc_server.hpp"
#include "common/ops/metrics.hpp"
#include "common/ops/ops_http_server.hpp"
#include "common/ops/service_main.hpp"
#include "rainbow/cdc_producer.grpc.pb.h"

namespace {

struct ProbeConfig {
  rainbow::ops::CommonConfig common;
  std::string token;
  std::chrono::milliseconds drain{};
};

// Answers GetStatus with fixed values: the probe needs one real service for reflection to list.
class ProbeStatusService final : public rainbow::cdc::v1::CdcStatusService::Service {
  grpc::Status GetStatus(grpc::ServerContext*, const rainbow::cdc::v1::GetStatusRequest*,
                         rainbow::cdc::v1::Status* out) override {
    out->set_slot_name("probe");
    return grpc::Status::OK;
  }
};

}  // namespace

int main(int argc, char** argv) {
  using rainbow::config::Env;
  return rainbow::ops::RunService<ProbeConfig>(
      {"probe-server", "0.1.0", "test service exercising the common bootstrap"}, argc, argv,
      [](Env& env) {
        ProbeConfig c;
        c.common = rainbow::ops::LoadCommonConfig(env, "127.0.0.1:50059", "127.0.0.1:8089");
        c.token = env.RequireSecret("PROBE_TOKEN", "a required secret, to test config errors");
        c.drain = env.Duration("PROBE_DRAIN", std::chrono::milliseconds(2'000), "graceful drain time");
        return c;
      },
      [](const ProbeConfig& c) {
        auto registry = rainbow::ops::MetricsRegistry();
        auto& starts = prometheus::BuildCounter()
                           .Name("probe_starts_total")
                           .Help("Times the probe server started.")
                           .Register(*registry)
                           .Add({});
        starts.Increment();
        rainbow::ops::OpsHttpServer http(c.common.http_addr, registry, [] { return std::string(); });
        ProbeStatusService status;
        rainbow::grpc_boot::GrpcServer grpc(c.common.grpc_addr);
        grpc.AddService(&status);
        grpc.Start();
        rainbow::log::Info("ready", {{"grpc_port", grpc.port()}, {"http_port", http.port()}});
        const auto sig = rainbow::ops::WaitForTerminationSignal();
        rainbow::log::Info("draining", {{"signal", *sig}});
        grpc.Shutdown(c.drain);
        return 0;
      });
}
