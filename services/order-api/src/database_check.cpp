#include "services/order-api/src/database_check.hpp"

#include "common/logging/log.hpp"
#include "common/pg/migrations.hpp"
#include "services/order-api/src/migrations.hpp"

namespace rainbow::order {

namespace {
// A check answers quickly or not at all: a database this slow to say SELECT 1 is not ready.
constexpr std::chrono::milliseconds kStatementTimeout{2'000};
}  // namespace

DatabaseCheck::DatabaseCheck(Options options) : options_(std::move(options)) {}

void DatabaseCheck::Start(std::function<void()> on_checked) {
  on_checked_ = std::move(on_checked);
  thread_ = std::thread([this] { Loop(); });
}

DatabaseCheck::~DatabaseCheck() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DatabaseCheck::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    std::string problem = CheckDatabase();
    lock.lock();
    database_problem_ = std::move(problem);
    checked_ = true;
    last_check_ = std::chrono::steady_clock::now();
    lock.unlock();
    if (on_checked_) on_checked_();
    lock.lock();
    wake_.wait_for(lock, options_.interval, [this] { return stop_; });
  }
}

std::string DatabaseCheck::CheckDatabase() {
  try {
    if (!conn_ || !conn_->Healthy()) {
      conn_.reset();
      // Connect and TCP timeouts as configured; a statement held to kStatementTimeout, and the answer
      // waited for that plus the connect timeout: a frozen database fails the check, not hangs it.
      pg::Timeouts timeouts = options_.timeouts;
      if (timeouts.statement.count() == 0 || timeouts.statement > kStatementTimeout) {
        timeouts.statement = kStatementTimeout;
      }
      conn_ = std::make_unique<pg::Connection>(options_.dsn, std::map<std::string, std::string>{}, timeouts);
    }
    if (!migrated_) {
      const auto pending = pg::PendingMigrations(*conn_, options_.migration_history, Migrations());
      if (!pending.empty()) {
        return "schema not migrated: " + std::to_string(pending.size()) +
               " migration(s) pending, from version " + std::to_string(pending.front());
      }
      migrated_ = true;
    }
    conn_->Exec("SELECT 1");
    return "";
  } catch (const std::exception& e) {
    conn_.reset();
    return std::string("database: ") + e.what();
  }
}

std::string DatabaseCheck::Problem() const {
  std::lock_guard lock(mu_);
  if (!checked_) return "starting: database not checked yet";
  if (!database_problem_.empty()) return database_problem_;
  // The checking thread is stuck (a connection attempt to a host that never answers): the last
  // good result says nothing about now.
  const auto age = std::chrono::steady_clock::now() - last_check_;
  if (age > 3 * options_.interval + std::chrono::seconds(5)) {
    return "database: no answer to the readiness check for " +
           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()) + " s";
  }
  return "";
}

}  // namespace rainbow::order
