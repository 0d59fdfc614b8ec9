#include "common/pg/migrations.hpp"

#include "common/logging/log.hpp"
#include "common/retry/backoff.hpp"

#include <algorithm>
#include <set>

namespace rainbow::pg {

std::vector<int> ApplyMigrations(Connection& conn, const std::string& history_table,
                                 const std::string& lock_name, const std::vector<Migration>& migrations) {
  std::vector<Migration> ordered = migrations;
  std::sort(ordered.begin(), ordered.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });

  // A session lock (not a transaction lock): held across the per-migration transactions below.
  conn.Exec("SELECT pg_advisory_lock(hashtext($1))", {lock_name});
  std::vector<int> applied;
  try {
    const auto dot = history_table.find('.');
    if (dot != std::string::npos) conn.Exec("CREATE SCHEMA IF NOT EXISTS " + history_table.substr(0, dot));
    conn.Exec(
        "CREATE TABLE IF NOT EXISTS " + history_table +
        " (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
    std::set<int> done;
    auto rows = conn.Exec("SELECT version FROM " + history_table);
    for (int i = 0; i < rows.rows(); ++i) done.insert(static_cast<int>(rows.Int(i, 0)));
    for (const auto& m : ordered) {
      if (done.count(m.version)) continue;
      Transaction tx(conn);
      conn.Exec(m.sql);
      conn.Exec("INSERT INTO " + history_table + " (version, name) VALUES ($1, $2)",
                {std::to_string(m.version), m.name});
      tx.Commit();
      applied.push_back(m.version);
    }
  } catch (...) {
    conn.Exec("SELECT pg_advisory_unlock(hashtext($1))", {lock_name});
    throw;
  }
  conn.Exec("SELECT pg_advisory_unlock(hashtext($1))", {lock_name});
  return applied;
}

std::vector<int> PendingMigrations(Connection& conn, const std::string& history_table,
                                   const std::vector<Migration>& migrations) {
  std::set<int> done;
  if (!conn.Exec("SELECT to_regclass($1)", {history_table}).IsNull(0, 0)) {
    auto rows = conn.Exec("SELECT version FROM " + history_table);
    for (int i = 0; i < rows.rows(); ++i) done.insert(static_cast<int>(rows.Int(i, 0)));
  }
  std::vector<int> pending;
  for (const auto& m : migrations) {
    if (!done.count(m.version)) pending.push_back(m.version);
  }
  std::sort(pending.begin(), pending.end());
  return pending;
}

bool ApplyMigrationsWhenReachable(const std::string& dsn, const std::string& history_table,
                                  const std::string& lock_name, const std::vector<Migration>& migrations,
                                  const std::function<bool(std::chrono::milliseconds)>& wait,
                                  const Timeouts& timeouts) {
  retry::Backoff backoff({std::chrono::milliseconds(200), std::chrono::milliseconds(5'000), 2.0, 30});
  for (;;) {
    try {
      Connection conn(dsn, {}, timeouts.WithoutStatementTimeout());
      const auto applied = ApplyMigrations(conn, history_table, lock_name, migrations);
      log::Info("migrations applied",
                {{"applied", applied}, {"known", migrations.size()}, {"history", history_table}});
      return true;
    } catch (const PgError& e) {
      if (!error::IsRetryable(e.kind()) || !backoff.CanRetry()) throw;
      const auto delay = backoff.NextDelay();
      log::Warn("database not reachable, retrying", {{"error", e.what()}, {"retry_in_ms", delay.count()}});
      if (wait(delay)) {
        log::Info("stopped before the migrations");
        return false;
      }
    }
  }
}

}  // namespace rainbow::pg
