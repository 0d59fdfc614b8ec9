#include "services/state-tracker/src/config.hpp"

#include "common/s3/config_env.hpp"

namespace rainbow::state {

using namespace std::chrono_literals;

TrackerConfig LoadConfig(config::Env& env) {
  TrackerConfig c;
  c.common = ops::LoadCommonConfig(env, "127.0.0.1:50053", "127.0.0.1:8083", 5s);
  c.kafka_brokers = env.RequireString("KAFKA_BROKERS", "Kafka bootstrap servers");
  c.topics = kafka::LoadTopicSettings(env);
  c.redis_url = env.RequireSecret(
      "REDIS_URL", "Redis holding the file states (redis[s]://[[user]:password@]host:port/db; a secret)");
  c.redis_ca_file = env.String("REDIS_CA_FILE", "",
                               "PEM CA bundle for a rediss:// (TLS) REDIS_URL (default: system trust store)");
  c.store.prefix =
      env.String("STATE_REDIS_PREFIX", "rainbow:{files}:", "prefix of every Redis key of the tracker");
  c.store.max_attempts = static_cast<uint32_t>(
      env.Int("STATE_MAX_ATTEMPTS", 3, 1, 1000, "claims of a file before it is terminally FAILED"));
  c.store.retry_delay =
      env.Duration("STATE_RETRY_DELAY", 1s, "a retryable failure is claimable again after this");
  c.store.max_retry_delay =
      env.Duration("STATE_MAX_RETRY_DELAY", 60s,
                   "cap of the doubling delay after infrastructure failures (which do not use up attempts)");
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
  c.require_durable_redis = env.Bool(
      "STATE_REQUIRE_DURABLE_REDIS", true,
      "refuse readiness and pause files.events until Redis fsyncs every write (appendonly yes, appendfsync "
      "always); false accepts losing acknowledged registrations when Redis' machine crashes");
  c.durability_check_interval = env.Duration("STATE_DURABILITY_CHECK_INTERVAL", 10s,
                                             "how often Redis' persistence settings are checked");
  c.reconcile_interval = env.Duration(
      "STATE_RECONCILE_INTERVAL", 5min,
      "how often the source bucket(s) are listed to register objects whose notification was lost (0: never)");
  c.reconcile_buckets = {
      env.String("STATE_RECONCILE_BUCKET", "raw", "the source bucket reconciliation lists")};
  if (c.reconcile_interval.count() > 0) {
    c.s3 = s3::ConfigFromEnv(env, "S3 endpoint for reconciliation");
  }
  c.redis_connect_timeout =
      env.Duration("STATE_REDIS_CONNECT_TIMEOUT", 2s, "connecting to Redis fails after this");
  c.redis_command_timeout = env.Duration(
      "STATE_REDIS_COMMAND_TIMEOUT", 5s,
      "a Redis reply not received within this fails the call (and readiness, for a frozen Redis)");
  return c;
}

}  // namespace rainbow::state
