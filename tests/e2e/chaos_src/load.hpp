#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "common/s3/client.hpp"

namespace rainbow::chaos {

// The order the load creates as number i of the run: its Idempotency-Key and its lines are a pure
// function of i, so the checks can recompute what every acknowledged order must hold.
struct PlannedOrder {
  std::string idempotency_key;
  int64_t customer_id = 0;
  int64_t payment_id = 0;
  std::vector<std::pair<int64_t, int32_t>> lines;  // product id, quantity
};

struct Catalog {
  std::vector<int64_t> customers, payments, products;
};

PlannedOrder PlanOrder(const std::string& run, int i, const Catalog& catalog);

// Creates the run's orders through order-api, even numbers over REST, odd ones over gRPC, paced over
// the run's duration. A request that fails in any way that does not prove the order was refused (no
// connection, 5xx, UNAVAILABLE, UNKNOWN, DEADLINE_EXCEEDED) is retried with the same Idempotency-Key
// until it is acknowledged, as a careful client does.
class OrderLoad {
 public:
  struct Config {
    std::string rest_url;
    std::string grpc_target;
    std::string run;
    int orders = 0;
    std::chrono::milliseconds pace{0};  // between two creates of one client
    std::chrono::steady_clock::time_point give_up;
  };
  OrderLoad(Config config, Catalog catalog);
  // Runs the REST and gRPC clients to the end (or to give_up); returns the failures that are not
  // retryable (empty when every order was acknowledged).
  std::vector<std::string> Run(std::stop_token stop);

  long InFlight() const { return in_flight_.load(); }
  long Acknowledged() const { return acknowledged_.load(); }
  long Retries() const { return retries_.load(); }
  // Idempotency-Key -> order id, as acknowledged; a retry that answered another id is a failure.
  std::map<std::string, int64_t> AcknowledgedIds() const;

 private:
  void Client(std::stop_token stop, bool grpc, std::vector<std::string>& failures);
  // One attempt: the order id, 0 to retry, or throws std::runtime_error for a final refusal.
  int64_t CreateRest(const PlannedOrder& order);
  int64_t CreateGrpc(const PlannedOrder& order);

  Config config_;
  Catalog catalog_;
  std::atomic<long> in_flight_{0}, acknowledged_{0}, retries_{0};
  mutable std::mutex mu_;
  std::map<std::string, int64_t> ids_;
};

// Drops the run's files into bucket raw (chaos/<run>/file-<i>.json), paced, retrying a PUT that fails
// (MinIO restarting) until it succeeds.
class FileDrops {
 public:
  FileDrops(s3::S3Config s3, std::string run, int files, std::string body, std::chrono::milliseconds pace,
            std::chrono::steady_clock::time_point give_up);
  std::vector<std::string> Run(std::stop_token stop);  // the failures (empty: every file is in raw)
  long Dropped() const { return dropped_.load(); }
  std::vector<std::string> Keys() const;

 private:
  s3::S3Config s3_;
  std::string run_;
  int files_;
  std::string body_;
  std::chrono::milliseconds pace_;
  std::chrono::steady_clock::time_point give_up_;
  std::atomic<long> dropped_{0};
};

}  // namespace rainbow::chaos
