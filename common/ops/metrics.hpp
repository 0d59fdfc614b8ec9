#pragma once

#include <prometheus/registry.h>

#include <functional>
#include <memory>

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

}  // namespace rainbow::ops
