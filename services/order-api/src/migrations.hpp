#pragma once

#include <vector>

#include "common/pg/migrations.hpp"

namespace rainbow::order {

// The OLTP schema's migrations (services/order-api/migrations/*.sql, embedded at build time).
std::vector<pg::Migration> Migrations();

}  // namespace rainbow::order
