#include "services/loader/src/config.hpp"

#include "common/s3/config_env.hpp"

namespace rainbow::loader {

using namespace std::chrono_literals;

LoaderConfig LoadConfig(config::Env& env) {
  LoaderConfig c;
  c.common =
      ops::LoadCommonConfig(env, "127.0.0.1:50055", "127.0.0.1:8085");  // DRAIN_TIMEOUT: the batch in flight
  c.kafka_brokers = env.RequireString("KAFKA_BROKERS", "Kafka bootstrap servers");
  c.source_dsn = env.RequireSecret("PG_DSN", "libpq connection string of the source (OLTP) database");
  c.warehouse_dsn =
      env.Secret("LOADER_WAREHOUSE_DSN", "libpq connection string of the warehouse (default: PG_DSN)");
  if (c.warehouse_dsn.empty()) c.warehouse_dsn = c.source_dsn;
  c.pg_timeouts = pg::TimeoutsFromEnv(env);
  c.source_schema = env.String("LOADER_SOURCE_SCHEMA", "rainbow", "schema of the source tables (Reconcile)");
  c.topic_pattern =
      env.String("LOADER_TOPIC_PATTERN", "^rainbow\\.public\\.[a-z_][a-z0-9_]*$",
                 "regex of the change-event topics to load (new matching topics are picked up)");
  if (!env.describing() && (c.topic_pattern.empty() || c.topic_pattern[0] != '^'))
    throw config::ConfigError("LOADER_TOPIC_PATTERN",
                              "config: LOADER_TOPIC_PATTERN must be a regex starting with '^'");
  c.group = env.String("LOADER_GROUP", "loader", "Kafka consumer group of the warehouse sink");
  c.batch.max_events = env.Int("LOADER_BATCH_EVENTS", 5'000, 1, 1'000'000, "most events per warehouse batch");
  c.batch.max_bytes = env.Int("LOADER_BATCH_BYTES", 16 * 1024 * 1024, 1024, 1024LL * 1024 * 1024,
                              "most bytes per warehouse batch");
  c.batch.max_wait =
      env.Duration("LOADER_BATCH_WAIT", 200ms, "longest a batch waits to fill before it is written");
  c.model =
      env.Bool("LOADER_MODEL", true,
               "build dimensions and fact_sales (false: staging mirrors only, e.g. to feed another tool)");
  c.migrate = env.Bool("LOADER_MIGRATE", true, "apply the warehouse migrations at start");
  c.topics = kafka::LoadTopicSettings(env);
  c.lake.enabled = env.Bool("LOADER_LAKE", true, "write every event to the S3 lake");
  c.lake.bucket = env.String("LOADER_LAKE_BUCKET", "lake", "S3 bucket of the lake");
  c.lake.group = env.String("LOADER_LAKE_GROUP", "loader-lake", "Kafka consumer group of the lake sink");
  c.lake.window = env.Int("LOADER_LAKE_WINDOW", 10'000, 10, 10'000'000,
                          "offsets per lake object (per partition); a window is rewritten until full");
  c.lake.flush_interval =
      env.Duration("LOADER_LAKE_FLUSH_INTERVAL", 5s, "how often an unfinished lake window is written");
  c.clickhouse.url =
      env.String("LOADER_CLICKHOUSE_URL", "",
                 "ClickHouse HTTP URL of the serving layer, e.g. http://127.0.0.1:8123 (empty: off)");
  c.clickhouse.user = env.String("LOADER_CLICKHOUSE_USER", "default", "ClickHouse user");
  c.clickhouse.password = env.Secret("LOADER_CLICKHOUSE_PASSWORD", "ClickHouse password");
  c.clickhouse.database =
      env.String("LOADER_CLICKHOUSE_DATABASE", "rainbow", "ClickHouse database of the serving layer");
  c.clickhouse.interval = env.Duration("LOADER_CLICKHOUSE_INTERVAL", 1s,
                                       "pause between serving-layer copy rounds once caught up");
  c.clickhouse.batch_versions = env.Int("LOADER_CLICKHOUSE_BATCH", 100'000, 100, 1'000'000,
                                        "most warehouse versions (so rows) per ClickHouse insert");
  c.clickhouse.copy_lanes = static_cast<int>(
      env.Int("LOADER_CLICKHOUSE_LANES", 2, 1, 8,
              "windows of LOADER_CLICKHOUSE_BATCH versions copied to ClickHouse at once, each over a "
              "warehouse connection and a ClickHouse client of its own"));
  if (c.lake.enabled || env.describing()) {
    c.s3 = s3::ConfigFromEnv(env, "S3 endpoint of the lake");
  }
  return c;
}

}  // namespace rainbow::loader
