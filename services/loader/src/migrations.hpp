#pragma once

#include <vector>

#include "common/pg/migrations.hpp"

namespace rainbow::loader {

// The warehouse's history of applied migrations.
inline constexpr const char* kMigrationHistory = "warehouse.schema_migrations";

// migrations/*.sql, embedded at build time.
std::vector<pg::Migration> Migrations();

}  // namespace rainbow::loader
