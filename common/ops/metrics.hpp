#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rainbow::ops {

// The one metrics registry of the process (STYLE.md: one registry per process; each module registers
// its own families in it). Created on first use with process_* gauges (RSS, CPU, start time, threads)
// read from /proc at scrape time. Thread-safe.
std::shared_ptr<prometheus::Registry> MetricsRegistry();

// The text exposition of a registry, as served on /metrics.
std::string RenderMetrics(prometheus::Registry& registry);

// Runs `hook` before every scrape (e.g. to copy a pool's state into gauges), instead of updating such
// gauges on every request. Thread-safe; hooks live for the process.
void AddScrapeHook(std::function<void()> hook);

// Families and unlabelled metrics of a service's metrics class, registered in `registry` (each
// service's src/metrics.cpp builds its metrics with these, so every one reads the same).
prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& registry,
                                                       const std::string& name, const std::string& help);
prometheus::Family<prometheus::Gauge>& GaugeFamily(prometheus::Registry& registry, const std::string& name,
                                                   const std::string& help);
prometheus::Family<prometheus::Histogram>& HistogramFamily(prometheus::Registry& registry,
                                                           const std::string& name, const std::string& help);
prometheus::Counter& Counter(prometheus::Registry& registry, const std::string& name,
                             const std::string& help);
prometheus::Gauge& Gauge(prometheus::Registry& registry, const std::string& name, const std::string& help);
prometheus::Histogram& Histogram(prometheus::Registry& registry, const std::string& name,
                                 const std::string& help,
                                 const prometheus::Histogram::BucketBoundaries& buckets);

// The children of one labelled family, each looked up once and kept: Family::Add hashes the label set
// under the family's lock on every call, too slow for a hot path. Only for label sets bounded by
// construction (route templates, codes, enum values; never ids). Thread-safe; children live as long
// as the registry.
template <typename Metric>
class LabeledMetrics {
 public:
  // Makes the child for a label set (Family::Add, with a histogram's buckets).
  using Make = std::function<Metric&(const prometheus::Labels&)>;

  LabeledMetrics(std::vector<std::string> label_names, Make make)
      : names_(std::move(label_names)), make_(std::move(make)) {}
  LabeledMetrics(prometheus::Family<Metric>& family, std::vector<std::string> label_names)
      : LabeledMetrics(std::move(label_names),
                       [&family](const prometheus::Labels& l) -> Metric& { return family.Add(l); }) {}

  // The child for these label values, in the order of the label names.
  Metric& Get(const std::vector<std::string>& values) {
    std::string key;
    for (const auto& v : values) key += v + '\x1f';
    std::lock_guard lock(mu_);
    auto it = children_.find(key);
    if (it == children_.end()) {
      prometheus::Labels labels;
      for (size_t i = 0; i < names_.size() && i < values.size(); ++i) labels.emplace(names_[i], values[i]);
      it = children_.emplace(std::move(key), &make_(labels)).first;
    }
    return *it->second;
  }

 private:
  const std::vector<std::string> names_;
  const Make make_;
  std::mutex mu_;
  std::map<std::string, Metric*> children_;
};

}  // namespace rainbow::ops
