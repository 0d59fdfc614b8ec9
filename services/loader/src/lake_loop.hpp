#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <stop_token>

#include "common/kafka/consumer.hpp"
#include "common/s3/client.hpp"
#include "services/loader/src/config.hpp"
#include "services/loader/src/lake_writer.hpp"
#include "services/loader/src/metrics.hpp"
#include "services/loader/src/status.hpp"

namespace rainbow::loader {

// The lake sink: the same change events as gzip JSON lines in S3, with progress of its own (consumer
// group LOADER_LAKE_GROUP), so a slow or failing S3 never holds up the warehouse, nor the other way
// round. Each partition's offsets are cut into fixed windows (LOADER_LAKE_WINDOW); a window's events
// go to one object per (table, date), rewritten every flush interval while the window fills, and
// written a last time when the window is full, after which the window's end is committed. A restart
// reads the unfinished window again from its start and rewrites its objects: every event lands in
// exactly one object, once. Tombstones carry no event and are not written.
//
// Owned by main; RunOnce is called by one thread in a loop until stop.
class LakeLoop {
 public:
  LakeLoop(const LoaderConfig& config, s3::S3Client& s3, LoaderMetrics& metrics, LoaderStatus& status);
  ~LakeLoop();

  void RunOnce(std::stop_token stop);
  // Writes the unfinished windows (without committing them) and leaves the group.
  void Close();

 private:
  void Add(const kafka::ConsumedMessage& m, std::stop_token stop);
  // Writes the window's objects, retrying with backoff until done, stop (false) or `patience` is spent
  // (throws): the loop must poll again well within the group's max.poll.interval.ms, or it loses the
  // partition while it still holds a window it could write over the next owner's.
  bool Write(const kafka::TopicPartition& p, LakeWindow& w, std::stop_token stop,
             std::chrono::milliseconds patience = std::chrono::seconds(60));

  const LoaderConfig& config_;
  s3::S3Client& s3_;
  LoaderMetrics& metrics_;
  LoaderStatus& status_;
  std::map<kafka::TopicPartition, LakeWindow> windows_;
  std::chrono::steady_clock::time_point last_flush_ = std::chrono::steady_clock::now();
  std::unique_ptr<kafka::Consumer> consumer_;  // last: its callbacks use windows_
};

}  // namespace rainbow::loader
