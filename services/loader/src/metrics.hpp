#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

namespace rainbow::loader {

// The loader's metrics (README "Metrics"). Labels are bounded: tables, operations, sinks, outcomes,
// and topic-partitions of the captured tables.
class LoaderMetrics {
 public:
  explicit LoaderMetrics(prometheus::Registry& registry);

  void Events(const std::string& table, char op, double n);
  void DeadLetter(const std::string& table);
  void Batch(const std::string& sink, const std::string& outcome, double events, double seconds);
  // Source commit (source.ts_ms) to warehouse commit, per event.
  void Freshness(double seconds) { freshness_.Observe(seconds); }
  void FactRows(double n) { fact_rows_.Increment(n); }
  void Lag(const std::string& topic, int32_t partition, double lag);
  void LakeObject(double bytes);
  void LakeWindowDone(double events) { lake_events_.Increment(events); }
  void SinkUp(const std::string& sink, bool up);

 private:
  prometheus::Family<prometheus::Counter>& events_;
  prometheus::Family<prometheus::Counter>& dead_letters_;
  prometheus::Family<prometheus::Counter>& batches_;
  prometheus::Family<prometheus::Histogram>& batch_events_;
  prometheus::Family<prometheus::Histogram>& batch_seconds_;
  prometheus::Histogram& freshness_;
  prometheus::Counter& fact_rows_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Counter& lake_objects_;
  prometheus::Counter& lake_events_;
  prometheus::Counter& lake_bytes_;
  prometheus::Family<prometheus::Gauge>& sink_up_;
};

}  // namespace rainbow::loader
