// state-tracker: file states of flow B in Redis (wiring only; logic in src/).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/grpc/grpc_server.hpp"
#include "common/kafka/consumer.hpp"
#include "common/kafka/producer.hpp"
#include "common/ops/metrics.hpp"
#include "common/ops/ops_http_server.hpp"
#include "common/ops/service_main.hpp"
#include "services/state-tracker/src/event_relay.hpp"
#include "services/state-tracker/src/tracker_service.hpp"

namespace {

using namespace std::chrono_literals;
using rainbow::config::Env;
namespace log = rainbow::log;
namespace state = rainbow::state;

struct TrackerConfig {
  rainbow::ops::CommonConfig common;
  std::string kafka_brokers;
  std::string redis_url;
  state::StoreOptions store;
  std::string events_topic;
  std::string state_topic;
  std::string consumer_group;
  std::string accept_prefix;
  std::chrono::milliseconds sweep_interval{};
  std::chrono::milliseconds default_lease{};
  int64_t redis_pool = 1;
  int64_t grpc_max_pollers = 0;
  std::chrono::milliseconds drain{};
};

TrackerConfig Load(Env& env) {
  TrackerConfig c;
  c.common = rainbow::ops::LoadCommonConfig(env, "127.0.0.1:50053", "127.0.0.1:8083");
  c.kafka_brokers = env.RequireString("KAFKA_BROKERS", "Kafka bootstrap servers");
  c.redis_url = env.RequireString("REDIS_URL", "Redis holding the file states (redis://host:port/db)");
  c.store.prefix =
      env.String("STATE_REDIS_PREFIX", "rainbow:{files}:", "prefix of every Redis key of the tracker");
  c.store.max_attempts = static_cast<uint32_t>(
      env.Int("STATE_MAX_ATTEMPTS", 3, 1, 1000, "claims of a file before it is terminally FAILED"));
  c.store.retry_delay =
      env.Duration("STATE_RETRY_DELAY", 1s, "a retryable failure is claimable again after this");
  c.store.history_cap =
      static_cast<size_t>(env.Int("STATE_HISTORY_CAP", 50, 1, 10000, "transitions kept per file"));
  c.events_topic = env.String("STATE_EVENTS_TOPIC", "files.events", "bucket notifications to register");
  c.state_topic = env.String("STATE_STATE_TOPIC", "files.state", "where every transition is published");
  c.consumer_group =
      env.String("STATE_CONSUMER_GROUP", "state-tracker", "Kafka consumer group for files.events");
  c.accept_prefix = env.String("STATE_ACCEPT_PREFIX", "",
                               "register only objects whose \"bucket/key\" starts with this (empty: all)");
  c.sweep_interval = env.Duration("STATE_SWEEP_INTERVAL", 1s, "how often expired leases are swept");
  c.default_lease = env.Duration("STATE_DEFAULT_LEASE", 30s, "lease when a Claim/Heartbeat gives none");
  c.redis_pool = env.Int("STATE_REDIS_POOL", 1, 1, 64,
                         "Redis connections; concurrent calls' scripts are pipelined on them");
  c.grpc_max_pollers =
      env.Int("STATE_GRPC_MAX_POLLERS", 0, 0, 1024,
              "gRPC sync server polling threads kept, for Get/List/Stats (0: gRPC's default)");
  c.drain = env.Duration("STATE_DRAIN", 5s, "graceful drain time for in-flight gRPC calls on SIGTERM");
  return c;
}

int Run(const TrackerConfig& c) {
  auto registry = rainbow::ops::MetricsRegistry();
  state::TrackerMetrics metrics(*registry);
  state::RedisPool pool({c.redis_url}, static_cast<size_t>(c.redis_pool));
  state::StateStore store(pool, c.store);
  rainbow::kafka::Producer producer({c.kafka_brokers, "state-tracker"});  // DLQ
  rainbow::kafka::Producer relay_producer({c.kafka_brokers, "state-tracker-relay"});

  std::atomic<bool> stop{false};
  std::atomic<bool> consumer_ready{false};
  std::atomic<bool> redis_ok{false};

  // Sweeper: expired leases back to PENDING; also refreshes the per-state gauges.
  std::thread sweeper([&] {
    while (!stop) {
      try {
        state::SweepOnce(store, metrics);
        redis_ok = true;
      } catch (const std::exception& e) {
        redis_ok = false;
        log::Warn("sweep failed", {{"error", e.what()}});
      }
      for (auto waited = 0ms; waited < c.sweep_interval && !stop; waited += 50ms)
        std::this_thread::sleep_for(50ms);
    }
  });

  // Relay: the outbox stream (written by the transition scripts) -> files.state, at least once.
  std::thread relay_thread([&] {
    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    state::EventRelay relay({c.redis_url}, c.store.prefix, relay_producer, c.state_topic,
                            std::string(host) + "-" + std::to_string(::getpid()));
    auto last_reclaim = std::chrono::steady_clock::now();
    while (!stop) {
      try {
        relay.RunOnce(200ms);
        if (std::chrono::steady_clock::now() - last_reclaim > 5s) {
          relay.Reclaim();
          last_reclaim = std::chrono::steady_clock::now();
        }
      } catch (const std::exception& e) {
        log::Warn("files.state relay failed, retrying", {{"error", e.what()}});
        std::this_thread::sleep_for(500ms);
      }
    }
  });

  // Consumer: files.events -> Register, a batch at a time: what the poll brings (up to kIngestBatch
  // messages) is handled in order, and the batch's offsets are committed together once each of its
  // messages was registered (or dead-lettered). A Redis failure retries the same message, so nothing
  // is lost. One commit per batch, not per message: a synchronous commit is a broker round trip, and
  // per message it made a new consumer group replay a backlog at a few hundred messages a second.
  std::thread consumer_thread([&] {
    constexpr size_t kIngestBatch = 500;
    rainbow::kafka::Consumer consumer({c.kafka_brokers, c.consumer_group, {c.events_topic}, "state-tracker"});
    consumer_ready = true;
    while (!stop) {
      std::vector<rainbow::kafka::ConsumedMessage> batch;
      try {
        for (auto m = consumer.Poll(200ms); m; m = consumer.Poll(0ms)) {
          batch.push_back(std::move(*m));
          if (batch.size() == kIngestBatch) break;
        }
      } catch (const std::exception& e) {
        log::Error("files.events poll failed", {{"error", e.what()}});
        if (batch.empty()) {
          std::this_thread::sleep_for(1s);
          continue;
        }
      }
      std::map<std::pair<std::string, int32_t>, int64_t> handled;  // next offset per partition
      for (const auto& m : batch) {
        for (int attempt = 1; !stop; ++attempt) {
          try {
            state::IngestNotification(m, store, producer, metrics, c.accept_prefix);
            handled[{m.topic, m.partition}] = m.offset + 1;
            break;
          } catch (const std::exception& e) {
            log::Warn("notification not handled, retrying", {{"partition", m.partition},
                                                             {"offset", m.offset},
                                                             {"attempt", attempt},
                                                             {"error", e.what()}});
            std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(100ms * attempt, 2s));
          }
        }
        if (stop) break;  // what was handled so far is still committed below
      }
      if (handled.empty()) continue;
      try {
        consumer.Commit(handled);
      } catch (const std::exception& e) {
        // Not lost: uncommitted messages come again (after a restart or rebalance) and Register is
        // idempotent on bucket/key/etag; the next batch's commit covers these offsets too.
        log::Warn("files.events commit failed", {{"error", e.what()}, {"messages", batch.size()}});
      }
    }
    consumer.Close();
  });

  const auto not_ready_reason = [&]() -> std::string {
    if (!consumer_ready) return "files.events consumer starting";
    if (!redis_ok) return "redis not reachable";
    return {};
  };
  rainbow::ops::OpsHttpServer http(c.common.http_addr, registry, not_ready_reason);
  state::FileStateServiceImpl service(store, metrics, c.default_lease);
  // The transitions are on gRPC's callback API (no thread held per call); the sync pollers serve only
  // Get, List and Stats.
  rainbow::grpc_boot::GrpcServer grpc(c.common.grpc_addr, 16 * 1024 * 1024,
                                      static_cast<int>(c.grpc_max_pollers));
  grpc.AddService(&service, rainbow::files::v1::FileStateService::service_full_name());
  grpc.FollowReadiness(not_ready_reason);  // gRPC health says what /readyz says
  grpc.Start();
  log::Info("ready", {{"grpc_port", grpc.port()}, {"http_port", http.port()}, {"prefix", c.store.prefix}});

  const auto sig = rainbow::ops::WaitForTerminationSignal();
  log::Info("draining", {{"signal", sig.value_or(0)}});
  grpc.Shutdown(c.drain);
  stop = true;
  consumer_thread.join();
  sweeper.join();
  relay_thread.join();
  producer.Flush(5s);
  relay_producer.Flush(5s);
  log::Info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return rainbow::ops::RunService<TrackerConfig>(
      {"state-tracker", RAINBOW_VERSION_STRING, "file states of flow B (Redis), fed by files.events"}, argc,
      argv, Load, Run);
}
