// loader-admin: operator commands that need no running loader.
//   loader-admin reconcile [--wait SECONDS]   source vs warehouse; exit 0 on zero difference, 1 otherwise
// Connections from PG_DSN (source) and LOADER_WAREHOUSE_DSN (default: PG_DSN).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "services/loader/src/reconcile.hpp"

int main(int argc, char** argv) {
  CLI::App app{"loader-admin: operator commands of the loader (env: PG_DSN, LOADER_WAREHOUSE_DSN)"};
  app.require_subcommand(1);
  auto* reconcile =
      app.add_subcommand("reconcile", "compare the source with the warehouse; exit 1 on a difference");
  int wait_s = 0;
  std::string schema = "rainbow";
  reconcile->add_option("--wait", wait_s,
                        "keep comparing for up to this many seconds until equal (loader catching up)");
  reconcile->add_option("--source-schema", schema, "schema of the source tables");
  CLI11_PARSE(app, argc, argv);

  const char* source_dsn = std::getenv("PG_DSN");
  if (source_dsn == nullptr || *source_dsn == '\0') {
    std::cerr << "loader-admin: PG_DSN is not set\n";
    return 2;
  }
  const char* warehouse_env = std::getenv("LOADER_WAREHOUSE_DSN");
  const std::string warehouse_dsn =
      warehouse_env != nullptr && *warehouse_env != '\0' ? warehouse_env : source_dsn;
  try {
    rainbow::pg::Connection source(source_dsn);
    rainbow::pg::Connection warehouse(warehouse_dsn);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
    for (;;) {
      const auto report = rainbow::loader::Reconcile(source, warehouse, schema);
      if (report.matches || std::chrono::steady_clock::now() >= until) {
        std::cout << rainbow::loader::FormatReport(report);
        return report.matches ? 0 : 1;
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  } catch (const std::exception& e) {
    std::cerr << "loader-admin: " << e.what() << "\n";
    return 3;
  }
}
