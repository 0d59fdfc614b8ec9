#pragma once

#include <atomic>

#include "common/s3/client.hpp"
#include "common/security/authorizer.hpp"
#include "rainbow/s3_converter.grpc.pb.h"
#include "services/s3-converter/src/config.hpp"
#include "services/s3-converter/src/metrics.hpp"

namespace rainbow::converter {

// gRPC ConverterService: on-demand Convert(bucket, key) outside the tracker (no state recorded).
// Errors: INVALID_ARGUMENT (bad names, invalid JSON, wrong shape), NOT_FOUND (no such source object;
// a missing output bucket is INTERNAL: S3, permanent), DATA_LOSS (checksum),
// UNAVAILABLE (retryable S3 errors), INTERNAL; RESOURCE_EXHAUSTED when config.max_concurrent_converts
// calls are already converting (each holds buffers and threads: the bound keeps memory bounded);
// UNAUTHENTICATED / PERMISSION_DENIED without scope files:convert, and PERMISSION_DENIED for a bucket
// that is not a configured source (CONVERTER_SOURCE_BUCKETS) or output (CONVERTER_OUTPUT_BUCKET).
class ConverterGrpcService final : public rainbow::converter::v1::ConverterService::Service {
 public:
  ConverterGrpcService(const ConverterConfig& config, s3::S3Client& s3, ConverterMetrics& metrics,
                       const security::Authorizer& auth)
      : config_(config), s3_(s3), metrics_(metrics), auth_(auth) {}
  grpc::Status Convert(grpc::ServerContext* ctx, const v1::ConvertRequest* req,
                       v1::ConvertResponse* resp) override;

 private:
  const ConverterConfig& config_;
  s3::S3Client& s3_;
  ConverterMetrics& metrics_;
  const security::Authorizer& auth_;
  std::atomic<int> running_{0};
};

// The gRPC status for a conversion error (one place for the mapping).
grpc::Status ToStatus(const ConversionError& e);

}  // namespace rainbow::converter
