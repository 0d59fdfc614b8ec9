// state-tracker: file states of flow B in Redis (wiring only; logic in src/).
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/grpc_server/grpc_server.hpp"
#include "common/kafka/dead_letter.hpp"
#include "common/kafka/producer.hpp"
#include "common/ops/background.hpp"
#include "common/ops/metrics.hpp"
#include "common/ops/ops_http_server.hpp"
#include "common/ops/readiness.hpp"
#include "common/ops/service_main.hpp"
#include "services/state-tracker/src/config.hpp"
#include "services/state-tracker/src/event_relay.hpp"
#include "services/state-tracker/src/grpc_service.hpp"
#include "services/state-tracker/src/lease_sweeper.hpp"
#include "services/state-tracker/src/notification_consumer.hpp"

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
  state::RedisPool pool({c.redis_url}, static_cast<size_t>(c.redis_pool));
  state::StateStore store(pool, c.store);
  kafka::Producer producer({c.kafka_brokers, "state-tracker"});  // DLQ
  kafka::DeadLetterWriter dead_letters(producer, c.kafka_brokers, c.topics, "state-tracker");
  kafka::Producer relay_producer({c.kafka_brokers, "state-tracker-relay"});

  ops::Readiness readiness;
  readiness.AddCondition("consumer", "files.events consumer starting");
  state::LeaseSweeper sweeper(store, metrics, readiness);

  // Sweeper: expired leases back to PENDING; also refreshes the per-state gauges.
  std::jthread sweeper_thread([&](std::stop_token stop) {
    ops::RunUntilStopped(stop, "sweep", [&] { sweeper.RunOnce(); }, {c.sweep_interval, c.sweep_interval});
  });
  // Relay: the outbox stream (written by the transition scripts) -> files.state, at least once.
  std::jthread relay_thread([&](std::stop_token stop) {
    state::EventRelay relay({c.redis_url}, c.store.prefix, relay_producer, c.state_topic,
                            RelayConsumerName());
    ops::RunUntilStopped(stop, "files.state relay", [&] {
      relay.RunOnce(200ms);
      relay.ReclaimIfDue(5s);
    });
  });
  // Consumer: files.events -> Register.
  std::jthread consumer_thread([&](std::stop_token stop) {
    state::NotificationConsumer consumer({c.kafka_brokers, c.consumer_group, c.events_topic, c.accept_prefix},
                                         store, dead_letters, metrics);
    readiness.Set("consumer");
    ops::RunUntilStopped(stop, "files.events poll", [&] { consumer.RunOnce(stop, 200ms); }, {0ms, 1s});
  });

  ops::OpsHttpServer http(c.common.http_addr, registry, readiness);
  state::FileStateGrpcService service(store, metrics, c.default_lease);
  // The transitions are on gRPC's callback API (no thread held per call); the sync pollers serve only
  // Get, List and Stats.
  grpc_server::GrpcServer grpc(c.common.grpc_addr, 16 * 1024 * 1024, static_cast<int>(c.grpc_max_pollers));
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
