#include "services/s3-converter/src/metrics.hpp"

namespace rainbow::converter {

ConverterMetrics::ConverterMetrics(prometheus::Registry& registry)
    : bytes_in(prometheus::BuildCounter()
                   .Name("converter_bytes_in_total")
                   .Help("JSON bytes read from S3.")
                   .Register(registry)
                   .Add({})),
      bytes_out(prometheus::BuildCounter()
                    .Name("converter_bytes_out_total")
                    .Help("XML bytes uploaded to S3.")
                    .Register(registry)
                    .Add({})),
      files(prometheus::BuildCounter()
                .Name("converter_files_total")
                .Help("Files converted, by result (rate = files/s).")
                .Register(registry)),
      seconds(
          prometheus::BuildHistogram()
              .Name("converter_conversion_seconds")
              .Help("Wall time of one S3-to-S3 conversion.")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300})),
      mb_per_second(prometheus::BuildGauge()
                        .Name("converter_conversion_mb_per_second")
                        .Help("Input MB/s of the last completed conversion.")
                        .Register(registry)
                        .Add({})),
      part_retries(prometheus::BuildCounter()
                       .Name("converter_part_retries_total")
                       .Help("Upload parts sent again after a retryable error.")
                       .Register(registry)
                       .Add({})),
      failures(prometheus::BuildCounter()
                   .Name("converter_failures_total")
                   .Help("Failed conversions, by reason.")
                   .Register(registry)),
      in_flight(prometheus::BuildGauge()
                    .Name("converter_in_flight")
                    .Help("Conversions running now.")
                    .Register(registry)
                    .Add({})) {
  files.Add({{"result", "completed"}});
  files.Add({{"result", "failed"}});
  for (auto r : {FailureReason::kInvalidJson, FailureReason::kWrongShape, FailureReason::kNotFound,
                 FailureReason::kSourceChanged, FailureReason::kChecksumMismatch, FailureReason::kS3,
                 FailureReason::kVerifyFailed, FailureReason::kCancelled, FailureReason::kInternal}) {
    failures.Add({{"reason", std::string(ToString(r))}});
  }
}

PipelineHooks ConverterMetrics::Hooks() {
  PipelineHooks h;
  h.on_bytes_in = [this](uint64_t n) { bytes_in.Increment(static_cast<double>(n)); };
  h.on_bytes_out = [this](uint64_t n) { bytes_out.Increment(static_cast<double>(n)); };
  h.on_part_retry = [this] { part_retries.Increment(); };
  return h;
}

void ConverterMetrics::Succeeded(const ConvertResult& r) {
  files.Add({{"result", "completed"}}).Increment();
  seconds.Observe(r.seconds);
  if (r.seconds > 0) mb_per_second.Set(static_cast<double>(r.bytes_in) / 1e6 / r.seconds);
}

void ConverterMetrics::Failed(FailureReason reason) {
  files.Add({{"result", "failed"}}).Increment();
  failures.Add({{"reason", std::string(ToString(reason))}}).Increment();
}

}  // namespace rainbow::converter
