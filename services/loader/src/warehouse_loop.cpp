#include "services/loader/src/warehouse_loop.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/kafka/dead_letter.hpp"
#include "common/logging/log.hpp"
#include "common/retry/backoff.hpp"
#include "services/loader/src/model_types.hpp"
#include "services/loader/src/offset_store.hpp"

namespace rainbow::loader {
namespace {

using Clock = std::chrono::steady_clock;

// The event's own data at fault: a value that does not convert (class 22) or breaks a constraint (23).
// Other errors (permissions, a syntax error, a missing relation) are the loader's or the database's and
// must not send good events to the dead-letter topic: they are retried and reported instead.
bool IsDataError(const pg::PgError& e) {
  return e.sqlstate().starts_with("22") || e.sqlstate().starts_with("23");
}

// Sleeps `d` unless stop is requested first; false if it was.
bool SleepUnlessStopped(std::stop_token stop, std::chrono::milliseconds d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
    if (stop.stop_requested()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(d, std::chrono::milliseconds(50)));
  }
  return !stop.stop_requested();
}

}  // namespace

WarehouseLoop::WarehouseLoop(const LoaderConfig& config, kafka::DeadLetterWriter& dlq, LoaderMetrics& metrics,
                             LoaderStatus& status)
    : config_(config), dlq_(dlq), metrics_(metrics), status_(status) {
  kafka::ConsumerConfig cc{config.kafka_brokers, config.group, {config.topic_pattern}, "loader"};
  // When the prefetch queue is full, librdkafka's fetcher pauses for fetch.error.backoff.ms (500 ms):
  // with Debezium's schemas on every message (~4 KB) a 16 MB batch fills it, so the loader would stall
  // between batches. A short backoff keeps the fetcher a batch ahead.
  cc.properties["fetch.error.backoff.ms"] = "20";
  cc.on_assign = [this](const std::vector<kafka::TopicPartition>& parts) { return StartOffsets(parts); };
  cc.on_revoke = [this](const std::vector<kafka::TopicPartition>& parts) {
    // Messages of partitions taken away are not ours to write any more.
    std::erase_if(pending_, [&](const kafka::ConsumedMessage& m) {
      return std::find(parts.begin(), parts.end(), kafka::TopicPartition{m.topic, m.partition}) !=
             parts.end();
    });
    for (const auto& p : parts) status_.Revoked(p);
    log::Info("partitions revoked", {{"count", parts.size()}});
  };
  consumer_ = std::make_unique<kafka::Consumer>(std::move(cc));
}

WarehouseLoop::~WarehouseLoop() { Close(); }

void WarehouseLoop::Close() {
  if (consumer_) consumer_->Close();
}

pg::Connection& WarehouseLoop::Db() {
  if (!db_ || !db_->Healthy()) {
    writer_.reset();
    db_.reset();
    // The statement timeout applies: a batch is bounded (LOADER_BATCH_*), and a frozen warehouse must
    // fail the batch (not ready, retried) rather than hold this thread.
    db_ = std::make_unique<pg::Connection>(config_.warehouse_dsn, std::map<std::string, std::string>{},
                                           config_.pg_timeouts);
    writer_ = std::make_unique<WarehouseWriter>(*db_, config_.model);
  }
  return *db_;
}

std::map<kafka::TopicPartition, int64_t> WarehouseLoop::StartOffsets(
    const std::vector<kafka::TopicPartition>& parts) {
  // Where the warehouse says each partition stands. If the database cannot be read now, the group's
  // committed offsets are used; the first batch's fence then finds any difference and seeks.
  for (int attempt = 1; attempt <= 3; ++attempt) {
    try {
      auto stored = LoadOffsets(Db(), parts);
      log::Info("partitions assigned", {{"count", parts.size()}, {"stored", stored.size()}});
      status_.Assigned(stored);
      return stored;
    } catch (const std::exception& e) {
      db_.reset();
      log::Warn("cannot read stored offsets on assignment", {{"error", e.what()}, {"attempt", attempt}});
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
    }
  }
  return {};
}

void WarehouseLoop::SeekToStored() {
  std::set<kafka::TopicPartition> parts;
  for (const auto& m : pending_) parts.insert({m.topic, m.partition});
  const auto first_of = [&](const kafka::TopicPartition& p) {
    for (const auto& m : pending_)
      if (m.topic == p.first && m.partition == p.second) return m.offset;
    return int64_t{-1};
  };
  std::map<kafka::TopicPartition, int64_t> stored;
  try {
    stored = LoadOffsets(Db(), {parts.begin(), parts.end()});
  } catch (const std::exception& e) {
    db_.reset();
    log::Warn("cannot read stored offsets to seek", {{"error", e.what()}});
  }
  for (const auto& p : parts) {
    const auto it = stored.find(p);
    const int64_t to = it != stored.end() ? it->second : first_of(p);
    try {
      consumer_->Seek(p, to);
      log::Info("partition re-read from stored offset",
                {{"topic", p.first}, {"partition", p.second}, {"offset", to}});
    } catch (const std::exception& e) {
      log::Warn("seek failed", {{"topic", p.first}, {"partition", p.second}, {"error", e.what()}});
    }
  }
  pending_.clear();
}

void WarehouseLoop::Collect(std::stop_token stop) {
  const auto deadline = Clock::now() + config_.batch.max_wait;
  int64_t bytes = 0;
  for (const auto& m : pending_)
    bytes += static_cast<int64_t>((m.key ? m.key->size() : 0) + (m.value ? m.value->size() : 0));
  while (static_cast<int64_t>(pending_.size()) < config_.batch.max_events &&
         bytes < config_.batch.max_bytes && !stop.stop_requested()) {
    const auto now = Clock::now();
    if (now >= deadline && !pending_.empty()) break;
    const auto wait = pending_.empty()
                          ? std::chrono::milliseconds(100)
                          : std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    auto m = consumer_->Poll(wait);
    if (!m) {
      if (pending_.empty()) return;  // idle: let the caller check stop
      continue;
    }
    bytes += static_cast<int64_t>((m->key ? m->key->size() : 0) + (m->value ? m->value->size() : 0));
    pending_.push_back(std::move(*m));
  }
}

void WarehouseLoop::WriteDeadLetters(const std::vector<Poison>& poison) {
  for (const auto& p : poison) {
    const auto& m = pending_[p.message];
    dlq_.Send(m, p.error);
    log::Warn("message dead-lettered",
              {{"topic", m.topic}, {"partition", m.partition}, {"offset", m.offset}, {"error", p.error}});
  }
}

WarehouseLoop::Attempt WarehouseLoop::Write(std::vector<ChangeEvent>& events,
                                            std::vector<size_t>& event_message, std::vector<Poison>& poison) {
  const auto started = Clock::now();
  auto& db = Db();
  pg::Transaction tx(db);
  std::vector<const ChangeEvent*> ptrs;
  for (const auto& e : events) ptrs.push_back(&e);
  ApplyCounts counts;
  try {
    counts = writer_->Apply(ptrs);
  } catch (const pg::PgError& e) {
    if (!IsDataError(e)) throw;
    // Some event breaks a constraint or a cast: apply one at a time to find it (them).
    db.Exec("ROLLBACK");
    db.Exec("BEGIN");
    log::Warn("batch refused by the warehouse, isolating the message at fault", {{"error", e.what()}});
    metrics_.Batch("warehouse", "isolated", 0, 0);
    counts = {};
    for (size_t i = 0; i < events.size(); ++i) {
      db.Exec("SAVEPOINT one_event");
      try {
        auto c = writer_->Apply({&events[i]});
        for (const auto& [k, n] : c.events) counts.events[k] += n;
        counts.fact_rows += c.fact_rows;
        db.Exec("RELEASE SAVEPOINT one_event");
      } catch (const pg::PgError& one) {
        if (!IsDataError(one)) throw;
        db.Exec("ROLLBACK TO SAVEPOINT one_event");
        poison.push_back({event_message[i], std::string("warehouse refused the event: ") + one.what()});
      }
    }
  }
  // The partitions' offsets, fenced: each must still stand where this batch began.
  std::map<kafka::TopicPartition, std::pair<int64_t, int64_t>> ranges;  // first, next
  for (const auto& m : pending_) {
    auto [it, fresh] = ranges.try_emplace({m.topic, m.partition}, m.offset, m.offset + 1);
    if (!fresh) it->second.second = m.offset + 1;
  }
  for (const auto& [p, range] : ranges) {
    if (!AdvanceOffset(db, p, range.first, range.second)) {
      // Another consumer moved the partition on (a rebalance), or the stored offset is no longer in
      // Kafka (retention removed it, the topic was recreated): then every retry fences again, and the
      // sink stays not ready with this reason until an operator sees to it.
      const std::string why = "partition " + p.first + "/" + std::to_string(p.second) +
                              " fenced: the batch began at " + std::to_string(range.first) +
                              ", the warehouse holds another offset";
      log::Warn("batch rolled back: " + why,
                {{"topic", p.first}, {"partition", p.second}, {"first", range.first}});
      status_.Error("warehouse", why);
      writer_->Forget();        // what this transaction created is gone with it
      return Attempt::kFenced;  // the transaction rolls back as tx goes out of scope
    }
  }
  // Dead letters last before the commit: a fenced batch sends none.
  WriteDeadLetters(poison);
  tx.Commit();

  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  double max_fresh = 0;
  for (const auto& e : events) {
    if (e.op == 'x' || e.op == 'r') continue;  // snapshot reads and tombstones say nothing of freshness
    const double f = static_cast<double>(now_ms - e.source_ts_ms) / 1000.0;
    metrics_.Freshness(f);
    max_fresh = std::max(max_fresh, f);
  }
  for (const auto& [k, n] : counts.events) metrics_.Events(k.first, k.second, static_cast<double>(n));
  for (const auto& p : poison)
    metrics_.DeadLetter(TableOfTopic(pending_[p.message].topic).value_or("unknown"));
  metrics_.FactRows(static_cast<double>(counts.fact_rows));
  metrics_.Batch("warehouse", "committed", static_cast<double>(pending_.size()), seconds);
  std::map<kafka::TopicPartition, int64_t> next;
  for (const auto& [p, range] : ranges) next[p] = range.second;
  status_.Committed(next, static_cast<int64_t>(events.size()), counts.fact_rows,
                    static_cast<int64_t>(poison.size()), seconds, max_fresh);
  // The orders this batch touched, so one order can be followed from order-api to its fact rows.
  std::set<int64_t> order_ids;
  for (const auto& e : events) {
    if (e.table != "orders" && e.table != "orderdetails") continue;
    for (const auto& [name, value] : e.row) {
      if (value && name == (e.table == "orders" ? "id" : "order_id")) order_ids.insert(std::stoll(*value));
    }
  }
  log::Info("batch committed", {{"events", pending_.size()},
                                {"fact_rows", counts.fact_rows},
                                {"dead_lettered", poison.size()},
                                {"seconds", seconds},
                                {"order_ids", std::vector<int64_t>(order_ids.begin(), order_ids.end())}});
  // Also in Kafka, for lag tools; the warehouse's copy is the one that counts.
  try {
    consumer_->Commit(next);
  } catch (const std::exception& e) {
    log::Debug("kafka offset commit failed (the warehouse holds the offsets)", {{"error", e.what()}});
  }
  return Attempt::kCommitted;
}

void WarehouseLoop::RunOnce(std::stop_token stop) {
  Collect(stop);
  ReportLag();
  if (pending_.empty()) return;

  // Parse once; what cannot be parsed is poison whatever the database says.
  std::vector<ChangeEvent> events;
  std::vector<size_t> event_message;
  std::vector<Poison> parse_poison;
  events.reserve(pending_.size());
  for (size_t i = 0; i < pending_.size(); ++i) {
    try {
      auto e = ParseChangeEvent(pending_[i]);
      CheckModelTypes(e);
      events.push_back(std::move(e));
      event_message.push_back(i);
    } catch (const PoisonError& e) {
      parse_poison.push_back({i, e.what()});
    }
  }
  retry::Backoff backoff({std::chrono::milliseconds(200), std::chrono::milliseconds(10'000), 2.0, 0});
  for (;;) {
    try {
      std::vector<Poison> poison = parse_poison;
      const auto r = Write(events, event_message, poison);
      metrics_.SinkUp("warehouse", true);
      if (r == Attempt::kFenced) {
        metrics_.Batch("warehouse", "fenced", 0, 0);
        SeekToStored();
      }
      pending_.clear();
      return;
    } catch (const std::exception& e) {
      db_.reset();
      writer_.reset();
      metrics_.SinkUp("warehouse", false);
      metrics_.Batch("warehouse", "retried", 0, 0);
      status_.Error("warehouse", e.what());
      const auto delay = backoff.NextDelay();
      log::Warn("warehouse batch failed, retrying",
                {{"error", e.what()}, {"retry_in_ms", delay.count()}, {"events", pending_.size()}});
      if (!SleepUnlessStopped(stop, delay)) {
        pending_.clear();  // not committed: read again by whoever owns the partitions next
        return;
      }
    }
  }
}

void WarehouseLoop::ReportLag() {
  static thread_local auto last = Clock::now() - std::chrono::seconds(10);
  if (Clock::now() - last < std::chrono::seconds(2)) return;
  last = Clock::now();
  const auto snapshot = status_.Get();
  for (const auto& p : consumer_->Assignment()) {
    const auto end = consumer_->CachedEndOffset(p);
    if (!end) continue;
    status_.EndOffset(p, *end);
    const auto it = snapshot.partitions.find(p);
    if (it != snapshot.partitions.end() && it->second.committed >= 0)
      metrics_.Lag(p.first, p.second, static_cast<double>(std::max<int64_t>(0, *end - it->second.committed)));
  }
}

}  // namespace rainbow::loader
