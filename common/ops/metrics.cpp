#include "common/ops/metrics.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace rainbow::ops {
namespace {

prometheus::MetricFamily Gauge(const std::string& name, const std::string& help, double value,
                               prometheus::MetricType type = prometheus::MetricType::Gauge) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  return family;
}

// process_* metrics as the Prometheus client libraries of other languages export them, so the
// footprint of a service (RSS, CPU) can be compared with the tools it replaces.
class ProcessCollector final : public prometheus::Collectable {
 public:
  ProcessCollector()
      : start_seconds_(
            std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    std::ifstream stat("/proc/self/stat");
    std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const auto close = content.rfind(')');
    if (close != std::string::npos) {
      std::istringstream fields(content.substr(close + 2));
      std::vector<std::string> f{std::istream_iterator<std::string>(fields),
                                 std::istream_iterator<std::string>()};
      // f[0] is field 3 (state); utime=14, stime=15, num_threads=20, rss=24 (1-based in proc(5)).
      if (f.size() > 21) {
        const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
        const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
        const double rss = std::stod(f[21]) * static_cast<double>(sysconf(_SC_PAGESIZE));
        out.push_back(Gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                            cpu, prometheus::MetricType::Counter));
        out.push_back(Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", rss));
        out.push_back(Gauge("process_threads", "Number of OS threads in the process.", std::stod(f[17])));
      }
    }
    out.push_back(Gauge("process_start_time_seconds",
                        "Start time of the process since unix epoch in seconds.", start_seconds_));
    return out;
  }

 private:
  double start_seconds_;
};

}  // namespace

std::shared_ptr<prometheus::Registry> MetricsRegistry() {
  static auto registry = [] {
    auto r = std::make_shared<prometheus::Registry>();
    return r;
  }();
  return registry;
}

namespace {
std::mutex g_hooks_mu;
std::vector<std::function<void()>>& Hooks() {
  static std::vector<std::function<void()>> hooks;
  return hooks;
}
}  // namespace

void AddScrapeHook(std::function<void()> hook) {
  std::lock_guard lock(g_hooks_mu);
  Hooks().push_back(std::move(hook));
}

std::string RenderMetrics(prometheus::Registry& registry) {
  {
    std::lock_guard lock(g_hooks_mu);
    for (const auto& hook : Hooks()) hook();
  }
  static const ProcessCollector process;
  auto families = registry.Collect();
  for (auto& f : process.Collect()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& registry,
                                                       const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Gauge>& GaugeFamily(prometheus::Registry& registry, const std::string& name,
                                                   const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Histogram>& HistogramFamily(prometheus::Registry& registry,
                                                           const std::string& name, const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

prometheus::Counter& Counter(prometheus::Registry& registry, const std::string& name,
                             const std::string& help) {
  return CounterFamily(registry, name, help).Add({});
}

prometheus::Gauge& Gauge(prometheus::Registry& registry, const std::string& name, const std::string& help) {
  return GaugeFamily(registry, name, help).Add({});
}

prometheus::Histogram& Histogram(prometheus::Registry& registry, const std::string& name,
                                 const std::string& help,
                                 const prometheus::Histogram::BucketBoundaries& buckets) {
  return HistogramFamily(registry, name, help).Add({}, buckets);
}

}  // namespace rainbow::ops
