#include "services/s3-converter/src/config.hpp"

#include "common/s3/config_env.hpp"

#include <unistd.h>

#include <algorithm>
#include <sstream>

namespace rainbow::converter {

using namespace std::chrono_literals;

ConverterConfig LoadConfig(config::Env& env) {
  ConverterConfig c;
  // DRAIN_TIMEOUT: in-flight conversions may finish, then are cancelled (aborted).
  c.common = ops::LoadCommonConfig(env, "127.0.0.1:50054", "127.0.0.1:8084", 30s);
  c.kafka_brokers = env.RequireString("KAFKA_BROKERS", "Kafka bootstrap servers (files.state wake-ups)");
  c.s3 = s3::ConfigFromEnv(env, "S3 endpoint");
  c.state_grpc = env.RequireString("CONVERTER_STATE_GRPC", "state-tracker gRPC address (host:port)");
  c.state_deadline = env.Duration("CONVERTER_STATE_DEADLINE", 10s,
                                  "deadline of each call to state-tracker (a late answer is retried)");
  c.output_bucket = env.String("CONVERTER_OUTPUT_BUCKET", "converted", "bucket the XML is written to");
  const std::string sources =
      env.String("CONVERTER_SOURCE_BUCKETS", "raw",
                 "comma-separated buckets conversions may read (nothing else is read)");
  c.tracker_client = security::LoadClient(env);
  c.workers =
      static_cast<int>(env.Int("CONVERTER_WORKERS", 2, 0, 64, "conversion workers (0: gRPC Convert only)"));
  c.max_concurrent_converts =
      static_cast<int>(env.Int("CONVERTER_MAX_CONCURRENT_CONVERTS", 4, 1, 1024,
                               "on-demand Convert RPCs at once (more: RESOURCE_EXHAUSTED)"));
  c.lease = env.Duration("CONVERTER_LEASE", 30s, "lease asked for on Claim, renewed by heartbeats");
  c.heartbeat = env.Duration("CONVERTER_HEARTBEAT", 10s, "heartbeat interval while converting (< lease)");
  c.poll_interval =
      env.Duration("CONVERTER_POLL_INTERVAL", 2s, "claim poll when no files.state event woke us");
  c.health_interval = env.Duration("CONVERTER_HEALTH_INTERVAL", 5s,
                                   "S3 health check; while it fails /readyz names s3 and nothing is claimed");
  c.state_topic = env.String("CONVERTER_STATE_TOPIC", "files.state", "state events that wake idle workers");
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  c.worker_id = env.String("CONVERTER_WORKER_ID", std::string(host) + "-" + std::to_string(::getpid()),
                           "worker id prefix (workers are <prefix>-<n>)");
  auto& p = c.pipeline;
  p.upload_part_size = static_cast<uint64_t>(env.Int("CONVERTER_PART_SIZE", 8ll << 20, 5ll << 20, 5ll << 30,
                                                     "multipart part size in bytes (>= 5 MiB)"));
  p.upload_concurrency = static_cast<int>(
      env.Int("CONVERTER_UPLOAD_CONCURRENCY", 2, 1, 64, "parts uploaded in parallel per file"));
  p.download_part_size = static_cast<uint64_t>(
      env.Int("CONVERTER_DOWNLOAD_PART_SIZE", 1ll << 20, 64ll << 10, 1ll << 30, "ranged GET size in bytes"));
  p.download_concurrency = static_cast<int>(
      env.Int("CONVERTER_DOWNLOAD_CONCURRENCY", 3, 1, 64, "ranged GETs in parallel per file"));
  p.part_attempts =
      static_cast<int>(env.Int("CONVERTER_PART_ATTEMPTS", 5, 1, 20, "tries per upload part in all"));
  p.xml.root_name = env.String("CONVERTER_ROOT_NAME", "products", "XML root element");
  p.xml.record_name = env.String("CONVERTER_RECORD_NAME", "product", "XML element per JSON object");
  const std::string items = env.String(
      "CONVERTER_ITEM_NAMES",
      "countryOfOrigin=entry,itemSellingPrices=price,itemGrossPrices=price,fabricCompositions=composition",
      "element name of list items per key (key=name,...)");
  p.xml.default_item_name =
      env.String("CONVERTER_DEFAULT_ITEM_NAME", "item", "list item element for other keys");
  p.xml.limits.max_token_bytes = static_cast<size_t>(env.Int(
      "CONVERTER_MAX_TOKEN_BYTES", 16ll << 20, 1024, 1ll << 30, "longest JSON string/number accepted"));
  if (!env.describing()) {
    c.source_buckets.clear();
    std::stringstream list(sources);
    for (std::string b; std::getline(list, b, ',');) {
      if (b.empty()) continue;
      try {
        s3::BucketName check(b);
      } catch (const std::exception& e) {
        throw config::ConfigError("CONVERTER_SOURCE_BUCKETS",
                                  std::string("CONVERTER_SOURCE_BUCKETS: ") + e.what());
      }
      c.source_buckets.push_back(b);
    }
    if (c.source_buckets.empty()) {
      throw config::ConfigError("CONVERTER_SOURCE_BUCKETS", "CONVERTER_SOURCE_BUCKETS names no bucket");
    }
    try {
      p.xml.item_names = ParseItemNames(items);
    } catch (const std::exception& e) {
      throw config::ConfigError("CONVERTER_ITEM_NAMES", std::string("CONVERTER_ITEM_NAMES: ") + e.what());
    }
    if (c.lease > std::chrono::hours(1)) {
      throw config::ConfigError("CONVERTER_LEASE",
                                "CONVERTER_LEASE must be at most 1h (state-tracker's limit)");
    }
    if (c.heartbeat >= c.lease) {
      throw config::ConfigError("CONVERTER_HEARTBEAT",
                                "CONVERTER_HEARTBEAT must be shorter than CONVERTER_LEASE");
    }
  }
  return c;
}

bool IsSourceBucket(const ConverterConfig& config, const std::string& bucket) {
  return std::find(config.source_buckets.begin(), config.source_buckets.end(), bucket) !=
         config.source_buckets.end();
}

}  // namespace rainbow::converter
