#include "services/loader/src/lake_loop.hpp"

#include <thread>

#include "common/logging/log.hpp"
#include "common/retry/backoff.hpp"
#include "services/loader/src/change_event.hpp"

namespace rainbow::loader {

LakeLoop::LakeLoop(const LoaderConfig& config, s3::S3Client& s3, LoaderMetrics& metrics, LoaderStatus& status)
    : config_(config), s3_(s3), metrics_(metrics), status_(status) {
  kafka::ConsumerConfig cc{config.kafka_brokers, config.lake.group, {config.topic_pattern}, "loader-lake"};
  cc.properties["queued.max.messages.kbytes"] = "16384";
  // An unfinished window of a partition taken away is re-read by its next owner from the window start.
  cc.on_revoke = [this](const std::vector<kafka::TopicPartition>& parts) {
    for (const auto& p : parts) windows_.erase(p);
  };
  consumer_ = std::make_unique<kafka::Consumer>(std::move(cc));
}

LakeLoop::~LakeLoop() { Close(); }

void LakeLoop::Close() {
  if (!consumer_) return;
  std::stop_source none;
  for (auto& [p, w] : windows_) {
    if (!w.dirty) continue;
    try {
      Write(p, w, none.get_token(), std::chrono::seconds(5));  // the next owner rewrites it anyway
    } catch (const std::exception& e) {
      log::Warn("lake: last write failed", {{"error", e.what()}});
    }
  }
  consumer_->Close();
  consumer_.reset();
}

bool LakeLoop::Write(const kafka::TopicPartition& p, LakeWindow& w, std::stop_token stop,
                     std::chrono::milliseconds patience) {
  retry::Backoff backoff({std::chrono::milliseconds(500), std::chrono::milliseconds(10'000), 2.0, 0});
  const auto give_up = std::chrono::steady_clock::now() + patience;
  for (;;) {
    try {
      for (const auto& [table, by_date] : w.lines) {
        for (const auto& [date, lines] : by_date) {
          const auto body = Gzip(lines);
          s3_.PutObject(s3::BucketName(config_.lake.bucket),
                        s3::ObjectKey(LakeObjectKey(table, date, p.first, p.second, w.start)), body,
                        {"application/gzip"});
          metrics_.LakeObject(static_cast<double>(body.size()));
        }
      }
      w.dirty = false;
      metrics_.SinkUp("lake", true);
      return true;
    } catch (const std::exception& e) {
      metrics_.SinkUp("lake", false);
      status_.Error("lake", e.what());
      if (std::chrono::steady_clock::now() >= give_up) throw;
      const auto delay = backoff.NextDelay();
      log::Warn("lake write failed, retrying", {{"topic", p.first},
                                                {"partition", p.second},
                                                {"window", w.start},
                                                {"error", e.what()},
                                                {"retry_in_ms", delay.count()}});
      for (auto waited = std::chrono::milliseconds(0); waited < delay;
           waited += std::chrono::milliseconds(50)) {
        if (stop.stop_requested()) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }
}

void LakeLoop::Add(const kafka::ConsumedMessage& m, std::stop_token stop) {
  const kafka::TopicPartition p{m.topic, m.partition};
  const int64_t start = m.offset / config_.lake.window * config_.lake.window;
  auto& w = windows_[p];
  if (w.start != start) {
    if (w.start >= 0 && w.events > 0) {
      // The previous window is complete: write it a last time, then commit past it. If that fails, this
      // message is read again (seek) once S3 is back: it belongs to the next window.
      bool written = false;
      try {
        written = Write(p, w, stop);
      } catch (const std::exception&) {
        consumer_->Seek(p, m.offset);
        throw;
      }
      if (!written) {
        consumer_->Seek(p, m.offset);
        return;
      }
      metrics_.LakeWindowDone(static_cast<double>(w.events));
      status_.LakeWritten(w.events);
      try {
        consumer_->Commit(std::map<kafka::TopicPartition, int64_t>{{p, start}});
      } catch (const std::exception& e) {
        log::Warn("lake: commit failed (the window will be rewritten after a restart)",
                  {{"error", e.what()}});
      }
    }
    w = LakeWindow{start};
  }
  const auto line = LakeLineOf(m);
  if (!line) {
    if (m.value)
      log::Warn("lake: not a change event, skipped (the warehouse sink dead-letters it)",
                {{"topic", m.topic}, {"partition", m.partition}, {"offset", m.offset}});
    return;  // tombstones carry no event
  }
  const auto table = TableOfTopic(m.topic);
  if (!table) return;
  w.lines[*table][UtcDate(line->ts_ms)] += line->line;
  ++w.events;
  w.dirty = true;
}

void LakeLoop::RunOnce(std::stop_token stop) {
  for (int i = 0; i < 1000 && !stop.stop_requested(); ++i) {
    auto m = consumer_->Poll(i == 0 ? std::chrono::milliseconds(100) : std::chrono::milliseconds(0));
    if (!m) break;
    Add(*m, stop);
  }
  if (std::chrono::steady_clock::now() - last_flush_ < config_.lake.flush_interval) return;
  last_flush_ = std::chrono::steady_clock::now();
  for (auto& [p, w] : windows_) {
    if (w.dirty && !Write(p, w, stop)) return;
  }
}

}  // namespace rainbow::loader
