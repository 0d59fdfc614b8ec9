#include "services/order-api/src/schema.hpp"

#include "common/logging/log.hpp"
#include "common/ops/termination.hpp"
#include "common/pg/migrations.hpp"
#include "common/retry/backoff.hpp"
#include "services/order-api/src/migrations.hpp"

namespace rainbow::order {

bool MigrateWhenReachable(const std::string& dsn) {
  retry::Backoff backoff({std::chrono::milliseconds(200), std::chrono::milliseconds(5'000), 2.0, 30});
  for (;;) {
    try {
      pg::Connection conn(dsn);
      const auto applied =
          pg::ApplyMigrations(conn, kMigrationHistory, "rainbow.order-api.migrations", Migrations());
      log::Info("migrations applied", {{"applied", applied}, {"known", Migrations().size()}});
      return true;
    } catch (const pg::PgError& e) {
      if (e.kind() != error::Kind::kRetryable || !backoff.CanRetry()) throw;
      const auto delay = backoff.NextDelay();
      log::Warn("database not reachable, retrying", {{"error", e.what()}, {"retry_in_ms", delay.count()}});
      // Waits for the delay or a termination signal, whichever comes first.
      if (const auto sig = ops::WaitForTerminationSignal(delay)) {
        log::Info("stopped before start", {{"signal", *sig}});
        return false;
      }
    }
  }
}

}  // namespace rainbow::order
