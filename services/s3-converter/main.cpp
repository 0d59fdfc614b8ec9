// s3-converter: JSON in S3 -> XML in S3, streaming (wiring only; logic in src/).
#include <malloc.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/grpc/grpc_server.hpp"
#include "common/kafka/consumer.hpp"
#include "common/ops/metrics.hpp"
#include "common/ops/ops_http_server.hpp"
#include "common/ops/service_main.hpp"
#include "services/s3-converter/src/config.hpp"
#include "services/s3-converter/src/grpc_service.hpp"
#include "services/s3-converter/src/worker.hpp"

namespace {

using namespace std::chrono_literals;
namespace conv = rainbow::converter;
namespace log = rainbow::log;

int Run(const conv::ConverterConfig& c) {
  auto registry = rainbow::ops::MetricsRegistry();
  conv::ConverterMetrics metrics(*registry);
  rainbow::s3::S3Client s3(c.s3);
  conv::TrackerClient tracker(c.state_grpc);
  conv::WorkerPool pool(c, s3, tracker, metrics);

  // Wake-ups: every instance reads files.state in its own group from the end; a PENDING or FAILED
  // event wakes idle workers (the poll interval covers lost or late events).
  std::atomic<bool> stop{false};
  std::atomic<bool> wake_ready{false};
  std::thread waker([&] {
    try {
      rainbow::kafka::Consumer consumer(
          {c.kafka_brokers, "s3-converter-" + c.worker_id, {c.state_topic}, "s3-converter", "latest"});
      wake_ready = true;
      while (!stop) {
        auto m = consumer.Poll(200ms);
        if (!m || !m->value) continue;
        const auto j = nlohmann::json::parse(*m->value, nullptr, false);
        if (j.is_object() && j.contains("state") && (j["state"] == "PENDING" || j["state"] == "FAILED"))
          pool.Wake();
      }
      consumer.Close();
    } catch (const std::exception& e) {
      wake_ready = true;  // polling still works
      log::Error("files.state wake-up consumer stopped; polling only", {{"error", e.what()}});
    }
  });

  const auto not_ready_reason = [&]() -> std::string {
    return wake_ready ? std::string() : std::string("files.state consumer starting");
  };
  rainbow::ops::OpsHttpServer http(c.common.http_addr, registry, not_ready_reason);
  conv::ConverterServiceImpl service(c, s3, metrics);
  rainbow::grpc_boot::GrpcServer grpc(c.common.grpc_addr);
  grpc.AddService(&service, conv::v1::ConverterService::service_full_name());
  grpc.FollowReadiness(not_ready_reason);  // gRPC health says what /readyz says
  grpc.Start();
  pool.Start();
  log::Info("ready", {{"grpc_port", grpc.port()},
                      {"http_port", http.port()},
                      {"workers", c.workers},
                      {"worker_id", c.worker_id},
                      {"state_grpc", c.state_grpc}});

  const auto sig = rainbow::ops::WaitForTerminationSignal();
  log::Info("draining", {{"signal", sig.value_or(0)}});
  grpc.Shutdown(c.drain);
  pool.Stop(c.drain);
  stop = true;
  waker.join();
  log::Info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Part buffers (MiBs each) are allocated and freed all the time by many threads. glibc's dynamic
  // mmap threshold would move them onto per-thread heaps that rarely shrink, so RSS would creep far
  // above what is live; a fixed threshold keeps them mmapped (returned on free) and few arenas keep
  // the small-object heaps compact. Memory then stays bounded by the configured parts.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  mallopt(M_ARENA_MAX, 2);
  return rainbow::ops::RunService<conv::ConverterConfig>(
      {"s3-converter", RAINBOW_VERSION_STRING, "JSON objects in S3 to XML objects in S3, streaming"}, argc,
      argv, conv::LoadConfig, Run);
}
