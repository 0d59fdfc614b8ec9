#pragma once

#include <string>

#include "common/pg/timeouts.hpp"

namespace rainbow::order {

// Where applied migration versions are recorded (pg::ApplyMigrations, the readiness check).
inline constexpr const char* kMigrationHistory = "rainbow.schema_migrations";

// Applies the migrations, retrying while the database is not reachable yet (containers start in any
// order); a failing migration itself is fatal (throws). False when SIGTERM/SIGINT came while waiting:
// the service stops then, instead of after the last retry. Called from main before the servers start.
bool MigrateWhenReachable(const std::string& dsn, const pg::Timeouts& timeouts);

}  // namespace rainbow::order
