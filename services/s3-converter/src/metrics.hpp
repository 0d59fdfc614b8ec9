#pragma once

#include "common/ops/metrics.hpp"
#include "services/s3-converter/src/s3_pipeline.hpp"

namespace rainbow::converter {

// s3-converter's metrics, registered in the process registry. Thread-safe.
struct ConverterMetrics {
  explicit ConverterMetrics(prometheus::Registry& registry);
  // Hooks that count bytes and part retries for one conversion.
  PipelineHooks Hooks();
  void Succeeded(const ConvertResult& result);
  void Failed(FailureReason reason);

  prometheus::Counter& bytes_in;
  prometheus::Counter& bytes_out;
  ops::LabeledMetrics<prometheus::Counter> files;  // by result
  prometheus::Histogram& seconds;
  prometheus::Gauge& bytes_per_second;
  prometheus::Counter& part_retries;
  ops::LabeledMetrics<prometheus::Counter> failures;  // by reason
  prometheus::Gauge& in_flight;
  prometheus::Counter& leases_expired;  // conversions stopped because no heartbeat was accepted in time
};

}  // namespace rainbow::converter
