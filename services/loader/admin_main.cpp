// loader-admin: operator commands that need no running loader (cron, CI, a shell).
//   loader-admin reconcile [--wait SECONDS]          source vs warehouse; exit 0 on zero difference, 1
//   otherwise loader-admin backfill --from YYYY-MM-DD --to YYYY-MM-DD
//                                                    rebuild dimensions and those days' facts from staging
//   loader-admin backfill --from-lake [--bucket lake] recompute the warehouse from the lake alone (an empty,
//                                                    freshly migrated warehouse: migrations are applied)
// Connections from PG_DSN (source) and LOADER_WAREHOUSE_DSN (default: PG_DSN); the lake from S3_ENDPOINT,
// S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY, S3_CA_FILE; ClickHouse (reconcile) from LOADER_CLICKHOUSE_*.
// Each may come from NAME_FILE, as for the services. Exit 2 on bad usage or config, 3 when a server fails.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <thread>

#include "common/config/env.hpp"
#include "common/pg/migrations.hpp"
#include "common/s3/client.hpp"
#include "services/loader/src/backfill.hpp"
#include "services/loader/src/migrations.hpp"
#include "services/loader/src/model_types.hpp"
#include "services/loader/src/reconcile.hpp"

namespace {

// Reconcile and backfill run over whole tables for as long as the data needs: no statement timeout
// (the default connect and TCP timeouts apply).
const rainbow::pg::Timeouts kNoStatementTimeout = rainbow::pg::Timeouts{}.WithoutStatementTimeout();

// The environment as the services read it (NAME or NAME_FILE; both set is an error). Secrets never
// appear in an error message.
rainbow::config::Env& Vars() {
  static rainbow::config::Env env;
  return env;
}
std::string Env(const char* name, const std::string& fallback = "") {
  const std::string v = Vars().String(name, fallback, "");
  return v.empty() ? fallback : v;
}
std::string SecretEnv(const char* name, const std::string& fallback = "") {
  const std::string v = Vars().Secret(name, "");
  return v.empty() ? fallback : v;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rainbow;
  CLI::App app{"loader-admin: operator commands of the loader (env: PG_DSN, LOADER_WAREHOUSE_DSN, S3_*)"};
  app.require_subcommand(1);
  auto* reconcile =
      app.add_subcommand("reconcile", "compare the source with the warehouse; exit 1 on a difference");
  int wait_s = 0;
  std::string schema = "rainbow";
  reconcile->add_option("--wait", wait_s,
                        "keep comparing for up to this many seconds until equal (loader catching up)");
  reconcile->add_option("--source-schema", schema, "schema of the source tables");
  auto* backfill = app.add_subcommand("backfill", "rebuild from staging for a date range, or from the lake");
  std::string from, to, bucket = "lake";
  bool from_lake = false;
  backfill->add_option("--from", from, "first order date (UTC), YYYY-MM-DD");
  backfill->add_option("--to", to, "last order date (UTC), YYYY-MM-DD");
  backfill->add_flag("--from-lake", from_lake, "recompute the whole warehouse from the lake");
  backfill->add_option("--bucket", bucket, "the lake's bucket");
  CLI11_PARSE(app, argc, argv);

  std::string source_dsn, warehouse_dsn;
  try {
    source_dsn = SecretEnv("PG_DSN");
    warehouse_dsn = SecretEnv("LOADER_WAREHOUSE_DSN", source_dsn);
  } catch (const config::ConfigError& e) {
    std::cerr << "loader-admin: " << e.what() << "\n";
    return 2;
  }
  if (source_dsn.empty()) {
    std::cerr << "loader-admin: PG_DSN (or PG_DSN_FILE) is not set\n";
    return 2;
  }
  try {
    if (reconcile->parsed()) {
      pg::Connection source(source_dsn, {}, kNoStatementTimeout);
      pg::Connection warehouse(warehouse_dsn, {}, kNoStatementTimeout);
      // With LOADER_CLICKHOUSE_URL set, the serving layer is checked too.
      std::unique_ptr<loader::ClickHouseClient> clickhouse;
      if (const auto url = Env("LOADER_CLICKHOUSE_URL"); !url.empty()) {
        loader::ClickHouseConfig cc;
        cc.url = url;
        cc.user = Env("LOADER_CLICKHOUSE_USER", "default");
        cc.password = SecretEnv("LOADER_CLICKHOUSE_PASSWORD");
        cc.database = Env("LOADER_CLICKHOUSE_DATABASE", "rainbow");
        clickhouse = std::make_unique<loader::ClickHouseClient>(cc);
      }
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
      for (;;) {
        const auto report = loader::Reconcile(source, warehouse, schema, clickhouse.get());
        if (report.matches || std::chrono::steady_clock::now() >= until) {
          std::cout << loader::FormatReport(report);
          return report.matches ? 0 : 1;
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
    pg::Connection warehouse(warehouse_dsn, {}, kNoStatementTimeout);
    loader::BackfillResult r;
    if (from_lake) {
      s3::S3Config c;
      c.endpoint = Env("S3_ENDPOINT");
      c.region = Env("S3_REGION", "us-east-1");
      c.access_key = SecretEnv("S3_ACCESS_KEY");
      c.secret_key = SecretEnv("S3_SECRET_KEY");
      c.ca_file = Env("S3_CA_FILE", "");
      if (c.endpoint.empty()) {
        std::cerr << "loader-admin: S3_ENDPOINT is not set\n";
        return 2;
      }
      pg::ApplyMigrations(warehouse, loader::kMigrationHistory, "rainbow.loader.migrations",
                          loader::Migrations());
      // SCD2 history cannot be replayed over history: only into an empty warehouse.
      if (warehouse
              .Exec("SELECT (SELECT count(*) FROM warehouse.fact_sales) + (SELECT count(*) FROM "
                    "warehouse.dim_products) + (SELECT count(*) FROM warehouse.dim_customers)")
              .Int(0, 0) != 0) {
        std::cerr
            << "loader-admin backfill --from-lake: the warehouse is not empty (recompute into a fresh one)\n";
        return 2;
      }
      s3::S3Client s3(c);
      r = loader::RecomputeFromLake(warehouse, s3, bucket);
    } else {
      const auto is_date = [](const std::string& d) {
        return d.size() == 10 && loader::IsValidLiteral("timestamptz", d);
      };
      if (!is_date(from) || !is_date(to) || from > to) {
        std::cerr
            << "loader-admin backfill: give --from and --to as YYYY-MM-DD (from <= to), or --from-lake\n";
        return 2;
      }
      r = loader::BackfillFromStaging(warehouse, from, to);
    }
    std::cout << "backfill: " << r.events << " events, " << r.objects << " lake objects, " << r.fact_rows
              << " fact rows written\n";
    return 0;
  } catch (const config::ConfigError& e) {
    std::cerr << "loader-admin: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "loader-admin: " << e.what() << "\n";
    return 3;
  }
}
