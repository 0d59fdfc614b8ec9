#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/config/env.hpp"
#include "common/ops/service_main.hpp"
#include "common/s3/types.hpp"
#include "common/security/security_config.hpp"
#include "services/s3-converter/src/s3_pipeline.hpp"

namespace rainbow::converter {

// Everything s3-converter reads from its env, parsed once at start (see --help).
struct ConverterConfig {
  ops::CommonConfig common;
  std::string kafka_brokers;
  s3::S3Config s3;
  std::string state_grpc;                            // state-tracker's gRPC address
  std::chrono::milliseconds state_deadline{10'000};  // of each call to state-tracker
  std::string output_bucket = "converted";
  // Least privilege with the service's S3 credentials: conversions read only these buckets and write
  // only output_bucket, whoever asks (a Convert caller, or a file registered from another bucket).
  std::vector<std::string> source_buckets{"raw"};
  security::ClientConfig tracker_client;  // GRPC_CLIENT_*: TLS and token towards state-tracker
  PipelineOptions pipeline;
  int workers = 2;
  int max_concurrent_converts = 4;  // on-demand Convert RPCs at once; more are RESOURCE_EXHAUSTED
  std::chrono::milliseconds lease{30'000};
  std::chrono::milliseconds heartbeat{10'000};
  std::chrono::milliseconds poll_interval{2'000};
  std::chrono::milliseconds health_interval{5'000};  // S3 health check (readiness; workers pause)
  std::string state_topic = "files.state";
  std::string worker_id;  // prefix of the workers' ids (default host-pid)
};

ConverterConfig LoadConfig(config::Env& env);

// Whether a conversion of `bucket` may run: it must be one of config.source_buckets.
bool IsSourceBucket(const ConverterConfig& config, const std::string& bucket);

}  // namespace rainbow::converter
