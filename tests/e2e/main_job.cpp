// The main job of the local stack (scripts/run-local): one pass through every infra part with the same
// common/ adapters the services use, then the pipeline's flows through the running services. Prints one
// JSON line per step and exits non-zero naming the first step that failed. Reads the stack's env
// (scripts/stack env). `main_job infra` runs only the infra steps (used by the test suite, whose
// stack runs no services).
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/config/env.hpp"
#include "common/crypto/sha256.hpp"
#include "common/kafka/admin.hpp"
#include "common/kafka/consumer.hpp"
#include "common/kafka/producer.hpp"
#include "common/logging/log.hpp"
#include "common/ops/service_main.hpp"
#include "common/pg/connection.hpp"
#include "common/redis/client.hpp"
#include "common/s3/client.hpp"
#include "common/security/grpc_security.hpp"
#include "rainbow/loader.grpc.pb.h"
#include "rainbow/order_api.grpc.pb.h"
#include "rainbow/state_tracker.grpc.pb.h"
#include "services/loader/src/clickhouse_client.hpp"
#include "services/loader/src/lake_writer.hpp"

#include <fstream>
#include <set>
#include <sstream>
#include "tests/support/child_process.hpp"

#include <grpcpp/grpcpp.h>

namespace {

using namespace std::chrono_literals;

struct SmokeConfig {
  rainbow::security::ClientConfig grpc_client;
  std::string pg_dsn;
  std::string kafka_brokers;
  std::string redis_url;
  std::string redis_ca_file;
  rainbow::s3::S3Config s3;
  std::string prometheus_url;
  std::string order_api_url;
  std::string order_api_grpc;
  std::string state_grpc;
  std::string loader_grpc;
  std::string clickhouse_url;  // empty: no serving layer to check
  std::string clickhouse_user;
  std::string clickhouse_password;
  std::string sample_json;
};

std::string RunId() {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
}

void CheckPostgres(const SmokeConfig& c, const std::string&) {
  rainbow::pg::Connection conn(c.pg_dsn);
  const auto level = conn.Exec("SHOW wal_level");
  if (level.Text(0, 0) != "logical")
    throw std::runtime_error("wal_level is " + std::string(level.Text(0, 0)));
  conn.Exec("CREATE TEMP TABLE smoke (id int PRIMARY KEY, note text)");
  conn.Exec("INSERT INTO smoke VALUES ($1, $2)", {"1", "hello"});
  if (conn.Exec("SELECT note FROM smoke WHERE id = $1", {"1"}).Text(0, 0) != "hello") {
    throw std::runtime_error("round trip returned another value");
  }
}

void CheckKafka(const SmokeConfig& c, const std::string& run) {
  const std::string topic = "smoke.foundation";
  rainbow::kafka::EnsureTopic(c.kafka_brokers, topic, 3, 1);
  rainbow::kafka::Producer producer({c.kafka_brokers, "smoke"});
  const auto report = producer.ProduceSync({topic, run, "ping " + run, {{"run", run}}, std::nullopt});
  if (!report.ok) throw std::runtime_error("produce: " + report.error);
  rainbow::kafka::Consumer consumer({c.kafka_brokers, "smoke-" + run, {topic}});
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = consumer.Poll(500ms);
    if (m && m->key == run && m->HeaderValue("run") == run) return;
  }
  throw std::runtime_error("message " + run + " not consumed back within 60 s");
}

void CheckRedis(const SmokeConfig& c, const std::string& run) {
  rainbow::redis::RedisConfig redis_config;
  redis_config.url = c.redis_url;
  redis_config.ca_file = c.redis_ca_file;
  rainbow::redis::Client client(redis_config);
  const rainbow::redis::Script script(
      "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])");
  const auto reply = client.Eval(script, {"smoke:" + run}, {run});
  client.Command({"DEL", "smoke:" + run});
  if (reply.str != run) throw std::runtime_error("script returned '" + reply.str + "'");
}

// The tracker's record of raw/<key> once it is COMPLETED, FAILED or REMOVED, or the last one seen after
// `timeout`.
rainbow::files::v1::FileRecord WaitForFinalState(const SmokeConfig& c, const std::string& key,
                                                 std::chrono::seconds timeout) {
  auto stub =
      rainbow::files::v1::FileStateService::NewStub(rainbow::security::Connect(c.state_grpc, c.grpc_client));
  rainbow::files::v1::FileRecord record;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    rainbow::files::v1::GetRequest req;
    req.mutable_file()->set_bucket("raw");
    req.mutable_file()->set_key(key);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    if (stub->Get(&ctx, req, &record).ok() &&
        (record.state() == rainbow::files::v1::COMPLETED || record.state() == rainbow::files::v1::FAILED ||
         record.state() == rainbow::files::v1::REMOVED)) {
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  return record;
}

// The s3+notification step's object, deleted right after its notification, ends REMOVED in the
// tracker (or COMPLETED when the converter was quicker than the delete), never FAILED.
void CheckDeletedFile(const SmokeConfig& c, const std::string& run) {
  const std::string key = "smoke/" + run + ".json";
  const auto record = WaitForFinalState(c, key, 60s);
  if (record.state() == rainbow::files::v1::REMOVED || record.state() == rainbow::files::v1::COMPLETED)
    return;
  throw std::runtime_error("raw/" + key + " deleted before conversion is " +
                           rainbow::files::v1::FileState_Name(record.state()) + " ('" + record.error() +
                           "'), not REMOVED");
}

void CheckS3AndNotification(const SmokeConfig& c, const std::string& run) {
  rainbow::kafka::Consumer consumer({c.kafka_brokers, "smoke-notify-" + run, {"files.events"}});
  rainbow::s3::S3Client s3(c.s3);
  const std::string key = "smoke/" + run + ".json";
  const std::string body = R"([{"ean":")" + run + R"(","name":"smoke"}])";
  s3.PutObject(rainbow::s3::BucketName("raw"), rainbow::s3::ObjectKey(key), body);
  if (s3.GetObject(rainbow::s3::BucketName("raw"), rainbow::s3::ObjectKey(key)) != body) {
    throw std::runtime_error("GET returned other bytes than PUT");
  }
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = consumer.Poll(500ms);
    if (m && m->key == "raw/" + key) {
      s3.DeleteObject(rainbow::s3::BucketName("raw"), rainbow::s3::ObjectKey(key));
      return;
    }
  }
  throw std::runtime_error("no bucket notification for raw/" + key + " on files.events within 60 s");
}

void CheckPrometheus(const SmokeConfig& c, const std::string&) {
  // Prometheus must be up and scraping: its own target and MinIO's report health "up".
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto [status, body] = rainbow::testing::HttpGet(c.prometheus_url + "/api/v1/targets?state=active");
    auto j = nlohmann::json::parse(body, nullptr, false);
    int up = 0;
    if (status == 200 && !j.is_discarded()) {
      for (const auto& t : j["data"]["activeTargets"]) {
        const std::string job = t["labels"].value("job", "");
        if ((job == "prometheus" || job == "minio") && t.value("health", "") == "up") ++up;
      }
      if (up >= 2) return;
    }
    last = "status " + std::to_string(status) + ", " + std::to_string(up) + " of 2 targets up";
    std::this_thread::sleep_for(1s);
  }
  throw std::runtime_error("prometheus: " + last);
}

// Orders created by CheckOrders, followed through CDC by CheckCdc.
std::vector<int64_t> g_created_orders;

// REST headers plus the bearer token (GRPC_CLIENT_TOKEN serves REST too) when one is set.
std::vector<std::string> WithToken(const SmokeConfig& c, std::vector<std::string> headers) {
  if (!c.grpc_client.token.empty()) headers.push_back("Authorization: Bearer " + c.grpc_client.token);
  return headers;
}

// Flow A's entry: orders created and read back through order-api's REST and gRPC APIs.
void CheckOrders(const SmokeConfig& c, const std::string& run) {
  const std::string body =
      R"({"customerId":1,"payment_id":1,"products":[{"productId":1,"quantity":2},{"productId":2,"quantity":1}]})";
  auto created = rainbow::testing::HttpCall(
      "POST", c.order_api_url + "/api/v1/orders", body,
      WithToken(c, {"Content-Type: application/json", "Idempotency-Key: main-job-" + run}));
  if (created.status != 201)
    throw std::runtime_error("REST create: " + std::to_string(created.status) + " " + created.body);
  const auto order = nlohmann::json::parse(created.body);
  const auto id = order["id"].get<int64_t>();
  auto got = rainbow::testing::HttpCall("GET", c.order_api_url + "/api/v1/orders/" + std::to_string(id), "",
                                        WithToken(c, {}));
  if (got.status != 200 || nlohmann::json::parse(got.body) != order)
    throw std::runtime_error("REST read back differs");
  g_created_orders.push_back(id);
  rainbow::log::Info("order via REST", {{"order_id", id}, {"net_amount", order["netAmount"]}, {"run", run}});

  auto stub =
      rainbow::order::v1::OrderService::NewStub(rainbow::security::Connect(c.order_api_grpc, c.grpc_client));
  rainbow::order::v1::CreateOrderRequest req;
  req.set_customer_id(2);
  req.set_payment_id(3);
  auto* line = req.add_products();
  line->set_product_id(3);
  line->set_quantity(1);
  rainbow::order::v1::Order g;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  auto st = stub->CreateOrder(&ctx, req, &g);
  if (!st.ok()) throw std::runtime_error("gRPC create: " + st.error_message());
  rainbow::order::v1::GetOrderRequest get;
  get.set_id(g.id());
  rainbow::order::v1::Order back;
  grpc::ClientContext ctx2;
  ctx2.set_deadline(std::chrono::system_clock::now() + 10s);
  st = stub->GetOrder(&ctx2, get, &back);
  if (!st.ok() || back.net_amount() != g.net_amount()) throw std::runtime_error("gRPC read back failed");
  g_created_orders.push_back(g.id());
  rainbow::log::Info("order via gRPC", {{"order_id", g.id()}, {"net_amount", g.net_amount()}, {"run", run}});
}

// Flow A, next hop: the orders just created arrive as Debezium-shaped change events on Kafka
// `rainbow.public.orders` (key {"id":N}, op "c"), streamed by cdc-producer from the WAL.
void CheckCdc(const SmokeConfig& c, const std::string& run) {
  if (g_created_orders.empty()) throw std::runtime_error("no orders were created before");
  std::set<int64_t> waiting(g_created_orders.begin(), g_created_orders.end());
  rainbow::kafka::Consumer consumer({c.kafka_brokers, "main-job-cdc-" + run, {"rainbow.public.orders"}});
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!waiting.empty() && std::chrono::steady_clock::now() < deadline) {
    auto m = consumer.Poll(500ms);
    if (!m || !m->key || !m->value) continue;
    auto key = nlohmann::json::parse(*m->key, nullptr, false);
    auto value = nlohmann::json::parse(*m->value, nullptr, false);
    // cdc-producer's default wire form is Kafka Connect's {"schema":…,"payload":…} (CDC_VALUE_FORMAT).
    if (key.is_object() && key.contains("payload")) key = key["payload"];
    if (value.is_object() && value.contains("payload")) value = value["payload"];
    if (key.is_discarded() || value.is_discarded() || !key.contains("id")) continue;
    const int64_t id = key["id"].get<int64_t>();
    if (!waiting.count(id) || value.value("op", "") != "c") continue;
    waiting.erase(id);
    rainbow::log::Info("order on kafka", {{"order_id", id},
                                          {"topic", m->topic},
                                          {"partition", m->partition},
                                          {"offset", m->offset},
                                          {"lsn", value["source"].value("lsn", int64_t{0})},
                                          {"tx_id", value["source"].value("txId", int64_t{0})},
                                          {"run", run}});
  }
  if (!waiting.empty()) {
    throw std::runtime_error(std::to_string(waiting.size()) +
                             " order(s) not on rainbow.public.orders within 60 s");
  }
}

// Flow A, last hops: the loader puts the orders just created into warehouse.fact_sales and the lake
// (gzip JSON lines under lake/orders/date=.../), and its Reconcile finds zero difference between the
// source and the warehouse (counts, total sales, sales per day).
void CheckLoader(const SmokeConfig& c, const std::string& run) {
  if (g_created_orders.empty()) throw std::runtime_error("no orders were created before");
  std::string ids;
  for (auto id : g_created_orders) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  rainbow::pg::Connection conn(c.pg_dsn);
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  int64_t orders_in_facts = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      orders_in_facts =
          conn.Exec("SELECT count(DISTINCT order_id) FROM warehouse.fact_sales WHERE order_id IN (" + ids +
                    ")")
              .Int(0, 0);
    } catch (const rainbow::pg::PgError&) {
      orders_in_facts = 0;  // the loader may not have created the schema yet
    }
    if (orders_in_facts == static_cast<int64_t>(g_created_orders.size())) break;
    std::this_thread::sleep_for(500ms);
  }
  if (orders_in_facts != static_cast<int64_t>(g_created_orders.size()))
    throw std::runtime_error("orders " + ids + " not all in warehouse.fact_sales within 120 s");
  for (auto id : g_created_orders) {
    const auto r = conn.Exec(
        "SELECT count(*), sum(extended_sales_amount)::text, bool_and(product_key IS NOT NULL AND "
        "customer_key IS NOT "
        "NULL) FROM warehouse.fact_sales WHERE order_id = $1",
        {std::to_string(id)});
    rainbow::log::Info("order in fact_sales", {{"order_id", id},
                                               {"fact_rows", r.Int(0, 0)},
                                               {"extended_sales_amount", std::string(r.Text(0, 1))},
                                               {"keys_resolved", r.Text(0, 2) == "t"},
                                               {"run", run}});
  }
  // The lake: each order's change event in an object of lake/orders/ (written within the flush interval).
  rainbow::s3::S3Client s3(c.s3);
  std::set<int64_t> waiting(g_created_orders.begin(), g_created_orders.end());
  const auto lake_deadline = std::chrono::steady_clock::now() + 60s;
  while (!waiting.empty() && std::chrono::steady_clock::now() < lake_deadline) {
    rainbow::s3::ListOptions o;
    o.prefix = "orders/";
    for (;;) {
      const auto page = s3.ListObjectsV2(rainbow::s3::BucketName("lake"), o);
      for (const auto& obj : page.objects) {
        const auto body = s3.GetObject(rainbow::s3::BucketName("lake"), rainbow::s3::ObjectKey(obj.key));
        const auto text = rainbow::loader::Gunzip(body);
        for (auto it = waiting.begin(); it != waiting.end();) {
          if (text.find("\"id\":" + std::to_string(*it) + ",") != std::string::npos) {
            rainbow::log::Info("order in lake",
                               {{"order_id", *it}, {"object", "lake/" + obj.key}, {"run", run}});
            it = waiting.erase(it);
          } else {
            ++it;
          }
        }
      }
      if (page.next_continuation_token.empty()) break;
      o.continuation_token = page.next_continuation_token;
    }
    if (!waiting.empty()) std::this_thread::sleep_for(1s);
  }
  if (!waiting.empty())
    throw std::runtime_error(std::to_string(waiting.size()) + " order(s) not in the lake within 60 s");
  // Reconcile through the loader's gRPC API, until the loader has caught up with the source.
  auto stub =
      rainbow::loader::v1::LoaderService::NewStub(rainbow::security::Connect(c.loader_grpc, c.grpc_client));
  rainbow::loader::v1::ReconcileResponse rec;
  const auto rec_deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < rec_deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    rec.Clear();
    const auto st = stub->Reconcile(&ctx, {}, &rec);
    if (!st.ok()) throw std::runtime_error("loader Reconcile: " + st.error_message());
    if (rec.matches()) break;
    std::this_thread::sleep_for(1s);
  }
  for (const auto& check : rec.checks()) {
    if (check.name().rfind("sales 2", 0) == 0 && check.matches()) continue;  // one line per day is a lot
    rainbow::log::Info("reconcile", {{"check", check.name()},
                                     {"source", check.source()},
                                     {"warehouse", check.warehouse()},
                                     {"matches", check.matches()},
                                     {"run", run}});
  }
  if (!rec.matches())
    throw std::runtime_error("Reconcile found differences between the source and the warehouse");
  rainbow::log::Info("reconcile: zero difference", {{"source_sales", rec.source_sales_amount()},
                                                    {"warehouse_sales", rec.warehouse_sales_amount()},
                                                    {"run", run}});
}

// The serving layer answers (HTTP /ping through a query).
void CheckClickHouse(const SmokeConfig& c, const std::string& run) {
  rainbow::loader::ClickHouseConfig cc;
  cc.url = c.clickhouse_url;
  cc.user = c.clickhouse_user;
  cc.password = c.clickhouse_password;
  rainbow::loader::ClickHouseClient ch(cc);
  auto version = ch.Query("SELECT version()", false);
  while (!version.empty() && version.back() == '\n') version.pop_back();
  rainbow::log::Info("clickhouse answers", {{"version", version}, {"run", run}});
}

// Flow A, serving layer: the loader copies the orders just created into ClickHouse (database rainbow),
// and the serving view sales_by_day shows their day.
void CheckServing(const SmokeConfig& c, const std::string& run) {
  if (g_created_orders.empty()) throw std::runtime_error("no orders were created before");
  std::string ids;
  for (auto id : g_created_orders) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  rainbow::loader::ClickHouseConfig cc;
  cc.url = c.clickhouse_url;
  cc.user = c.clickhouse_user;
  cc.password = c.clickhouse_password;
  rainbow::loader::ClickHouseClient ch(cc);
  const auto one = [&](const std::string& sql) {
    auto out = ch.Query(sql);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  };
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  std::string got;
  const std::string want = std::to_string(g_created_orders.size());
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      got = one("SELECT uniqExact(order_id) FROM fact_sales FINAL WHERE is_deleted = 0 AND order_id IN (" +
                ids + ")");
    } catch (const std::exception& e) {
      got = e.what();  // the loader may not have created the tables yet
    }
    if (got == want) break;
    std::this_thread::sleep_for(500ms);
  }
  if (got != want)
    throw std::runtime_error("orders " + ids + " not all in ClickHouse fact_sales within 60 s: " + got);
  for (auto id : g_created_orders) {
    rainbow::log::Info(
        "order in clickhouse",
        {{"order_id", id},
         {"lines_and_sales", one("SELECT toString(count()) || ' ' || toString(sum(extended_sales_amount)) "
                                 "FROM fact_sales FINAL WHERE is_deleted = 0 AND order_id = " +
                                 std::to_string(id))},
         {"run", run}});
  }
  const auto days = one(
      "SELECT arrayStringConcat(groupArray(concat(toString(date_key), ' lines ', toString(lines), ' sales ', "
      "toString(sales))), '; ') FROM (SELECT * FROM sales_by_day WHERE date_key IN (SELECT DISTINCT date_key "
      "FROM "
      "fact_sales FINAL WHERE order_id IN (" +
      ids + ")) ORDER BY date_key)");
  rainbow::log::Info("serving view sales_by_day", {{"days", days}, {"run", run}});
}

// Flow B: the seed's sample JSON dropped into `raw` is registered (bucket notification -> state-tracker),
// converted by s3-converter, COMPLETED, and its XML in `converted` has the SHA-256 the tracker recorded.
void CheckFiles(const SmokeConfig& c, const std::string& run) {
  std::ifstream in(c.sample_json, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + c.sample_json);
  std::stringstream buf;
  buf << in.rdbuf();
  rainbow::s3::S3Client s3(c.s3);
  const std::string key = "main-job/" + run + "/sample_products.json";
  s3.PutObject(rainbow::s3::BucketName("raw"), rainbow::s3::ObjectKey(key), buf.str());

  const auto record = WaitForFinalState(c, key, 120s);
  if (record.state() != rainbow::files::v1::COMPLETED) {
    throw std::runtime_error("raw/" + key + " not COMPLETED within 120 s (state " +
                             std::to_string(record.state()) + ", error '" + record.error() + "')");
  }
  const std::string xml =
      s3.GetObject(rainbow::s3::BucketName("converted"), rainbow::s3::ObjectKey(record.output_key()));
  if (rainbow::crypto::Sha256Hex(xml) != record.sha256()) {
    throw std::runtime_error("converted/" + record.output_key() + " does not match the tracker's SHA-256");
  }
  if (xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 0) != 0 ||
      xml.find("<products>") == std::string::npos) {
    throw std::runtime_error("converted/" + record.output_key() + " is not the expected XML document");
  }
  rainbow::log::Info("file converted", {{"bucket", "raw"},
                                        {"key", key},
                                        {"output", "converted/" + record.output_key()},
                                        {"attempts", record.attempts()},
                                        {"sha256", record.sha256()},
                                        {"xml_bytes", xml.size()},
                                        {"run", run}});
}

}  // namespace

int main(int argc, char** argv) {
  using rainbow::config::Env;
  // `main_job infra`: only the infra steps.
  bool infra_only = false;
  if (argc > 1 && std::string(argv[1]) == "infra") {
    infra_only = true;
    argc = 1;
  }
  return rainbow::ops::RunService<SmokeConfig>(
      {"main-job", "0.1.0", "one pass through every part of the local stack and the pipeline"}, argc, argv,
      [](Env& env) {
        SmokeConfig c;
        c.pg_dsn = env.RequireSecret("PG_DSN", "libpq connection string");
        c.kafka_brokers = env.RequireString("KAFKA_BROKERS", "Kafka bootstrap servers");
        c.redis_url = env.RequireSecret("REDIS_URL", "redis[s]://[[user]:password@]host:port/db");
        c.redis_ca_file = env.String("REDIS_CA_FILE", "", "PEM CA bundle for a rediss:// REDIS_URL");
        c.s3.endpoint = env.RequireString("S3_ENDPOINT", "S3 endpoint URL");
        c.s3.ca_file = env.String("S3_CA_FILE", "",
                                  "PEM CA bundle for an https S3_ENDPOINT (default: system trust store)");
        c.s3.region = env.String("S3_REGION", "us-east-1", "S3 region");
        c.s3.access_key = env.RequireString("S3_ACCESS_KEY", "S3 access key");
        c.s3.secret_key = env.RequireSecret("S3_SECRET_KEY", "S3 secret key");
        c.prometheus_url = env.RequireString("PROMETHEUS_URL", "Prometheus base URL");
        c.order_api_url = env.String("ORDER_API_URL", "http://127.0.0.1:8080", "order-api REST base URL");
        c.order_api_grpc = env.String("ORDER_API_GRPC", "127.0.0.1:50051", "order-api gRPC address");
        c.state_grpc = env.String("STATE_GRPC", "127.0.0.1:50053", "state-tracker gRPC address");
        c.loader_grpc = env.String("LOADER_GRPC", "127.0.0.1:50055", "loader gRPC address");
        c.clickhouse_url =
            env.String("CLICKHOUSE_URL", "", "ClickHouse HTTP URL of the serving layer (empty: not checked)");
        c.clickhouse_user = env.String("CLICKHOUSE_USER", "default", "ClickHouse user");
        c.clickhouse_password =
            env.String("CLICKHOUSE_PASSWORD", "", "ClickHouse password (or CLICKHOUSE_PASSWORD_FILE)");
        c.grpc_client = rainbow::security::LoadClient(env);  // GRPC_CLIENT_*: TLS and the token
        c.sample_json = env.String("MAIN_JOB_SAMPLE_JSON", SAMPLE_JSON, "JSON file dropped into bucket raw");
        return c;
      },
      [&](const SmokeConfig& c) {
        const std::string run = RunId();
        std::vector<std::pair<std::string, std::function<void(const SmokeConfig&, const std::string&)>>>
            steps = {{"postgres", CheckPostgres},
                     {"kafka", CheckKafka},
                     {"redis", CheckRedis},
                     {"s3+notification", CheckS3AndNotification},
                     {"prometheus", CheckPrometheus}};
        if (!c.clickhouse_url.empty()) steps.push_back({"clickhouse", CheckClickHouse});
        if (!infra_only) {
          steps.push_back({"orders (order-api REST + gRPC)", CheckOrders});
          steps.push_back({"cdc (orders -> cdc-producer -> Kafka rainbow.public.orders)", CheckCdc});
          steps.push_back({"loader (Kafka -> warehouse fact_sales + lake; Reconcile)", CheckLoader});
          if (!c.clickhouse_url.empty())
            steps.push_back(
                {"serving (warehouse -> ClickHouse fact_sales, view sales_by_day)", CheckServing});
          steps.push_back({"files (raw -> state-tracker -> s3-converter -> converted)", CheckFiles});
          steps.push_back({"files deleted from raw before conversion end REMOVED", CheckDeletedFile});
        }
        for (const auto& [name, step] : steps) {
          const auto start = std::chrono::steady_clock::now();
          try {
            step(c, run);
          } catch (const std::exception& e) {
            rainbow::log::Error("smoke step failed", {{"step", name}, {"run", run}, {"error", e.what()}});
            return 1;
          }
          const auto ms =
              std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start)
                  .count();
          rainbow::log::Info("smoke step passed", {{"step", name}, {"run", run}, {"ms", ms}});
        }
        rainbow::log::Info("smoke run passed", {{"run", run}});
        return 0;
      });
}
