#include "services/order-api/src/schema.hpp"

#include "common/ops/termination.hpp"
#include "common/pg/migrations.hpp"
#include "services/order-api/src/migrations.hpp"

namespace rainbow::order {

bool MigrateWhenReachable(const std::string& dsn, const pg::Timeouts& timeouts) {
  return pg::ApplyMigrationsWhenReachable(
      dsn, kMigrationHistory, "rainbow.order-api.migrations", Migrations(),
      [](std::chrono::milliseconds delay) { return ops::WaitForTerminationSignal(delay).has_value(); },
      timeouts);
}

}  // namespace rainbow::order
