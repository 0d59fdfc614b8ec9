#pragma once

#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rainbow::converter {

// The bridge between a push producer (the download sink feeding the converter) and a pull consumer
// (the uploader's data source): a FIFO of byte chunks holding at most `max_bytes` (plus one chunk), so
// memory stays bounded whatever the object size. Push blocks while full; Read blocks while empty.
// The producer ends with Close() (clean end) or Fail(error) (Read rethrows it); the consumer may
// Cancel(), after which Push throws QueueCancelled so the producer unwinds.
// Threading: one producer thread and any number of consumer threads (Read is serialized inside).
// PushBuffer hands a whole buffer over without copying it and gives the producer back a drained one
// (a few are kept for reuse), so a steady stream neither copies nor allocates on the way in.
class ChunkQueue {
 public:
  class QueueCancelled : public std::runtime_error {
   public:
    QueueCancelled() : std::runtime_error("consumer cancelled the transfer") {}
  };

  explicit ChunkQueue(size_t max_bytes) : max_bytes_(max_bytes) {}

  void Push(std::string_view chunk) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return cancelled_ || bytes_ < max_bytes_; });
    if (cancelled_) throw QueueCancelled();
    chunks_.emplace_back(chunk);
    bytes_ += chunk.size();
    not_empty_.notify_all();
  }

  // Like Push, but takes `chunk`'s bytes without copying them and leaves `chunk` empty (a recycled
  // buffer with some capacity when one is available).
  void PushBuffer(std::string& chunk) {
    if (chunk.empty()) return;  // an empty chunk would read as the end of the data
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return cancelled_ || bytes_ < max_bytes_; });
    if (cancelled_) throw QueueCancelled();
    bytes_ += chunk.size();
    chunks_.push_back(std::move(chunk));
    chunk.clear();
    if (!spare_.empty()) {
      chunk.swap(spare_.back());
      spare_.pop_back();
    }
    not_empty_.notify_all();
  }

  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }

  void Fail(std::exception_ptr error) {
    std::lock_guard lock(mu_);
    error_ = std::move(error);
    closed_ = true;
    not_empty_.notify_all();
  }

  void Cancel() {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  // Copies up to `max` bytes into `out`; 0 means the producer closed and everything was read.
  // Rethrows the producer's error at once (data before a failure is useless to the consumer).
  size_t Read(char* out, size_t max) {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return cancelled_ || error_ || !chunks_.empty() || closed_; });
    if (error_) std::rethrow_exception(error_);
    if (cancelled_) throw QueueCancelled();
    if (chunks_.empty()) return 0;
    std::string& front = chunks_.front();
    const size_t n = std::min(max, front.size() - front_pos_);
    std::memcpy(out, front.data() + front_pos_, n);
    front_pos_ += n;
    if (front_pos_ == front.size()) {
      bytes_ -= front.size();
      if (spare_.size() < kMaxSpare) {
        front.clear();
        spare_.push_back(std::move(front));
      }
      chunks_.pop_front();
      front_pos_ = 0;
      not_full_.notify_all();
    }
    return n;
  }

 private:
  static constexpr size_t kMaxSpare = 4;  // drained buffers kept for PushBuffer

  const size_t max_bytes_;
  std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<std::string> chunks_;
  std::vector<std::string> spare_;
  size_t front_pos_ = 0;
  size_t bytes_ = 0;
  bool closed_ = false;
  bool cancelled_ = false;
  std::exception_ptr error_;
};

}  // namespace rainbow::converter
