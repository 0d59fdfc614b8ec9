// The loader benchmark: the same PostgreSQL and Kafka, topics pre-filled once with the same change
// events (cdc-producer's snapshot of a generated source), then, one at a time:
//   staging   the loader with LOADER_MODEL=false (staging mirrors only)
//   model     the loader building staging, SCD2 dimensions and fact_sales
//   jdbc      the Debezium JDBC sink connector on Kafka Connect standalone (upsert mode) mirroring the
//             same topics into the same PostgreSQL (needs --jdbc-libs, and the topics with schemas)
//   copy      the floor: COPY of the same rows, as text, into tables shaped like staging
//   consume   the floor of reading the topics: librdkafka consuming every message, nothing else
//   upsert    the floor of a mirror that must upsert (updates, replays): COPY into a temporary table,
//             then one INSERT ... ON CONFLICT DO UPDATE per table, as the loader's staging merge does
// Each drains the same topics into a database of its own; events/s = events / time from the first to
// the last committed row (the processes' start-up excluded), plus CPU and peak RSS of the process.
// Then a freshness run: cdc-producer streaming and the loader (model) live while a writer commits
// order lines at a fixed rate; commit-to-fact freshness p50/p99 from the loader's histogram.
// Needs the stack env (PG_DSN, KAFKA_BROKERS).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "bench/common/proc_stats.hpp"
#include "common/kafka/admin.hpp"
#include "common/kafka/consumer.hpp"
#include "common/pg/connection.hpp"
#include "tests/support/child_process.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using rainbow::testing::ChildProcess;

struct Options {
  std::string dsn;
  std::string brokers;
  std::string format = "json";  // CDC_VALUE_FORMAT / CDC_KEY_FORMAT of the pre-filled topics
  std::string connect_libs;     // Kafka Connect's jars (bench/cdc-producer/fetch-debezium.sh)
  std::string jdbc_plugins;  // the JDBC sink plugin (services/cdc-producer/tests/debezium/fetch-jdbc-sink.sh)
  std::vector<std::string> contenders{"staging", "model", "consume", "copy", "upsert", "jdbc"};
  int orders = 30'000;
  int partitions = 3;
  int rate = 1'000;  // freshness run: order lines per second
  int seconds = 20;
  bool freshness = true;
};

struct Result {
  std::string name;
  int64_t events = 0;
  double seconds = 0;        // first committed row to the last
  double total_seconds = 0;  // process start to the last
  double cpu_seconds = 0;
  double rss_mb = 0;
  std::string note;
};

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string WithDb(const std::string& dsn, const std::string& db) { return dsn + " dbname=" + db; }

void Exec(const std::string& dsn, const std::string& sql) {
  rainbow::pg::Connection c(dsn);
  c.Exec(sql);
}

int64_t Count(const std::string& dsn, const std::string& sql) {
  try {
    rainbow::pg::Connection c(dsn);
    const auto r = c.Exec(sql);
    return r.rows() == 1 && !r.IsNull(0, 0) ? r.Int(0, 0) : 0;
  } catch (const std::exception&) {
    return 0;  // not created yet
  }
}

// The source: the order-api tables (as order-api's migration declares them) in schema `s`, filled
// with generate_series: 1,000 customers, 200 products, 20 promotions, `orders` orders of 2 lines.
void CreateSource(const std::string& dsn, const std::string& s, int orders) {
  rainbow::pg::Connection c(dsn);
  c.Exec("CREATE SCHEMA " + s);
  const std::string ts =
      "created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), "
      "deleted_at timestamptz";
  c.Exec("CREATE TABLE " + s +
         ".customers (id bigint PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL, "
         "email text NOT NULL, " +
         ts + ")");
  c.Exec("CREATE TABLE " + s + ".payments (id bigint PRIMARY KEY, name text NOT NULL, type text NOT NULL, " +
         ts + ")");
  c.Exec("CREATE TABLE " + s +
         ".sellers (id bigint PRIMARY KEY, name text NOT NULL, link text, is_best_store boolean "
         "NOT NULL DEFAULT false, " +
         ts + ")");
  c.Exec("CREATE TABLE " + s +
         ".promotions (id bigint PRIMARY KEY, name text NOT NULL, type text NOT NULL, "
         "price_treatment numeric(12,2) NOT NULL, coupon_type text NOT NULL, is_global boolean NOT NULL "
         "DEFAULT false, "
         "promo_begin timestamptz NOT NULL, promo_end timestamptz NOT NULL, " +
         ts + ")");
  c.Exec(
      "CREATE TABLE " + s +
      ".products (id bigint PRIMARY KEY, name text NOT NULL, price numeric(12,2) NOT NULL, "
      "original_price numeric(12,2), rating_average numeric(3,2), review_count integer NOT NULL DEFAULT 0, "
      "sold_count integer NOT NULL DEFAULT 0, category_id bigint, seller_id bigint, brand_id bigint, "
      "promotion_id bigint, " +
      ts + ")");
  c.Exec("CREATE TABLE " + s +
         ".orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, payment_id bigint NOT NULL, "
         "status text NOT NULL DEFAULT 'CREATED', " +
         ts + ")");
  c.Exec("CREATE TABLE " + s +
         ".orderdetails (order_id bigint NOT NULL, line_no integer NOT NULL, product_id bigint "
         "NOT NULL, quantity integer NOT NULL, price numeric(12,2) NOT NULL, promotion_id bigint, "
         "discount_unit_price "
         "numeric(12,2) NOT NULL DEFAULT 0, " +
         ts + ", PRIMARY KEY (order_id, line_no))");
  for (const char* t :
       {"customers", "payments", "sellers", "promotions", "products", "orders", "orderdetails"})
    c.Exec("ALTER TABLE " + s + "." + t + " REPLICA IDENTITY FULL");
  c.Exec("INSERT INTO " + s +
         ".customers SELECT i, 'First' || i, 'Last' || i, 'c' || i || '@example.com' "
         "FROM generate_series(1, 1000) i");
  c.Exec("INSERT INTO " + s + ".payments SELECT i, 'Pay ' || i, 'card' FROM generate_series(1, 5) i");
  c.Exec("INSERT INTO " + s +
         ".sellers SELECT i, 'Seller ' || i, 'https://s' || i, i % 3 = 0 "
         "FROM generate_series(1, 20) i");
  c.Exec("INSERT INTO " + s +
         ".promotions SELECT i, 'Promo ' || i, 'seasonal', 5 + i % 20, 'Percentage', false, "
         "'2024-01-01', '2030-01-01' FROM generate_series(1, 20) i");
  c.Exec("INSERT INTO " + s +
         ".products SELECT i, 'Product ' || i, 1 + (i % 50) * 2.5, 2 + (i % 50) * 2.5, 4.2, i, "
         "i * 3, 1 + i % 7, 1 + i % 20, 1 + i % 9, 1 + i % 20 FROM generate_series(1, 200) i");
  c.Exec("INSERT INTO " + s +
         ".orders SELECT i, 1 + i % 1000, 1 + i % 5, 'CREATED', "
         "'2024-01-01'::timestamptz + i * interval '1 minute' FROM generate_series(1, " +
         std::to_string(orders) + ") i");
  c.Exec("INSERT INTO " + s +
         ".orderdetails SELECT i, l, 1 + (i * 7 + l) % 200, 1 + (i + l) % 5, "
         "1 + ((i * 7 + l) % 200 % 50) * 2.5, 1 + i % 20, 0.5 FROM generate_series(1, " +
         std::to_string(orders) + ") i, generate_series(1, 2) l");
}

std::map<std::string, std::string> BaseEnv() {
  std::map<std::string, std::string> env;
  for (const char* k : {"JAVA_HOME", "LANG"}) {
    if (const char* v = std::getenv(k)) env[k] = v;
  }
  // Topic replication as the stack exports it; 1 and 1 fit the single broker of the local stack.
  for (const char* k : {"KAFKA_TOPIC_REPLICATION_FACTOR", "KAFKA_TOPIC_MIN_INSYNC_REPLICAS"}) {
    const char* v = std::getenv(k);
    env[k] = v != nullptr ? v : "1";
  }
  return env;
}

std::unique_ptr<ChildProcess> StartCdc(const Options& o, const std::string& dsn, const std::string& schema,
                                       const std::string& slot, const std::string& prefix,
                                       const std::string& snapshot) {
  auto env = BaseEnv();
  env.insert({{"PG_DSN", dsn},
              {"KAFKA_BROKERS", o.brokers},
              {"CDC_SLOT", slot},
              {"CDC_PUBLICATION", slot},
              {"CDC_SCHEMAS", schema},
              {"CDC_TOPIC_PREFIX", prefix},
              {"CDC_TOPIC_PARTITIONS", std::to_string(o.partitions)},
              {"CDC_SNAPSHOT_MODE", snapshot},
              {"CDC_VALUE_FORMAT", o.format},
              {"CDC_KEY_FORMAT", o.format},
              {"CDC_TRUNCATE_EVENTS", "false"},
              {"GRPC_ADDR", "127.0.0.1:0"},
              {"HTTP_ADDR", "127.0.0.1:0"},
              {"LOG_LEVEL", "warn"}});
  return std::make_unique<ChildProcess>(CDC_PRODUCER_BIN, std::vector<std::string>{}, env);
}

std::unique_ptr<ChildProcess> StartLoader(const Options& o, const std::string& source_dsn,
                                          const std::string& warehouse_dsn, const std::string& prefix,
                                          const std::string& group, bool model, int http_port) {
  auto env = BaseEnv();
  env.insert(
      {{"PG_DSN", source_dsn},
       {"LOADER_WAREHOUSE_DSN", warehouse_dsn},
       {"KAFKA_BROKERS", o.brokers},
       {"LOADER_TOPIC_PATTERN", "^" + std::regex_replace(prefix, std::regex("\\."), "\\.") + "\\.[a-z_]+$"},
       {"LOADER_GROUP", group},
       {"LOADER_MODEL", model ? "true" : "false"},
       {"LOADER_LAKE", "false"},
       {"GRPC_ADDR", "127.0.0.1:0"},
       {"HTTP_ADDR", "127.0.0.1:" + std::to_string(http_port)},
       {"LOG_LEVEL", "warn"}});
  return std::make_unique<ChildProcess>(LOADER_BIN, std::vector<std::string>{}, env);
}

void Stop(ChildProcess& p) {
  p.Signal(SIGTERM);
  if (!p.Wait(30s)) {
    p.Signal(SIGKILL);
    p.Wait(10s);
  }
}

// Waits until `count()` reaches `want`, filling the drain timings; false on timeout or early exit.
bool WaitCount(const std::function<int64_t()>& count, int64_t want, ChildProcess* proc,
               Clock::time_point started, Result& r, std::chrono::seconds timeout) {
  std::optional<Clock::time_point> first;
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    const int64_t n = count();
    if (n > 0 && !first) first = Clock::now();
    if (n >= want) {
      r.seconds = std::chrono::duration<double>(Clock::now() - *first).count();
      r.total_seconds = Since(started);
      r.events = n;
      if (proc != nullptr) {
        r.cpu_seconds = rainbow::bench::CpuSeconds(proc->pid());
        r.rss_mb = rainbow::bench::PeakRssMb(proc->pid());
      }
      return true;
    }
    if (proc != nullptr && proc->Wait(0ms).has_value()) {
      r.note = "exited early: " + proc->Stdout().substr(0, 2000) + proc->Stderr().substr(0, 2000);
      return false;
    }
    std::this_thread::sleep_for(20ms);
  }
  r.note = "timed out at " + std::to_string(count()) + " of " + std::to_string(want);
  return false;
}

const std::vector<std::string> kTables = {"customers", "payments", "sellers",     "promotions",
                                          "products",  "orders",   "orderdetails"};

// The floor: the rows as text, COPYed into tables shaped like staging (text columns plus a key).
Result CopyFloor(const std::string& source_dsn, const std::string& schema, const std::string& target_dsn,
                 bool upsert) {
  Result r{upsert ? "upsert" : "copy"};
  rainbow::pg::Connection source(source_dsn);
  rainbow::pg::Connection target(target_dsn);
  std::map<std::string, std::string> data;
  int64_t rows = 0;
  for (const auto& t : kTables) {
    // Read first (not timed): the floor is the write side.
    const auto cols = source.Exec(
        "SELECT string_agg(column_name || ' text', ', ' ORDER BY ordinal_position) FROM "
        "information_schema.columns WHERE table_schema = $1 AND table_name = $2",
        {schema, t});
    target.Exec("CREATE TABLE stg_" + t +
                " (_key text PRIMARY KEY, _op char(1), _lsn bigint, _source_ts timestamptz, " +
                std::string(cols.Text(0, 0)) + ")");
    const auto key = t == "orderdetails"
                         ? std::string("json_build_object('line_no', line_no, 'order_id', order_id)")
                         : std::string("json_build_object('id', id)");
    const auto res =
        source.Exec("SELECT " + key + "::text, 'r', 0, now(), s.* FROM " + schema + "." + t + " s");
    std::string& buf = data[t];
    for (int i = 0; i < res.rows(); ++i) {
      for (int c = 0; c < res.columns(); ++c) {
        if (c > 0) buf += '\t';
        if (res.IsNull(i, c)) {
          buf += "\\N";
        } else {
          buf += res.Text(i, c);
        }
      }
      buf += '\n';
    }
    rows += res.rows();
  }
  const auto started = Clock::now();
  for (const auto& t : kTables) {
    bool sent = false;
    const auto send = [&](std::string& chunk) {
      if (sent) return false;
      chunk = data[t];
      sent = true;
      return true;
    };
    if (!upsert) {
      target.CopyFrom("COPY stg_" + t + " FROM STDIN", send);
      continue;
    }
    rainbow::pg::Transaction tx(target);
    target.Exec("CREATE TEMP TABLE tmp_" + t + " (LIKE stg_" + t + ") ON COMMIT DROP");
    target.CopyFrom("COPY tmp_" + t + " FROM STDIN", send);
    const auto cols = target.Exec(
        "SELECT string_agg(column_name || ' = EXCLUDED.' || column_name, ', ') FROM "
        "information_schema.columns WHERE table_name = $1 AND column_name <> '_key' "
        "AND table_schema = 'public'",
        {"stg_" + t});
    target.Exec("INSERT INTO stg_" + t + " SELECT * FROM tmp_" + t + " ON CONFLICT (_key) DO UPDATE SET " +
                std::string(cols.Text(0, 0)));
    tx.Commit();
  }
  r.seconds = r.total_seconds = Since(started);
  r.events = rows;
  r.note = upsert
               ? "write side only, COPY to a temp table + INSERT ON CONFLICT per table, one transaction each"
               : "write side only, one COPY per table, one client thread";
  return r;
}

// Kafka Connect standalone + the Debezium JDBC sink connector, upsert mode, its fastest documented
// settings, into `dsn`'s database.
std::unique_ptr<ChildProcess> StartJdbcSink(const Options& o, const std::string& dir,
                                            const std::string& prefix, const std::string& dsn_db) {
  std::filesystem::create_directories(dir);
  std::map<std::string, std::string> pg;
  {
    std::istringstream in(o.dsn);
    std::string kv;
    while (in >> kv) {
      const auto eq = kv.find('=');
      if (eq != std::string::npos) pg[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  const auto get = [&](const char* k, const char* d) { return pg.count(k) ? pg.at(k) : std::string(d); };
  const bool schemas = o.format == "json-schemas";
  std::filesystem::create_directories(dir + "/no-plugins");
  std::ofstream(dir + "/worker.properties")
      << "bootstrap.servers=" << o.brokers << "\n"
      << "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
      << "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
      << "key.converter.schemas.enable=" << (schemas ? "true" : "false") << "\n"
      << "value.converter.schemas.enable=" << (schemas ? "true" : "false") << "\n"
      << "offset.storage.file.filename=" << dir << "/offsets.dat\n"
      << "offset.flush.interval.ms=1000\nlisteners=http://127.0.0.1:" << rainbow::testing::FreePort() << "\n"
      << "plugin.path=" << o.jdbc_plugins << "\n";
  // Its fastest documented settings: batch.size with the matching max.poll.records, the unnest insert,
  // the reduction buffer (one row per key per batch).
  std::ofstream(dir + "/connector.properties")
      << "name=jdbc-sink\nconnector.class=io.debezium.connector.jdbc.JdbcSinkConnector\ntasks.max=1\n"
      << "topics.regex=" << std::regex_replace(prefix, std::regex("\\."), "\\\\.") << "\\\\..*\n"
      << "connection.url=jdbc:postgresql://" << get("host", "127.0.0.1") << ":" << get("port", "5432") << "/"
      << dsn_db << "\nconnection.username=" << get("user", "rainbow")
      << "\nconnection.password=" << get("password", "")
      << "\ninsert.mode=upsert\ndelete.enabled=true\nprimary.key.mode=record_key\nschema.evolution=basic\n"
      << "collection.name.format=${source.table}\nbatch.size=5000\nconsumer.override.max.poll.records=5000\n"
      << "consumer.override.auto.offset.reset=earliest\ndialect.postgres.unnest.insert.enabled=true\n"
      << "use.reduction.buffer=true\n";
  std::ofstream(dir + "/log4j2.properties") << "rootLogger.level=WARN\nrootLogger.appenderRef.out.ref=out\n"
                                               "appender.out.type=Console\nappender.out.name=out\n"
                                               "appender.out.layout.type=PatternLayout\n"
                                               "appender.out.layout.pattern=%d %p %c{1} %m%n\n";
  return std::make_unique<ChildProcess>(
      "/usr/bin/env",
      std::vector<std::string>{"java", "-Xmx1g", "-Dlog4j2.configurationFile=" + dir + "/log4j2.properties",
                               "-cp", o.connect_libs + "/*", "org.apache.kafka.connect.cli.ConnectStandalone",
                               dir + "/worker.properties", dir + "/connector.properties"},
      BaseEnv());
}

// p-quantile from a Prometheus histogram's text exposition (linear within a bucket).
std::optional<double> Quantile(const std::string& metrics, const std::string& name, double q) {
  std::vector<std::pair<double, double>> buckets;  // le, cumulative count
  std::regex line(name + "_bucket\\{le=\"([^\"]+)\"\\} ([0-9.e+]+)");
  for (std::sregex_iterator it(metrics.begin(), metrics.end(), line), end; it != end; ++it) {
    const std::string le = (*it)[1];
    buckets.emplace_back(le == "+Inf" ? 1e300 : std::stod(le), std::stod((*it)[2]));
  }
  if (buckets.empty() || buckets.back().second == 0) return std::nullopt;
  const double want = q * buckets.back().second;
  double prev_le = 0, prev_count = 0;
  for (const auto& [le, count] : buckets) {
    if (count >= want) {
      if (le > 1e299) return prev_le;
      return prev_le +
             (le - prev_le) * (count == prev_count ? 1 : (want - prev_count) / (count - prev_count));
    }
    prev_le = le;
    prev_count = count;
  }
  return std::nullopt;
}

void Print(const std::vector<Result>& results) {
  std::printf("%-10s %9s %10s %9s %9s %8s %8s  %s\n", "contender", "events", "events/s", "drain_s", "total_s",
              "cpu_s", "rss_MB", "note");
  for (const auto& r : results) {
    std::printf("%-10s %9lld %10.0f %9.2f %9.2f %8.2f %8.1f  %s\n", r.name.c_str(),
                static_cast<long long>(r.events),
                r.seconds > 0 ? static_cast<double>(r.events) / r.seconds : 0.0, r.seconds, r.total_seconds,
                r.cpu_seconds, r.rss_mb, r.note.c_str());
  }
}

double Rate(const std::vector<Result>& rs, const std::string& name) {
  for (const auto& r : rs) {
    if (r.name == name && r.seconds > 0 && r.note.rfind("exited", 0) != 0 && r.note.rfind("timed", 0) != 0)
      return static_cast<double>(r.events) / r.seconds;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "loader benchmark: loader (staging only, whole model) vs the Debezium JDBC sink vs the COPY floor"};
  app.add_option("--orders", o.orders, "orders in the generated source (2 lines each)");
  app.add_option("--format", o.format,
                 "wire format of the pre-filled topics: json or json-schemas (the JDBC sink "
                 "needs json-schemas)");
  app.add_option("--connect-libs", o.connect_libs,
                 "Kafka Connect's jars (bench/cdc-producer/fetch-debezium.sh)");
  app.add_option(
      "--jdbc-plugins", o.jdbc_plugins,
      "the JDBC sink's plugin dir (services/cdc-producer/tests/debezium/fetch-jdbc-sink.sh); without "
      "both: no jdbc contender");
  app.add_option("--contenders", o.contenders, "subset of staging,model,copy,upsert,jdbc")->delimiter(',');
  app.add_option("--rate", o.rate, "freshness run: order lines per second");
  app.add_option("--seconds", o.seconds, "freshness run: duration");
  app.add_flag("!--no-freshness", o.freshness, "skip the freshness run");
  CLI11_PARSE(app, argc, argv);
  o.dsn = std::getenv("PG_DSN") ? std::getenv("PG_DSN") : "";
  o.brokers = std::getenv("KAFKA_BROKERS") ? std::getenv("KAFKA_BROKERS") : "";
  if (o.dsn.empty() || o.brokers.empty()) {
    std::cerr << "loader_bench: needs PG_DSN and KAFKA_BROKERS (eval \"$(scripts/stack --test env)\")\n";
    return 2;
  }
  const std::string run = "lbench_" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                         std::chrono::system_clock::now().time_since_epoch())
                                                         .count());
  const std::string prefix = run + ".public";
  std::vector<std::string> databases;
  const auto database = [&](const std::string& suffix) {
    const std::string db = run + "_" + suffix;
    Exec(o.dsn, "CREATE DATABASE " + db);
    databases.push_back(db);
    return WithDb(o.dsn, db);
  };
  int rc = 0;
  try {
    // 1. The source and the topics: cdc-producer's snapshot of it, once.
    const std::string src = database("src");
    CreateSource(src, "s", o.orders);
    const int64_t rows =
        Count(src,
              "SELECT (SELECT count(*) FROM s.customers) + (SELECT count(*) FROM s.payments) + "
              "(SELECT count(*) FROM s.sellers) + (SELECT count(*) FROM s.promotions) + "
              "(SELECT count(*) FROM s.products) + (SELECT count(*) FROM s.orders) + "
              "(SELECT count(*) FROM s.orderdetails)");
    {
      auto cdc = StartCdc(o, src, "s", run, prefix, "initial");
      Result fill{"fill"};
      const auto started = Clock::now();
      // The snapshot is done when the state table says so and every record was acknowledged.
      const bool ok = WaitCount(
          [&] {
            return Count(src, "SELECT count(*) FROM rainbow_cdc.state WHERE snapshot_done") > 0 ? 1 : 0;
          },
          1, cdc.get(), started, fill, 600s);
      std::this_thread::sleep_for(2s);
      Stop(*cdc);
      Exec(src, "SELECT pg_drop_replication_slot('" + run + "')");
      if (!ok) throw std::runtime_error("cdc-producer snapshot: " + fill.note);
      std::printf(
          "== topics %s.* filled by cdc-producer's snapshot: %lld rows of %d orders, format %s (%.1f s)\n",
          prefix.c_str(), static_cast<long long>(rows), o.orders, o.format.c_str(), fill.total_seconds);
    }

    // 2. Each contender drains the same topics into a database of its own.
    std::vector<Result> results;
    for (const auto& c : o.contenders) {
      if (c == "staging" || c == "model") {
        const auto wh = database(c);
        Result r{c};
        const auto started = Clock::now();
        auto loader = StartLoader(o, src, wh, prefix, run + "-" + c, c == "model", 0);
        WaitCount([&] { return Count(wh, "SELECT sum(next_offset) FROM warehouse.loader_offsets"); }, rows,
                  loader.get(), started, r, 600s);
        if (c == "model")
          r.note += "facts " + std::to_string(Count(wh, "SELECT count(*) FROM warehouse.fact_sales"));
        Stop(*loader);
        results.push_back(r);
      } else if (c == "consume") {
        // The same group consumer the loader uses (common/kafka), messages read and dropped.
        Result r{c};
        rainbow::kafka::ConsumerConfig cc{
            o.brokers,
            run + "-consume",
            {"^" + std::regex_replace(prefix, std::regex("\\."), "\\.") + "\\.[a-z_]+$"},
            "loader-bench"};
        cc.properties["fetch.error.backoff.ms"] = "20";
        rainbow::kafka::Consumer consumer(cc);
        int64_t n = 0;
        std::optional<Clock::time_point> first;
        const auto end = Clock::now() + 300s;
        while (n < rows && Clock::now() < end) {
          if (consumer.Poll(100ms)) {
            if (!first) first = Clock::now();
            ++n;
          }
        }
        r.events = n;
        r.seconds = r.total_seconds = first ? Since(*first) : 0;
        r.note = "reading only, one thread";
        results.push_back(r);
      } else if (c == "copy" || c == "upsert") {
        results.push_back(CopyFloor(src, "s", database(c), c == "upsert"));
      } else if (c == "jdbc") {
        if (o.connect_libs.empty() || o.jdbc_plugins.empty()) continue;
        const auto target = database(c);
        const std::string db = target.substr(target.rfind('=') + 1);
        Result r{c};
        const auto started = Clock::now();
        auto sink = StartJdbcSink(o, "/tmp/" + run + "-jdbc", prefix, db);
        WaitCount(
            [&] {
              return Count(target,
                           "SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM payments) + "
                           "(SELECT count(*) FROM sellers) + (SELECT count(*) FROM promotions) + "
                           "(SELECT count(*) FROM products) + (SELECT count(*) FROM orders) + "
                           "(SELECT count(*) FROM orderdetails)");
            },
            rows, sink.get(), started, r, 900s);
        Stop(*sink);
        results.push_back(r);
      }
    }
    std::printf("\n== throughput: %lld change events (snapshot reads) per contender ==\n",
                static_cast<long long>(rows));
    Print(results);
    const double staging = Rate(results, "staging"), model = Rate(results, "model"),
                 copy = Rate(results, "copy"), jdbc = Rate(results, "jdbc");
    if (staging > 0 && copy > 0)
      std::printf("ratio staging-only / COPY floor: %.2fx (target >= 0.5x)\n", staging / copy);
    if (model > 0 && copy > 0) std::printf("ratio whole model / COPY floor: %.2fx\n", model / copy);
    const double upsert = Rate(results, "upsert"), consume = Rate(results, "consume");
    if (upsert > 0 && consume > 0) {
      const double serial = 1 / (1 / upsert + 1 / consume);
      std::printf(
          "bound for a mirror that reads, then upserts, one batch after the other: %.0f events/s; "
          "staging-only at %.2fx of it\n",
          serial, staging / serial);
    }
    if (staging > 0 && upsert > 0)
      std::printf("ratio staging-only / upsert floor: %.2fx (the bound for a mirror that upserts)\n",
                  staging / upsert);
    if (staging > 0 && jdbc > 0)
      std::printf("ratio staging-only / JDBC sink: %.2fx (target >= 5x)\n", staging / jdbc);
    if (model > 0 && jdbc > 0) std::printf("ratio whole model / JDBC sink: %.2fx\n", model / jdbc);

    // 3. Freshness: cdc-producer streaming + the loader (model) live, order lines at a fixed rate.
    if (o.freshness) {
      const std::string live_prefix = run + "_live.public";
      const auto wh = database("fresh");
      Exec(src, "TRUNCATE s.orderdetails, s.orders");
      auto cdc = StartCdc(o, src, "s", run + "_live", live_prefix, "never");
      const int http = rainbow::testing::FreePort();
      auto loader = StartLoader(o, src, wh, live_prefix, run + "-fresh", true, http);
      std::this_thread::sleep_for(5s);  // cdc-producer's slot exists: later commits are streamed
      // Warm-up: one order through the whole path, so the topics exist and the loader's group holds them
      // (a topic created later is found at the next metadata refresh, seconds later) before timing.
      rainbow::pg::Connection writer(src);
      writer.Exec(
          "BEGIN; INSERT INTO s.orders (id, customer_id, payment_id) VALUES (9999999, 1, 1); INSERT INTO "
          "s.orderdetails (order_id, line_no, product_id, quantity, price) VALUES (9999999, 1, 1, 1, 2.50); "
          "COMMIT");
      Result warm{"warm-up"};
      if (!WaitCount([&] { return Count(wh, "SELECT count(*) FROM warehouse.fact_sales"); }, 1, loader.get(),
                     Clock::now(), warm, 120s))
        throw std::runtime_error("freshness warm-up: " + warm.note);
      const int orders_per_s = std::max(1, o.rate / 2);
      const auto started = Clock::now();
      int64_t id = 10'000'000;
      for (int64_t sent = 0; Since(started) < o.seconds;) {
        const int64_t due = static_cast<int64_t>(Since(started) * orders_per_s);
        for (; sent < due; ++sent, ++id) {
          writer.Exec(
              "BEGIN; INSERT INTO s.orders (id, customer_id, payment_id) VALUES (" + std::to_string(id) +
              ", 1, 1); INSERT INTO s.orderdetails (order_id, line_no, product_id, quantity, price) VALUES "
              "(" +
              std::to_string(id) + ", 1, 1, 1, 2.50), (" + std::to_string(id) + ", 2, 2, 2, 5.00); COMMIT");
        }
        std::this_thread::sleep_for(1ms);
      }
      const int64_t lines = 2 * (id - 10'000'000) + 1;
      Result r{"fresh"};
      WaitCount([&] { return Count(wh, "SELECT count(*) FROM warehouse.fact_sales"); }, lines, loader.get(),
                started, r, 120s);
      const auto metrics =
          rainbow::testing::HttpGet("http://127.0.0.1:" + std::to_string(http) + "/metrics").second;
      const auto p50 = Quantile(metrics, "loader_freshness_seconds", 0.5);
      const auto p99 = Quantile(metrics, "loader_freshness_seconds", 0.99);
      std::printf("\n== freshness: %d order lines/s for %d s (source commit -> fact_sales commit) ==\n",
                  o.rate, o.seconds);
      std::printf(
          "lines %lld  p50 %.0f ms  p99 %.0f ms (target p99 < 1000 ms)  loader peak RSS %.1f MB (target < "
          "100 "
          "MB)  loader cpu %.2f s\n",
          static_cast<long long>(lines), p50.value_or(-1) * 1000, p99.value_or(-1) * 1000,
          rainbow::bench::PeakRssMb(loader->pid()), rainbow::bench::CpuSeconds(loader->pid()));
      Stop(*loader);
      Stop(*cdc);
      Exec(src, "SELECT pg_drop_replication_slot('" + run + "_live')");
    }
  } catch (const std::exception& e) {
    std::cerr << "loader_bench: " << e.what() << "\n";
    rc = 1;
  }
  for (const auto& db : databases) {
    try {
      Exec(o.dsn, "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
    } catch (const std::exception&) {
    }
  }
  return rc;
}
