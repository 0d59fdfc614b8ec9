// state-tracker: file states of flow B in Redis (wiring only; logic in src/).
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/grpc_server/grpc_server.hpp"
#include "common/kafka/dead_letter.hpp"
#include "common/kafka/producer.hpp"
#include "common/logging/log.hpp"
#include "common/ops/background.hpp"
#include "common/ops/metrics.hpp"
#include "common/ops/ops_http_server.hpp"
#include "common/ops/readiness.hpp"
#include "common/ops/service_main.hpp"
#include "common/s3/client.hpp"
#include "services/state-tracker/src/config.hpp"
#include "services/state-tracker/src/event_relay.hpp"
#include "services/state-tracker/src/grpc_service.hpp"
#include "services/state-tracker/src/lease_sweeper.hpp"
#include "services/state-tracker/src/notification_consumer.hpp"
#include "services/state-tracker/src/reconciler.hpp"
#include "services/state-tracker/src/redis_durability.hpp"

namespace {

using namespace std::chrono_literals;
using namespace rainbow;

std::string RelayConsumerName() {
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  return std::string(host) + "-" + std::to_string(::getpid());
}

int Run(const state::TrackerConfig& c) {
  auto registry = ops::MetricsRegistry();
  state::TrackerMetrics metrics(*registry);
  redis::RedisConfig redis_config{c.redis_url, c.redis_ca_file, c.redis_connect_timeout,
                                  c.redis_command_timeout};
  state::RedisPool pool(redis_config, static_cast<size_t>(c.redis_pool));
  state::StateStore store(pool, c.store);
  kafka::Producer producer({c.kafka_brokers, "state-tracker"});  // DLQ
  kafka::DeadLetterWriter dead_letters(producer, c.kafka_brokers, c.topics, "state-tracker");
  kafka::Producer relay_producer({c.kafka_brokers, "state-tracker-relay"});

  ops::Readiness readiness;
  readiness.AddCondition("consumer", "files.events consumer starting");
  readiness.AddCondition("relay", "files.state relay starting");
  state::LeaseSweeper sweeper(store, metrics, readiness);
  state::RedisDurabilityCheck durability(pool, readiness, c.require_durable_redis);

  // Durability: files.events offsets are committed only while Redis fsyncs every write.
  std::jthread durability_thread([&](std::stop_token stop) {
    ops::RunUntilStopped(stop, "redis durability check", [&] { durability.RunOnce(); },
                         {c.durability_check_interval, 1s});
  });
  // Reconciliation: objects in the source bucket whose notification never came are registered.
  std::unique_ptr<s3::S3Client> s3;
  std::jthread reconcile_thread;
  if (c.reconcile_interval.count() > 0) {
    s3 = std::make_unique<s3::S3Client>(c.s3);
    reconcile_thread = std::jthread([&](std::stop_token stop) {
      state::Reconciler reconciler(*s3, store, metrics, c.reconcile_buckets, c.accept_prefix);
      ops::RunUntilStopped(
          stop, "reconciliation", [&] { reconciler.RunOnce(); },
          {c.reconcile_interval, std::min<std::chrono::milliseconds>(c.reconcile_interval, 30s)});
    });
  } else {
    log::Warn("reconciliation is off (STATE_RECONCILE_INTERVAL=0): a lost notification is never registered");
  }

  // Sweeper: expired leases back to PENDING; also refreshes the per-state gauges.
  std::jthread sweeper_thread([&](std::stop_token stop) {
    ops::RunUntilStopped(stop, "sweep", [&] { sweeper.RunOnce(); }, {c.sweep_interval, c.sweep_interval});
  });
  // Relay: the outbox stream (written by the transition scripts) -> files.state, at least once.
  std::jthread relay_thread([&](std::stop_token stop) {
    state::EventRelay relay(redis_config, c.store.prefix, relay_producer, c.state_topic, RelayConsumerName());
    ops::RunUntilStopped(stop, "files.state relay", [&] {
      try {
        relay.RunOnce(200ms);
        relay.ReclaimIfDue(5s);
        readiness.Set("relay");
      } catch (const std::exception& e) {
        readiness.Set("relay", std::string("files.state relay failing: ") + e.what());
        throw;
      }
    });
  });
  // Consumer: files.events -> Register.
  std::jthread consumer_thread([&](std::stop_token stop) {
    state::NotificationConsumer consumer({c.kafka_brokers, c.consumer_group, c.events_topic, c.accept_prefix},
                                         store, dead_letters, metrics, durability);
    readiness.Set("consumer");
    ops::RunUntilStopped(stop, "files.events poll", [&] { consumer.RunOnce(stop, 200ms); }, {0ms, 1s});
  });

  ops::OpsHttpServer http(c.common.http_addr, registry, readiness);
  const security::Authorizer auth(c.common.auth);
  state::FileStateGrpcService service(store, metrics, c.default_lease, auth);
  // The transitions are on gRPC's callback API (no thread held per call); the sync pollers serve only
  // Get, List and Stats.
  grpc_server::GrpcServer grpc(c.common.grpc_addr, 16 * 1024 * 1024, static_cast<int>(c.grpc_max_pollers));
  grpc.UseTls(c.common.grpc_tls);
  grpc.LimitThreads(c.common.grpc_max_threads);
  grpc.AddService(&service, files::v1::FileStateService::service_full_name());
  grpc.FollowReadiness([&readiness] { return readiness.NotReadyReason(); });  // as /readyz says
  grpc.Start();
  log::Info("ready", {{"grpc_port", grpc.port()}, {"http_port", http.port()}, {"prefix", c.store.prefix}});

  const auto sig = ops::WaitForTerminationSignal();
  log::Info("draining", {{"signal", sig.value_or(0)}});
  readiness.SetDraining();
  grpc.Shutdown(c.common.drain_timeout);
  consumer_thread.request_stop();
  consumer_thread.join();
  sweeper_thread.request_stop();
  sweeper_thread.join();
  relay_thread.request_stop();
  relay_thread.join();
  durability_thread.request_stop();
  durability_thread.join();
  if (reconcile_thread.joinable()) {
    reconcile_thread.request_stop();
    reconcile_thread.join();
  }
  producer.Flush(5s);
  relay_producer.Flush(5s);
  log::Info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return ops::RunService<state::TrackerConfig>(
      {"state-tracker", RAINBOW_VERSION, "file states of flow B (Redis), fed by files.events"}, argc, argv,
      state::LoadConfig, Run);
}
