#include "tests/e2e/chaos_src/checks.hpp"
#include "common/security/grpc_security.hpp"

#include <grpcpp/grpcpp.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/crypto/sha256.hpp"
#include "common/kafka/consumer.hpp"
#include "common/pg/connection.hpp"
#include "rainbow/loader.grpc.pb.h"
#include "rainbow/state_tracker.grpc.pb.h"

namespace rainbow::chaos {

using namespace std::chrono_literals;

namespace {

// Collects problems, keeping the first few verbatim.
struct Problems {
  std::vector<std::string> first;
  size_t count = 0;
  void Add(std::string p) {
    if (first.size() < 5) first.push_back(std::move(p));
    ++count;
  }
  CheckResult Result(std::string name, const std::string& ok_detail) const {
    if (count == 0) return {std::move(name), true, ok_detail};
    std::string d = std::to_string(count) + " problem(s):";
    for (const auto& p : first) d += " [" + p + "]";
    return {std::move(name), false, d};
  }
};

nlohmann::json Unwrap(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_object() && j.contains("payload")) return j["payload"];  // Connect's {schema,payload}
  return j;
}

}  // namespace

CheckResult CheckOrdersInDatabase(const std::string& pg_dsn, int64_t baseline_id, const std::string& run,
                                  int orders, const Catalog& catalog,
                                  const std::map<std::string, int64_t>& acknowledged) {
  Problems problems;
  pg::Connection conn(pg_dsn);
  const auto created =
      conn.Exec("SELECT count(*) FROM rainbow.orders WHERE id > $1", {std::to_string(baseline_id)}).Int(0, 0);
  if (created != orders)
    problems.Add(std::to_string(created) + " orders created for " + std::to_string(orders) + " requests");
  // key -> order id, and each order's lines, in two queries.
  std::map<std::string, int64_t> stored;
  const auto keys = conn.Exec("SELECT key, order_id FROM rainbow.idempotency_keys WHERE key LIKE $1",
                              {"chaos-" + run + "-%"});
  for (int r = 0; r < keys.rows(); ++r) stored[std::string(keys.Text(r, 0))] = keys.Int(r, 1);
  std::map<int64_t, std::vector<std::pair<int64_t, int32_t>>> lines;
  const auto rows = conn.Exec(
      "SELECT order_id, product_id, quantity FROM rainbow.orderdetails WHERE order_id > $1 ORDER BY "
      "order_id, "
      "line_no",
      {std::to_string(baseline_id)});
  for (int r = 0; r < rows.rows(); ++r)
    lines[rows.Int(r, 0)].emplace_back(rows.Int(r, 1), static_cast<int32_t>(rows.Int(r, 2)));
  for (int i = 0; i < orders; ++i) {
    const auto plan = PlanOrder(run, i, catalog);
    const auto ack = acknowledged.find(plan.idempotency_key);
    const auto got = stored.find(plan.idempotency_key);
    if (got == stored.end()) {
      problems.Add(
          plan.idempotency_key + " has no order" +
          (ack != acknowledged.end() ? " although acknowledged as " + std::to_string(ack->second) : ""));
      continue;
    }
    if (ack != acknowledged.end() && ack->second != got->second)
      problems.Add(plan.idempotency_key + " acknowledged as order " + std::to_string(ack->second) +
                   " but stored as " + std::to_string(got->second));
    if (lines[got->second] != plan.lines)
      problems.Add("order " + std::to_string(got->second) + " has " +
                   std::to_string(lines[got->second].size()) + " line(s), planned " +
                   std::to_string(plan.lines.size()));
  }
  return problems.Result("orders in PostgreSQL", std::to_string(created) + " orders, each once and whole");
}

CheckResult CheckOrderEventsOnKafka(const std::string& brokers, const std::string& run, int orders,
                                    const Catalog& catalog,
                                    const std::map<std::string, int64_t>& acknowledged,
                                    std::chrono::seconds wait) {
  std::set<int64_t> orders_waiting;
  std::set<std::pair<int64_t, int64_t>> lines_waiting;  // order id, line no
  for (int i = 0; i < orders; ++i) {
    const auto plan = PlanOrder(run, i, catalog);
    const auto ack = acknowledged.find(plan.idempotency_key);
    if (ack == acknowledged.end()) continue;
    orders_waiting.insert(ack->second);
    for (size_t k = 0; k < plan.lines.size(); ++k)
      lines_waiting.insert({ack->second, static_cast<int64_t>(k + 1)});
  }
  const size_t want_orders = orders_waiting.size(), want_lines = lines_waiting.size();
  kafka::Consumer consumer(
      {brokers, "chaos-check-" + run, {"rainbow.public.orders", "rainbow.public.orderdetails"}});
  long events = 0;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while ((!orders_waiting.empty() || !lines_waiting.empty()) && std::chrono::steady_clock::now() < deadline) {
    auto m = consumer.Poll(500ms);
    if (!m) continue;
    ++events;
    const auto key = Unwrap(m->key);
    const auto value = Unwrap(m->value);
    if (!value.is_object() || !key.is_object()) continue;
    const auto op = value.value("op", "");
    if (op != "c" && op != "r") continue;
    if (m->topic == "rainbow.public.orders" && key.contains("id")) {
      orders_waiting.erase(key["id"].get<int64_t>());
    } else if (key.contains("order_id") && key.contains("line_no")) {
      lines_waiting.erase({key["order_id"].get<int64_t>(), key["line_no"].get<int64_t>()});
    }
  }
  Problems problems;
  for (auto id : orders_waiting) problems.Add("order " + std::to_string(id) + " has no event");
  for (auto [id, line] : lines_waiting)
    problems.Add("line " + std::to_string(id) + "/" + std::to_string(line) + " has no event");
  return problems.Result("order events on Kafka", std::to_string(want_orders) + " orders and " +
                                                      std::to_string(want_lines) + " lines found among " +
                                                      std::to_string(events) + " events");
}

CheckResult CheckFilesConverted(const s3::S3Config& s3_config, const std::string& state_grpc,
                                const std::vector<std::string>& keys, const std::string& run,
                                std::chrono::seconds wait) {
  auto stub = files::v1::FileStateService::NewStub(
      rainbow::security::Connect(state_grpc, rainbow::security::ClientFromProcessEnv()));
  std::map<std::string, files::v1::FileRecord> done;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (done.size() < keys.size() && std::chrono::steady_clock::now() < deadline) {
    for (const auto& key : keys) {
      if (done.count(key)) continue;
      files::v1::GetRequest req;
      req.mutable_file()->set_bucket("raw");
      req.mutable_file()->set_key(key);
      files::v1::FileRecord record;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 5s);
      if (stub->Get(&ctx, req, &record).ok() && record.state() == files::v1::COMPLETED) done[key] = record;
    }
    if (done.size() < keys.size()) std::this_thread::sleep_for(1s);
  }
  Problems problems;
  for (const auto& key : keys)
    if (!done.count(key)) problems.Add("raw/" + key + " not COMPLETED");
  s3::S3Client client(s3_config);
  for (const auto& [key, record] : done) {
    const auto xml = client.GetObject(s3::BucketName("converted"), s3::ObjectKey(record.output_key()));
    if (crypto::Sha256Hex(xml) != record.sha256())
      problems.Add("converted/" + record.output_key() + " does not have the recorded SHA-256");
  }
  s3::ListOptions options;
  options.prefix = "chaos/" + run + "/";
  size_t outputs = 0;
  for (;;) {
    const auto page = client.ListObjectsV2(s3::BucketName("converted"), options);
    outputs += page.objects.size();
    if (page.next_continuation_token.empty()) break;
    options.continuation_token = page.next_continuation_token;
  }
  if (outputs != keys.size())
    problems.Add(std::to_string(outputs) + " objects under converted/" + options.prefix + " for " +
                 std::to_string(keys.size()) + " files");
  return problems.Result("files converted",
                         std::to_string(done.size()) + " files COMPLETED once, checksums verified");
}

CheckResult CheckReconcile(const std::string& loader_grpc, std::chrono::seconds wait) {
  auto stub = loader::v1::LoaderService::NewStub(
      rainbow::security::Connect(loader_grpc, rainbow::security::ClientFromProcessEnv()));
  loader::v1::ReconcileResponse rec;
  std::string last = "no answer";
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 60s);
    rec.Clear();
    const auto st = stub->Reconcile(&ctx, {}, &rec);
    if (st.ok() && rec.matches())
      return {"reconcile", true,
              "zero difference, sales " + rec.source_sales_amount() + " in source and warehouse"};
    last = st.ok() ? "differences" : st.error_message();
    if (st.ok()) {
      for (const auto& c : rec.checks())
        if (!c.matches()) last += "; " + c.name() + ": source " + c.source() + ", warehouse " + c.warehouse();
    }
    std::this_thread::sleep_for(2s);
  }
  return {"reconcile", false, last};
}

}  // namespace rainbow::chaos
