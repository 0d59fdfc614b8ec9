// s3-converter: JSON in S3 -> XML in S3, streaming (wiring only; logic in src/).
#include <malloc.h>

#include <atomic>
#include <chrono>

#include <thread>

#include "common/grpc_server/grpc_server.hpp"
#include "common/ops/background.hpp"
#include "common/ops/metrics.hpp"
#include "common/ops/ops_http_server.hpp"
#include "common/ops/readiness.hpp"
#include "common/ops/service_main.hpp"
#include "services/s3-converter/src/config.hpp"
#include "services/s3-converter/src/grpc_service.hpp"
#include "services/s3-converter/src/wake_consumer.hpp"
#include "services/s3-converter/src/worker.hpp"

namespace {

using namespace rainbow;
namespace conv = rainbow::converter;

int Run(const conv::ConverterConfig& c) {
  auto registry = ops::MetricsRegistry();
  conv::ConverterMetrics metrics(*registry);
  s3::S3Client s3(c.s3);
  conv::TrackerClient tracker(c.state_grpc, c.tracker_client, c.state_deadline);
  conv::WorkerPool pool(c, s3, tracker, metrics);

  ops::Readiness readiness;
  readiness.AddCondition("wake-ups", "files.state consumer starting");
  // S3 health: a one-key listing of the output bucket every CONVERTER_HEALTH_INTERVAL, with one try
  // and short timeouts (the conversions' client retries; a probe must answer fast). Workers claim
  // nothing while it fails, so an S3 outage does not burn the files' attempts.
  readiness.AddCondition("s3", "S3 not checked yet");
  std::atomic<bool> s3_healthy{false};
  s3::S3Config probe_config = c.s3;
  probe_config.retry.max_attempts = 1;
  probe_config.connect_timeout = std::chrono::milliseconds(2'000);
  probe_config.request_timeout = std::chrono::milliseconds(5'000);
  s3::S3Client s3_probe(probe_config);
  const auto check_s3 = [&] {
    try {
      s3::ListOptions one;
      one.max_keys = 1;
      s3_probe.ListObjectsV2(s3::BucketName(c.output_bucket), one);
      s3_healthy = true;
      readiness.Set("s3");
    } catch (const std::exception& e) {
      s3_healthy = false;
      readiness.Set("s3", std::string("S3 unreachable: ") + e.what());
    }
  };
  check_s3();
  std::jthread s3_checker([&](std::stop_token stop) {
    ops::RunUntilStopped(stop, "S3 health check", check_s3, {c.health_interval, c.health_interval});
  });
  if (c.workers > 0) pool.ReportTo(&readiness, [&s3_healthy] { return s3_healthy.load(); });
  // Wake-ups: a files.state event making a file claimable wakes idle workers.
  std::jthread waker([&](std::stop_token stop) {
    conv::RunWakeUps(
        stop, c.kafka_brokers, "s3-converter-" + c.worker_id, c.state_topic, [&pool] { pool.Wake(); },
        [&readiness] { readiness.Set("wake-ups"); });
  });

  ops::OpsHttpServer http(c.common.http_addr, registry, readiness);
  const security::Authorizer auth(c.common.auth);
  conv::ConverterGrpcService service(c, s3, metrics, auth);
  grpc_server::GrpcServer grpc(c.common.grpc_addr);
  grpc.UseTls(c.common.grpc_tls);
  grpc.LimitThreads(c.common.grpc_max_threads);
  grpc.AddService(&service, conv::v1::ConverterService::service_full_name());
  grpc.FollowReadiness([&readiness] { return readiness.NotReadyReason(); });  // as /readyz says
  grpc.Start();
  pool.Start();
  log::Info("ready", {{"grpc_port", grpc.port()},
                      {"http_port", http.port()},
                      {"workers", c.workers},
                      {"worker_id", c.worker_id},
                      {"state_grpc", c.state_grpc}});

  const auto sig = ops::WaitForTerminationSignal();
  log::Info("draining", {{"signal", sig.value_or(0)}});
  readiness.SetDraining();
  grpc.Shutdown(c.common.drain_timeout);
  pool.Stop(c.common.drain_timeout);
  waker.request_stop();
  waker.join();
  s3_checker.request_stop();
  s3_checker.join();
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
  return ops::RunService<conv::ConverterConfig>(
      {"s3-converter", RAINBOW_VERSION, "JSON objects in S3 to XML objects in S3, streaming"}, argc, argv,
      conv::LoadConfig, Run);
}
