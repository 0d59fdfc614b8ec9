#include "tests/e2e/chaos_src/load.hpp"
#include "common/security/grpc_security.hpp"

#include <grpcpp/grpcpp.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "common/logging/log.hpp"
#include "rainbow/order_api.grpc.pb.h"
#include "tests/support/child_process.hpp"

namespace rainbow::chaos {

using namespace std::chrono_literals;

PlannedOrder PlanOrder(const std::string& run, int i, const Catalog& catalog) {
  PlannedOrder o;
  o.idempotency_key = "chaos-" + run + "-" + std::to_string(i);
  const auto pick = [](const std::vector<int64_t>& ids, size_t n) { return ids[n % ids.size()]; };
  o.customer_id = pick(catalog.customers, static_cast<size_t>(i) * 7);
  o.payment_id = pick(catalog.payments, static_cast<size_t>(i));
  const int lines = 1 + i % 3;
  for (int k = 0; k < lines; ++k) {
    // Distinct products within an order: consecutive positions in the catalog.
    o.lines.emplace_back(pick(catalog.products, static_cast<size_t>(i) * 5 + static_cast<size_t>(k)),
                         1 + (i + k) % 4);
  }
  return o;
}

OrderLoad::OrderLoad(Config config, Catalog catalog)
    : config_(std::move(config)), catalog_(std::move(catalog)) {}

std::map<std::string, int64_t> OrderLoad::AcknowledgedIds() const {
  std::lock_guard lock(mu_);
  return ids_;
}

int64_t OrderLoad::CreateRest(const PlannedOrder& order) {
  nlohmann::json body = {{"customerId", order.customer_id}, {"payment_id", order.payment_id}};
  for (const auto& [product, quantity] : order.lines)
    body["products"].push_back({{"productId", product}, {"quantity", quantity}});
  const auto r =
      testing::HttpCall("POST", config_.rest_url + "/api/v1/orders", body.dump(),
                        {"Content-Type: application/json", "Idempotency-Key: " + order.idempotency_key});
  if (r.status == 200 || r.status == 201) return nlohmann::json::parse(r.body).at("id").get<int64_t>();
  // 0: no connection; 408/429: try later; 5xx: unavailable or an unknown outcome.
  if (r.status == 0 || r.status == 408 || r.status == 429 || r.status >= 500) return 0;
  throw std::runtime_error("REST create " + order.idempotency_key + " refused: " + std::to_string(r.status) +
                           " " + r.body);
}

int64_t OrderLoad::CreateGrpc(const PlannedOrder& order) {
  // A fresh channel per attempt: the server behind the address is killed and started again.
  auto stub = order::v1::OrderService::NewStub(
      rainbow::security::Connect(config_.grpc_target, rainbow::security::ClientFromProcessEnv()));
  order::v1::CreateOrderRequest req;
  req.set_customer_id(order.customer_id);
  req.set_payment_id(order.payment_id);
  req.set_idempotency_key(order.idempotency_key);
  for (const auto& [product, quantity] : order.lines) {
    auto* line = req.add_products();
    line->set_product_id(product);
    line->set_quantity(quantity);
  }
  order::v1::Order created;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  const auto st = stub->CreateOrder(&ctx, req, &created);
  if (st.ok()) return created.id();
  switch (st.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      throw std::runtime_error("gRPC create " + order.idempotency_key + " refused: " + st.error_message());
    default:
      return 0;
  }
}

void OrderLoad::Client(std::stop_token stop, bool grpc, std::vector<std::string>& failures) {
  for (int i = grpc ? 1 : 0; i < config_.orders && !stop.stop_requested(); i += 2) {
    const auto order = PlanOrder(config_.run, i, catalog_);
    const auto next = std::chrono::steady_clock::now() + config_.pace;
    int64_t id = 0;
    while (id == 0) {
      if (std::chrono::steady_clock::now() > config_.give_up || stop.stop_requested()) {
        failures.push_back(order.idempotency_key + ": never acknowledged");
        return;
      }
      ++in_flight_;
      try {
        id = grpc ? CreateGrpc(order) : CreateRest(order);
      } catch (const std::exception& e) {
        --in_flight_;
        failures.push_back(e.what());
        break;
      }
      --in_flight_;
      if (id == 0) {
        ++retries_;
        std::this_thread::sleep_for(200ms);
      }
    }
    if (id != 0) {
      std::lock_guard lock(mu_);
      ids_[order.idempotency_key] = id;
      ++acknowledged_;
    }
    std::this_thread::sleep_until(next);
  }
}

std::vector<std::string> OrderLoad::Run(std::stop_token stop) {
  std::vector<std::string> rest_failures, grpc_failures;
  {
    std::jthread rest([&](std::stop_token) { Client(stop, false, rest_failures); });
    std::jthread grpc([&](std::stop_token) { Client(stop, true, grpc_failures); });
  }
  rest_failures.insert(rest_failures.end(), grpc_failures.begin(), grpc_failures.end());
  return rest_failures;
}

FileDrops::FileDrops(s3::S3Config s3, std::string run, int files, std::string body,
                     std::chrono::milliseconds pace, std::chrono::steady_clock::time_point give_up)
    : s3_(std::move(s3)),
      run_(std::move(run)),
      files_(files),
      body_(std::move(body)),
      pace_(pace),
      give_up_(give_up) {}

std::vector<std::string> FileDrops::Keys() const {
  std::vector<std::string> keys;
  for (int i = 0; i < files_; ++i) keys.push_back("chaos/" + run_ + "/file-" + std::to_string(i) + ".json");
  return keys;
}

std::vector<std::string> FileDrops::Run(std::stop_token stop) {
  const auto keys = Keys();
  for (const auto& key : keys) {
    const auto next = std::chrono::steady_clock::now() + pace_;
    for (;;) {
      if (stop.stop_requested() || std::chrono::steady_clock::now() > give_up_)
        return {"raw/" + key + ": never stored"};
      try {
        s3::S3Client client(s3_);
        client.PutObject(s3::BucketName("raw"), s3::ObjectKey(key), body_);
        break;
      } catch (const std::exception& e) {
        log::Warn("chaos: PUT failed, retrying", {{"key", key}, {"error", e.what()}});
        std::this_thread::sleep_for(500ms);
      }
    }
    ++dropped_;
    std::this_thread::sleep_until(next);
  }
  return {};
}

}  // namespace rainbow::chaos
