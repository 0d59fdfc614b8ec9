#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

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
  prometheus::Family<prometheus::Counter>& files;
  prometheus::Histogram& seconds;
  prometheus::Gauge& mb_per_second;
  prometheus::Counter& part_retries;
  prometheus::Family<prometheus::Counter>& failures;
  prometheus::Gauge& in_flight;
};

}  // namespace rainbow::converter
