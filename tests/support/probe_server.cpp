// A minimal service built only from common/: the gRPC bootstrap, ops HTTP endpoint, config and
// signal handling that every real service uses. Tests start it as a process to check the shared
// behaviour (health, reflection, /metrics, SIGTERM -> exit 0, config errors) independently of any one
// service.
#include <prometheus/counter.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/grpc_server/grpc_server.hpp"
#include "common/ops/metrics.hpp"
#include "common/ops/ops_http_server.hpp"
#include "common/ops/service_main.hpp"
#include "rainbow/cdc_producer.grpc.pb.h"

namespace {

struct ProbeConfig {
  rainbow::ops::CommonConfig common;
  std::string token;
  std::chrono::milliseconds drain{};
  std::string not_ready_file;
  std::chrono::milliseconds call_delay{};
};

// Answers GetStatus with fixed values, after `delay` (a slow call holding its thread): the probe needs
// one real service for reflection to list.
class ProbeStatusService final : public rainbow::cdc::v1::CdcStatusService::Service {
 public:
  explicit ProbeStatusService(std::chrono::milliseconds delay) : delay_(delay) {}

 private:
  grpc::Status GetStatus(grpc::ServerContext*, const rainbow::cdc::v1::GetStatusRequest*,
                         rainbow::cdc::v1::Status* out) override {
    std::this_thread::sleep_for(delay_);
    out->set_slot_name("probe");
    return grpc::Status::OK;
  }
  const std::chrono::milliseconds delay_;
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
        c.not_ready_file =
            env.String("PROBE_NOT_READY_FILE", "", "not ready (as a dependency down) while this file exists");
        c.call_delay =
            env.Duration("PROBE_CALL_DELAY", std::chrono::milliseconds(0), "GetStatus takes this long");
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
        const auto not_ready_reason = [&c]() -> std::string {
          std::error_code ec;
          const bool down = !c.not_ready_file.empty() && std::filesystem::exists(c.not_ready_file, ec);
          return down ? "dependency down (" + c.not_ready_file + " exists)" : "";
        };
        rainbow::ops::OpsHttpServer http(c.common.http_addr, registry, not_ready_reason);
        ProbeStatusService status(c.call_delay);
        rainbow::grpc_server::GrpcServer grpc(c.common.grpc_addr);
        grpc.LimitThreads(c.common.grpc_max_threads);
        grpc.AddService(&status, rainbow::cdc::v1::CdcStatusService::service_full_name());
        grpc.FollowReadiness(not_ready_reason, std::chrono::milliseconds(100));
        grpc.Start();
        rainbow::log::Info("ready", {{"grpc_port", grpc.port()}, {"http_port", http.port()}});
        const auto sig = rainbow::ops::WaitForTerminationSignal();
        rainbow::log::Info("draining", {{"signal", *sig}});
        grpc.Shutdown(c.drain);
        return 0;
      });
}
