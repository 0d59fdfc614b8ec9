#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/pg/connection.hpp"

namespace rainbow::pg {

struct Migration {
  int version = 0;   // applied in ascending order; never renumber one that shipped
  std::string name;  // e.g. "001_orders"
  std::string sql;   // may hold several statements
};

// Applies the migrations not yet recorded in <history_table> (created if missing), each in its own
// transaction together with its history row, under a session advisory lock so that replicas starting
// at once apply each migration exactly once (the others wait, then find nothing to do). Returns the
// versions applied by this call. Throws PgError when a migration fails (it is rolled back whole).
std::vector<int> ApplyMigrations(Connection& conn, const std::string& history_table,
                                 const std::string& lock_name, const std::vector<Migration>& migrations);

// The versions of `migrations` not recorded in <history_table> yet, ascending; all of them when the
// table does not exist. Read-only: lets a readiness check tell a migrated database from an empty one.
std::vector<int> PendingMigrations(Connection& conn, const std::string& history_table,
                                   const std::vector<Migration>& migrations);

// ApplyMigrations, retrying with backoff (up to 30 attempts, 0.2-5 s apart) while the database cannot
// be reached yet (containers start in any order); a failing migration itself throws. `wait` sleeps for
// a delay and returns true when the caller wants to stop instead (a termination signal): this then
// returns false. Called by a service's main before its servers start. The connection has `timeouts`
// but no statement timeout: a migration may build an index for long, and the advisory lock waits for
// as long as another replica migrates.
bool ApplyMigrationsWhenReachable(const std::string& dsn, const std::string& history_table,
                                  const std::string& lock_name, const std::vector<Migration>& migrations,
                                  const std::function<bool(std::chrono::milliseconds)>& wait,
                                  const Timeouts& timeouts = {});

}  // namespace rainbow::pg
