#include "common/pg/pool.hpp"

namespace rainbow::pg {

Pool::Lease::~Lease() {
  if (pool_ != nullptr && conn_) pool_->Release(std::move(conn_));
}

Pool::Pool(PoolConfig config) : config_(std::move(config)) {
  if (config_.size < 1) throw PgError("pg pool: size must be >= 1", "", error::Kind::kInvalidArgument);
}

Pool::Lease Pool::Acquire() {
  std::unique_lock lock(mu_);
  ++waiting_;
  const bool got =
      freed_.wait_for(lock, config_.acquire_timeout, [&] { return !idle_.empty() || open_ < config_.size; });
  --waiting_;
  if (!got) {
    throw PgError("pg pool: no connection free within " + std::to_string(config_.acquire_timeout.count()) +
                      " ms (size " + std::to_string(config_.size) + ")",
                  "53300", error::Kind::kRetryable);
  }
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(conn));
  }
  ++open_;  // reserve the slot, connect outside the lock
  lock.unlock();
  try {
    return Lease(this, std::make_unique<Connection>(config_.dsn, config_.statements, config_.timeouts));
  } catch (...) {
    std::lock_guard relock(mu_);
    --open_;
    freed_.notify_one();
    throw;
  }
}

void Pool::Release(std::unique_ptr<Connection> conn) {
  const bool reusable = conn->Healthy() && !conn->InTransaction();
  if (!reusable) conn.reset();  // close outside the lock
  std::lock_guard lock(mu_);
  if (reusable) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  freed_.notify_one();
}

PoolStats Pool::Stats() const {
  std::lock_guard lock(mu_);
  return PoolStats{config_.size, open_, open_ - static_cast<int>(idle_.size()), waiting_};
}

}  // namespace rainbow::pg
