// order-api-seed: bulk-loads the OLTP sample data set (CSV files made by
// data/generate_sample_data.py) and the seed's product feed into PostgreSQL with COPY, the fast path
// the seeds recommend over row-by-row inserts. Applies the migrations first. Loading is one
// transaction: all of it or nothing.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "common/config/env.hpp"
#include "common/logging/log.hpp"
#include "common/pg/connection.hpp"
#include "services/order-api/src/migrations.hpp"
#include "services/order-api/src/seed_loader.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Bulk-load the Rainbow OLTP sample data and product feed with COPY"};
  std::string dsn;  // PG_DSN or PG_DSN_FILE, as the services read it
  try {
    rainbow::config::Env env;
    dsn = env.Secret("PG_DSN", "libpq connection string");
  } catch (const rainbow::config::ConfigError& e) {
    std::cerr << "order-api-seed: " << e.what() << "\n";
    return 2;
  }
  std::string data_dir;
  std::string catalog;
  bool replace = false;
  app.add_option("--dsn", dsn, "libpq connection string (default: $PG_DSN, or the file $PG_DSN_FILE names)");
  app.add_option("--data-dir", data_dir, "directory with the sample CSV files (generate_sample_data.py)");
  app.add_option("--catalog", catalog, "the product feed CSV (shared/seed-data/products.csv)");
  app.add_flag("--replace", replace, "delete existing sample data (and orders) before loading");
  CLI11_PARSE(app, argc, argv);
  if (dsn.empty()) {
    std::cerr << "order-api-seed: no database: set PG_DSN (or PG_DSN_FILE) or pass --dsn\n";
    return 2;
  }
  if (data_dir.empty() && catalog.empty()) {
    std::cerr << "order-api-seed: nothing to load: pass --data-dir and/or --catalog\n";
    return 2;
  }
  try {
    // Bulk COPY of the seed files: no statement timeout (the default connect and TCP timeouts apply).
    rainbow::pg::Connection conn(dsn, {}, rainbow::pg::Timeouts{}.WithoutStatementTimeout());
    rainbow::pg::ApplyMigrations(conn, "rainbow.schema_migrations", "rainbow.order-api.migrations",
                                 rainbow::order::Migrations());
    rainbow::order::SeedReport report = rainbow::order::LoadSeedData(conn, data_dir, catalog, replace);
    for (const auto& [table, rows] : report.rows) {
      rainbow::log::Info("seed loaded", {{"table", table}, {"rows", rows}});
    }
    for (const auto& skipped : report.skipped) rainbow::log::Info("seed skipped", {{"reason", skipped}});
    return 0;
  } catch (const std::exception& e) {
    rainbow::log::Error("seed failed", {{"error", e.what()}});
    std::cerr << "order-api-seed: " << e.what() << "\n";
    return 1;
  }
}
