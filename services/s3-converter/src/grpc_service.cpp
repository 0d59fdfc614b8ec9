#include "services/s3-converter/src/grpc_service.hpp"

#include "common/logging/log.hpp"
#include "common/security/grpc_security.hpp"
#include "common/security/scopes.hpp"

namespace rainbow::converter {

// The common mapping (error::GrpcCode of the error's kind), refined where gRPC has a closer code.
grpc::Status ToStatus(const ConversionError& e) {
  switch (e.reason()) {
    case FailureReason::kSourceChanged:
      return {grpc::StatusCode::ABORTED, e.what()};
    case FailureReason::kChecksumMismatch:
    case FailureReason::kVerifyFailed:
      return {grpc::StatusCode::DATA_LOSS, e.what()};
    case FailureReason::kCancelled:
      return {grpc::StatusCode::CANCELLED, e.what()};
    default:
      return error::ToGrpcStatus(e);
  }
}

grpc::Status ConverterGrpcService::Convert(grpc::ServerContext* ctx, const v1::ConvertRequest* req,
                                           v1::ConvertResponse* resp) {
  if (auto denied = security::Authorize(auth_, *ctx, security::scope::kFilesConvert); !denied.ok())
    return denied;
  const std::string out_bucket = req->output_bucket().empty() ? config_.output_bucket : req->output_bucket();
  log::Fields ids = {{"bucket", req->bucket()}, {"key", req->key()}, {"output_bucket", out_bucket}};
  // The service's S3 credentials may reach more than this service should touch: a caller names only
  // the buckets it was configured for.
  if (!IsSourceBucket(config_, req->bucket())) {
    log::Warn("convert refused: source bucket not allowed", ids);
    return {grpc::StatusCode::PERMISSION_DENIED,
            "bucket '" + req->bucket() + "' is not one this converter reads (CONVERTER_SOURCE_BUCKETS)"};
  }
  if (out_bucket != config_.output_bucket) {
    log::Warn("convert refused: output bucket not allowed", ids);
    return {grpc::StatusCode::PERMISSION_DENIED,
            "output bucket '" + out_bucket +
                "' is not this converter's (CONVERTER_OUTPUT_BUCKET=" + config_.output_bucket + ")"};
  }
  // A slot for this call, given back on every return.
  if (running_.fetch_add(1) >= config_.max_concurrent_converts) {
    running_.fetch_sub(1);
    return {grpc::StatusCode::RESOURCE_EXHAUSTED,
            "already " + std::to_string(config_.max_concurrent_converts) +
                " Convert calls in progress (CONVERTER_MAX_CONCURRENT_CONVERTS); retry later"};
  }
  struct Slot {
    std::atomic<int>& n;
    ~Slot() { n.fetch_sub(1); }
  } slot{running_};
  try {
    const s3::BucketName src_bucket(req->bucket());
    const s3::ObjectKey src_key(req->key());
    const s3::BucketName dst_bucket(out_bucket);
    const s3::ObjectKey dst_key(OutputKeyFor(req->key()));
    PipelineHooks hooks = metrics_.Hooks();
    hooks.cancelled = [ctx] { return ctx->IsCancelled(); };
    metrics_.in_flight.Increment();
    ConvertResult r;
    try {
      r = ConvertObject(s3_, src_bucket, src_key, "", dst_bucket, dst_key, config_.pipeline, hooks);
    } catch (...) {
      metrics_.in_flight.Decrement();
      throw;
    }
    metrics_.in_flight.Decrement();
    metrics_.Succeeded(r);
    resp->set_output_bucket(r.output_bucket);
    resp->set_output_key(r.output_key);
    resp->set_sha256(r.sha256_hex);
    resp->set_bytes_in(r.bytes_in);
    resp->set_bytes_out(r.bytes_out);
    resp->set_records(r.records);
    ids["sha256"] = r.sha256_hex;
    ids["bytes_in"] = r.bytes_in;
    log::Info("converted on demand", ids);
    return grpc::Status::OK;
  } catch (const ConversionError& e) {
    metrics_.Failed(e.reason());
    ids["error"] = e.what();
    log::Warn("on-demand conversion failed", ids);
    return ToStatus(e);
  } catch (const std::exception& e) {  // an invalid bucket or key name: INVALID_ARGUMENT
    return error::ToGrpcStatus(e);
  }
}

}  // namespace rainbow::converter
