// The serving layer's benchmark (bench/loader/README.md "ClickHouse"): the loader's ClickHouse sink
// copying a warehouse of --rows fact rows vs the floors, one HTTP insert of the same rows as
// TabSeparated and as RowBinary (by curl), and vs the bound, psql's COPY piped into curl's streamed
// insert (one and two pipes at once), in interleaved rounds; then each serving view on ClickHouse vs
// the same GROUP BY on the PostgreSQL warehouse.
// Needs the test stack's PostgreSQL and ClickHouse (PG_DSN, CLICKHOUSE_URL from scripts/stack env).
#include <CLI/CLI.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <stop_token>
#include <string>
#include <vector>

#include <libpq-fe.h>

#include "common/pg/connection.hpp"
#include "common/pg/migrations.hpp"
#include "services/loader/src/clickhouse_client.hpp"
#include "services/loader/src/clickhouse_sink.hpp"
#include "services/loader/src/migrations.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using rainbow::loader::ClickHouseClient;
using rainbow::loader::ClickHouseConfig;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == 0) {
    std::fprintf(stderr, "clickhouse_bench: %s is not set (eval \"$(scripts/stack --test env)\")\n", name);
    std::exit(2);
  }
  return v;
}

// `text` as a URL query value (every byte but letters, digits, '_' and '.' percent-encoded).
std::string UrlEncode(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.') {
      out += c;
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", static_cast<unsigned char>(c));
      out += hex;
    }
  }
  return out;
}

// Best of `runs` wall times of f.
double Best(int runs, const std::function<void()>& f) {
  double best = std::numeric_limits<double>::max();
  for (int i = 0; i < runs; ++i) {
    const auto t = Clock::now();
    f();
    best = std::min(best, Seconds(t));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("the loader's ClickHouse sink vs one TabSeparated insert; serving views vs the warehouse");
  int64_t rows = 1'000'000;
  int runs = 3;
  bool keep = false;
  int64_t batch = 100'000;
  app.add_option("--rows", rows, "fact rows in the warehouse");
  app.add_option("--runs", runs, "runs per view query (the best is reported)");
  app.add_option("--batch", batch, "the sink's LOADER_CLICKHOUSE_BATCH (versions per insert)");
  int lanes = ClickHouseConfig{}.copy_lanes;
  app.add_option("--lanes", lanes, "the sink's LOADER_CLICKHOUSE_LANES (windows copied at once)");
  int rounds = 3;
  app.add_option("--rounds", rounds,
                 "rounds of the copy contenders, interleaved (each reported by its best)");
  app.add_flag("--keep", keep, "keep the databases afterwards");
  CLI11_PARSE(app, argc, argv);

  const std::string base_dsn = Env("PG_DSN");
  const std::string name =
      "chbench_" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
  {
    rainbow::pg::Connection c(base_dsn);
    c.Exec("CREATE DATABASE " + name);
  }
  const std::string dsn = base_dsn + " dbname=" + name;
  rainbow::pg::Connection wh(dsn);
  rainbow::pg::ApplyMigrations(wh, rainbow::loader::kMigrationHistory, "rainbow.loader.migrations",
                               rainbow::loader::Migrations());
  auto t = Clock::now();
  wh.Exec(
      "INSERT INTO warehouse.dim_dates SELECT to_char(d, 'YYYYMMDD')::integer, d, extract(day FROM d), "
      "extract(month FROM d), to_char(d, 'FMMonth'), extract(year FROM d), extract(quarter FROM d), "
      "extract(week FROM d), extract(isodow FROM d), to_char(d, 'FMDay'), extract(isodow FROM d) >= 6 "
      "FROM generate_series('2024-01-01'::date, '2024-03-31'::date, '1 day') d");
  wh.Exec(
      "INSERT INTO warehouse.fact_sales (order_id, line_no, order_ts, date_key, product_id, customer_id, "
      "payment_id, promotion_id, seller_id, sales_quantity, regular_unit_price, discount_unit_price, "
      "net_unit_price, extended_discount_amount, extended_sales_amount) "
      "SELECT i / 2, i % 2 + 1, ts, to_char(ts, 'YYYYMMDD')::integer, 1 + i % 200, 1 + i % 1000, 1 + i % 5, "
      "CASE WHEN i % 3 = 0 THEN NULL ELSE 1 + i % 20 END, 1 + i % 20, q, p, 1.25, p - 1.25, q * 1.25, q * p "
      "FROM (SELECT i, '2024-01-01'::timestamptz + (i % 90) * interval '1 day' AS ts, 1 + i % 5 AS q, "
      "(5 + i % 100)::numeric(12,2) AS p FROM generate_series(0, " +
      std::to_string(rows - 1) + ") i) s");
  wh.Exec("ANALYZE warehouse.fact_sales");
  std::printf("{\"step\":\"warehouse filled\",\"fact_rows\":%lld,\"seconds\":%.2f}\n",
              static_cast<long long>(rows), Seconds(t));

  ClickHouseConfig cc;
  cc.url = Env("CLICKHOUSE_URL");
  cc.database = name;
  cc.timeout = std::chrono::minutes(10);
  cc.batch_versions = batch;
  cc.copy_lanes = lanes;
  ClickHouseClient ch(cc);
  rainbow::loader::ApplyClickHouseMigrations(ch);

  // The export the floors insert (made once, timed on its own: PostgreSQL's read rate).
  const auto& fact = rainbow::loader::ServingTables().back();  // fact_sales
  const int64_t max_version = wh.Exec("SELECT max(_version) FROM warehouse.fact_sales").Int(0, 0);
  std::string body;
  t = Clock::now();
  {
    const std::string sql = rainbow::loader::ServingExportSql(fact, 0, max_version);
    PGresult* res = PQexec(wh.raw(), sql.c_str());
    PQclear(res);
    char* buf = nullptr;
    for (int n; (n = PQgetCopyData(wh.raw(), &buf, 0)) > 0;) {
      body.append(buf, static_cast<size_t>(n));
      PQfreemem(buf);
    }
    while ((res = PQgetResult(wh.raw())) != nullptr) PQclear(res);
  }
  std::printf("{\"step\":\"export alone (COPY TO STDOUT into memory)\",\"bytes\":%zu,\"seconds\":%.3f}\n",
              body.size(), Seconds(t));
  std::string cols;
  for (const auto& c : fact.columns) cols += (cols.empty() ? "" : ", ") + c.substr(c.rfind(' ') + 1);
  ch.Query("CREATE TABLE floor_fact AS fact_sales");
  ch.Query("CREATE TABLE floor_rb AS fact_sales");
  ch.Query("CREATE TABLE bound_fact AS fact_sales");
  // The floor the issue names: the same rows in RowBinary, ClickHouse's own encoding of them (made
  // once from a first TabSeparated insert, not timed), in one POST by curl.
  ch.InsertTsv("floor_fact (" + cols + ", is_deleted, _version)", body);
  const std::string rb_file = "/tmp/" + name + ".rowbinary";
  size_t rb_bytes = 0;
  {
    const std::string rowbinary = ch.Query("SELECT * FROM floor_fact FORMAT RowBinary");
    rb_bytes = rowbinary.size();
    std::ofstream(rb_file, std::ios::binary) << rowbinary;
  }
  ::setenv("BENCH_RB_FILE", rb_file.c_str(), 1);
  ::setenv("BENCH_RB_URL",
           (cc.url + "/?query=" + UrlEncode("INSERT INTO " + name + ".floor_rb FORMAT RowBinary")).c_str(),
           1);
  // The bound's statements, DSN and URL go through the environment: no shell quoting of SQL.
  ::setenv("BENCH_DSN", dsn.c_str(), 1);
  ::setenv("BENCH_INSERT_URL",
           (cc.url + "/?query=" +
            UrlEncode("INSERT INTO " + name + ".bound_fact (" + cols +
                      ", is_deleted, _version) FORMAT TabSeparated"))
               .c_str(),
           1);
  const auto fail = [](const std::string& what) {
    std::fprintf(stderr, "clickhouse_bench: %s\n", what.c_str());
    std::exit(1);
  };
  const auto count = [&](const std::string& table) {
    return std::stoll(ch.Query("SELECT count() FROM " + table));
  };

  // Each contender, timed.
  int sink_round = 0;
  const auto sink_run = [&] {
    // The sink (the loader's code): into a fresh ClickHouse database (migrated first, not timed) until
    // caught up.
    ClickHouseConfig sc = cc;
    sc.database = name + "_sink" + std::to_string(sink_round++);
    ClickHouseClient sch(sc);
    rainbow::loader::ApplyClickHouseMigrations(sch);
    rainbow::loader::ClickHouseSink sink(sc, dsn, nullptr, nullptr);
    std::stop_source stop;
    const auto started = Clock::now();
    int64_t copied = 0;
    for (int64_t n; (n = sink.RunOnce(stop.get_token())) > 0;) copied += n;
    const double secs = Seconds(started);
    if (copied < rows) fail("the sink copied " + std::to_string(copied) + " rows");
    sch.Query("DROP DATABASE IF EXISTS " + sc.database, false);
    return secs;
  };
  const auto tsv_floor = [&] {  // one TabSeparated POST of the exported rows (what the sink sends)
    ch.Query("TRUNCATE TABLE floor_fact");
    const auto started = Clock::now();
    ch.InsertTsv("floor_fact (" + cols + ", is_deleted, _version)", body);
    return Seconds(started);
  };
  const auto rb_floor = [&] {
    ch.Query("TRUNCATE TABLE floor_rb");
    const auto started = Clock::now();
    const int rc =
        std::system("curl -sS --fail --data-binary \"@$BENCH_RB_FILE\" \"$BENCH_RB_URL\" >/dev/null");
    const double secs = Seconds(started);
    if (rc != 0 || count("floor_rb") != rows)
      fail("the RowBinary floor failed (exit " + std::to_string(rc) + ")");
    return secs;
  };
  // The bound: the cheapest streamed copy there is on these cores, two stock tools piped (psql's COPY
  // TO STDOUT into curl's chunked upload of one INSERT), both sides running at once as the sink's do;
  // `streams` pipes at once, each over its share of the version range, as the sink's lanes.
  const auto pipe_bound = [&](int streams) {
    ch.Query("TRUNCATE TABLE bound_fact");
    std::string script;
    for (int i = 0; i < streams; ++i) {
      const std::string var = "BENCH_EXPORT_SQL_" + std::to_string(i);
      ::setenv(
          var.c_str(),
          rainbow::loader::ServingExportSql(fact, max_version * i / streams, max_version * (i + 1) / streams)
              .c_str(),
          1);
      script += "(psql -X -q \"$BENCH_DSN\" -c \"$" + var +
                "\" | curl -sS --fail -X POST -T - -H \"Transfer-Encoding: chunked\" \"$BENCH_INSERT_URL\" "
                ">/dev/null) & ";
    }
    script += "fail=0; for j in $(jobs -p); do wait $j || fail=1; done; exit $fail";
    ::setenv("BENCH_SCRIPT", script.c_str(), 1);
    const auto started = Clock::now();
    const int rc = std::system("bash -o pipefail -c \"$BENCH_SCRIPT\"");
    const double secs = Seconds(started);
    if (rc != 0 || count("bound_fact") != rows)
      fail("the bound's pipes failed (exit " + std::to_string(rc) + ")");
    return secs;
  };

  // Interleaved rounds, so that every contender meets the same shared cores; each is reported by its
  // best round and the ratios by the bests.
  struct Contender {
    const char* name;
    std::function<double()> run;
    double best = std::numeric_limits<double>::max();
  };
  std::vector<Contender> contenders = {
      {"sink", sink_run},
      {"floor: one TabSeparated insert", tsv_floor},
      {"floor: one RowBinary insert by curl", rb_floor},
      {"bound: 1 x (psql COPY | curl streamed insert)", [&] { return pipe_bound(1); }},
      {"bound: 2 x (psql COPY | curl streamed insert)", [&] { return pipe_bound(2); }}};
  for (int round = 1; round <= rounds; ++round) {
    for (auto& c : contenders) {
      const double secs = c.run();
      c.best = std::min(c.best, secs);
      std::printf("{\"round\":%d,\"contender\":\"%s\",\"seconds\":%.3f,\"rows_per_s\":%.0f}\n", round, c.name,
                  secs, static_cast<double>(rows) / secs);
    }
  }
  std::remove(rb_file.c_str());
  for (const auto& c : contenders)
    std::printf("{\"best_of\":%d,\"contender\":\"%s\",\"seconds\":%.3f,\"rows_per_s\":%.0f}\n", rounds,
                c.name, c.best, static_cast<double>(rows) / c.best);
  const double sink_s = contenders[0].best, tsv_s = contenders[1].best, rb_s = contenders[2].best;
  const double bound_s = contenders[3].best, bound2_s = contenders[4].best;
  std::printf(
      "{\"lanes\":%d,\"rowbinary_bytes\":%zu,\"sink_vs_rowbinary_floor\":%.2f,\"sink_vs_tsv_floor\":%.2f,"
      "\"bound_vs_rowbinary_floor\":%.2f,\"two_streams_vs_rowbinary_floor\":%.2f,\"sink_vs_two_streams\":%."
      "2f}\n",
      lanes, rb_bytes, rb_s / sink_s, tsv_s / sink_s, rb_s / bound_s, rb_s / bound2_s, bound2_s / sink_s);

  // Serving views vs the same query on the warehouse, over the same rows (copied in ClickHouse from the
  // floor's table; the sink's databases are gone).
  ch.Query("INSERT INTO fact_sales SELECT * FROM floor_fact");
  const std::vector<std::pair<std::string, std::string>> views = {{"sales_by_day", "date_key"},
                                                                  {"sales_by_product", "product_id"},
                                                                  {"sales_by_seller", "seller_id"},
                                                                  {"sales_by_promotion", "promotion_id"}};
  for (const auto& [view, key] : views) {
    const double c = Best(runs, [&] { ch.Query("SELECT * FROM " + view + " FORMAT Null"); });
    const double p = Best(runs, [&] {
      wh.Exec("SELECT " + key +
              ", count(*), sum(sales_quantity), sum(extended_sales_amount) FROM "
              "warehouse.fact_sales GROUP BY " +
              key);
    });
    std::printf("{\"view\":\"%s\",\"clickhouse_s\":%.4f,\"postgres_s\":%.4f}\n", view.c_str(), c, p);
  }
  if (!keep) {
    ch.Query("DROP DATABASE IF EXISTS " + name, false);
    rainbow::pg::Connection c(base_dsn);
    c.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  }
  return 0;
}
