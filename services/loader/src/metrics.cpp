#include "services/loader/src/metrics.hpp"

#include "services/loader/src/dimensions.hpp"

namespace rainbow::loader {

LoaderMetrics::LoaderMetrics(prometheus::Registry& registry)
    : events_(prometheus::BuildCounter()
                  .Name("loader_events_total")
                  .Help("Change events applied to the warehouse, by source table and operation")
                  .Register(registry)),
      dead_letters_(prometheus::BuildCounter()
                        .Name("loader_dead_letters_total")
                        .Help("Messages sent to <topic>.dlq, by source table")
                        .Register(registry)),
      batches_(
          prometheus::BuildCounter()
              .Name("loader_batches_total")
              .Help("Batches by sink (warehouse, lake) and outcome (committed, retried, fenced, isolated)")
              .Register(registry)),
      batch_events_(prometheus::BuildHistogram()
                        .Name("loader_batch_events")
                        .Help("Events per committed batch, by sink")
                        .Register(registry)),
      batch_seconds_(prometheus::BuildHistogram()
                         .Name("loader_batch_seconds")
                         .Help("Time to write and commit one batch, by sink")
                         .Register(registry)),
      freshness_(
          prometheus::BuildHistogram()
              .Name("loader_freshness_seconds")
              .Help("Source commit (source.ts_ms) to warehouse commit, per event")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3,
                                                               0.5, 0.75, 1, 1.5, 2, 5, 10, 30, 60, 300})),
      fact_rows_(prometheus::BuildCounter()
                     .Name("loader_fact_rows_total")
                     .Help("fact_sales rows inserted or updated")
                     .Register(registry)
                     .Add({})),
      lag_(prometheus::BuildGauge()
               .Name("loader_consumer_lag")
               .Help("Messages behind the partition's end, for the warehouse consumer")
               .Register(registry)),
      lake_objects_(prometheus::BuildCounter()
                        .Name("loader_lake_objects_total")
                        .Help("Objects written to the lake bucket (a window rewritten counts again)")
                        .Register(registry)
                        .Add({})),
      lake_events_(prometheus::BuildCounter()
                       .Name("loader_lake_events_total")
                       .Help("Events in completed lake windows")
                       .Register(registry)
                       .Add({})),
      lake_bytes_(prometheus::BuildCounter()
                      .Name("loader_lake_bytes_total")
                      .Help("Compressed bytes written to the lake")
                      .Register(registry)
                      .Add({})),
      sink_up_(prometheus::BuildGauge()
                   .Name("loader_sink_up")
                   .Help("1 while a sink's last attempt succeeded, by sink")
                   .Register(registry)) {
  // Dead-letter series exist at 0 from the start for the tables the model loads, so a dashboard or an
  // alert on them sees "none yet" rather than "no such metric".
  for (const auto& d : Dimensions()) dead_letters_.Add({{"table", d.source_table}});
  for (const char* fact_source : {"orders", "orderdetails"}) dead_letters_.Add({{"table", fact_source}});
}

void LoaderMetrics::Events(const std::string& table, char op, double n) {
  events_.Add({{"table", table}, {"op", std::string(1, op)}}).Increment(n);
}

void LoaderMetrics::DeadLetter(const std::string& table) {
  dead_letters_.Add({{"table", table}}).Increment();
}

void LoaderMetrics::Batch(const std::string& sink, const std::string& outcome, double events,
                          double seconds) {
  batches_.Add({{"sink", sink}, {"outcome", outcome}}).Increment();
  if (outcome != "committed") return;
  static const prometheus::Histogram::BucketBoundaries kEvents{1, 10, 100, 1000, 5000, 10000, 50000};
  static const prometheus::Histogram::BucketBoundaries kSeconds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                0.5,   1,    2.5,   5,    10};
  batch_events_.Add({{"sink", sink}}, kEvents).Observe(events);
  batch_seconds_.Add({{"sink", sink}}, kSeconds).Observe(seconds);
}

void LoaderMetrics::Lag(const std::string& topic, int32_t partition, double lag) {
  lag_.Add({{"topic", topic}, {"partition", std::to_string(partition)}}).Set(lag);
}

void LoaderMetrics::LakeObject(double bytes) {
  lake_objects_.Increment();
  lake_bytes_.Increment(bytes);
}

void LoaderMetrics::SinkUp(const std::string& sink, bool up) {
  sink_up_.Add({{"sink", sink}}).Set(up ? 1 : 0);
}

}  // namespace rainbow::loader
