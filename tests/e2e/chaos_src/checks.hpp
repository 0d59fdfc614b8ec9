#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/s3/client.hpp"
#include "tests/e2e/chaos_src/load.hpp"

namespace rainbow::chaos {

// The outcome of one end-of-run check: ok, or what is wrong (the first few problems and a count).
struct CheckResult {
  std::string name;
  bool ok = true;
  std::string detail;
};

// Orders in PostgreSQL: one order per Idempotency-Key of the run, the id its client was given, every
// line as planned, and no order beyond those (no duplicate, no half order).
CheckResult CheckOrdersInDatabase(const std::string& pg_dsn, int64_t baseline_id, const std::string& run,
                                  int orders, const Catalog& catalog,
                                  const std::map<std::string, int64_t>& acknowledged);

// Every acknowledged order and each of its lines as a change event on Kafka (rainbow.public.orders and
// rainbow.public.orderdetails), read from the beginning.
CheckResult CheckOrderEventsOnKafka(const std::string& brokers, const std::string& run, int orders,
                                    const Catalog& catalog,
                                    const std::map<std::string, int64_t>& acknowledged,
                                    std::chrono::seconds wait);

// Every dropped file COMPLETED, its XML in `converted` with the SHA-256 the tracker recorded, and no
// other object under the run's prefix in `converted`.
CheckResult CheckFilesConverted(const s3::S3Config& s3, const std::string& state_grpc,
                                const std::vector<std::string>& keys, const std::string& run,
                                std::chrono::seconds wait);

// The loader's Reconcile reports zero difference (source, warehouse and serving layer).
CheckResult CheckReconcile(const std::string& loader_grpc, std::chrono::seconds wait);

}  // namespace rainbow::chaos
