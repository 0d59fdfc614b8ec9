#include "services/cdc-producer/src/ack_tracker.hpp"

#include <stdexcept>

namespace rainbow::cdc {

AckTracker::Batch* AckTracker::Find(BatchId id) {
  if (batches_.empty() || id < batches_.front().id || id > batches_.back().id) return nullptr;
  return &batches_[id - batches_.front().id];
}

AckTracker::BatchId AckTracker::Open() {
  std::lock_guard lock(mu_);
  const BatchId id = next_id_++;
  batches_.push_back({id, Lsn(), 0, false});
  return id;
}

void AckTracker::AddEvent(BatchId batch) {
  std::lock_guard lock(mu_);
  Batch* b = Find(batch);
  if (b == nullptr || b->closed) throw std::logic_error("AckTracker::AddEvent on a closed or unknown batch");
  ++b->pending;
  ++pending_total_;
}

void AckTracker::Delivered(BatchId batch, bool ok, const std::string& error) {
  std::lock_guard lock(mu_);
  if (!ok && !failed_) {
    failed_ = true;
    first_error_ = error;
  }
  Batch* b = Find(batch);
  if (b == nullptr || b->pending == 0) return;  // cannot happen: batches leave only when fully delivered
  if (ok) {
    --b->pending;
    --pending_total_;
  }
}

void AckTracker::Close(BatchId batch, Lsn resume_lsn) {
  std::lock_guard lock(mu_);
  Batch* b = Find(batch);
  if (b == nullptr) throw std::logic_error("AckTracker::Close on an unknown batch");
  b->closed = true;
  b->resume_lsn = resume_lsn;
}

void AckTracker::AddIdlePosition(Lsn lsn) {
  std::lock_guard lock(mu_);
  for (const auto& b : batches_) {
    if (!b.closed) return;  // a transaction is open: its start is not safe to skip
  }
  batches_.push_back({next_id_++, lsn, 0, true});
}

Lsn AckTracker::Confirmable() {
  std::lock_guard lock(mu_);
  if (failed_) return confirmable_;
  while (!batches_.empty() && batches_.front().closed && batches_.front().pending == 0) {
    if (batches_.front().resume_lsn > confirmable_) confirmable_ = batches_.front().resume_lsn;
    batches_.pop_front();
  }
  return confirmable_;
}

bool AckTracker::failed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

std::string AckTracker::first_error() const {
  std::lock_guard lock(mu_);
  return first_error_;
}

uint64_t AckTracker::pending_events() const {
  std::lock_guard lock(mu_);
  return pending_total_;
}

size_t AckTracker::open_batches() const {
  std::lock_guard lock(mu_);
  return batches_.size();
}

}  // namespace rainbow::cdc
