// The Redis state model against the real Redis of the test stack: idempotent registration, claims,
// leases and fencing, retries up to max attempts, paging, history, concurrent trackers never
// double-assigning, and a Redis restart keeping every state.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "services/state-tracker/src/state_store.hpp"
#include "tests/support/stack_env.hpp"

namespace rainbow::state {
namespace {

using namespace std::chrono_literals;
using testing::StackEnv;
using testing::UniqueName;

StoreOptions Options(uint32_t max_attempts = 3) {
  StoreOptions o;
  o.prefix = UniqueName("test:{files}") + ":";
  o.max_attempts = max_attempts;
  o.retry_delay = 50ms;
  o.history_cap = 10;
  return o;
}

struct Fixture {
  explicit Fixture(StoreOptions o = Options())
      : pool({StackEnv("REDIS_URL")}, 4), store(pool, std::move(o)) {}
  RedisPool pool;
  StateStore store;
};

// Notifications arrive at least once and may be replayed out of order: the sequencer keeps an old
// version's event from resetting a newer version, while a real re-upload (later sequencer) counts.
TEST(StateStore, RegisterIgnoresEventsOlderThanTheNewestSeen) {
  Fixture f;
  EXPECT_TRUE(f.store.Register("raw", "s.json", "e1", 10, "0A").created);
  EXPECT_TRUE(f.store.Register("raw", "s.json", "e2", 11, "B").created);  // "B" > "0A": lengths differ
  ASSERT_EQ(f.store.Claim("w", 10, 10s).size(), 1u);
  f.store.Complete("raw", "s.json", "w", 1, "s.xml", "sha");
  // Both events replayed: nothing changes.
  for (const auto& [etag, seq] : {std::pair{"e1", "0a"}, std::pair{"e2", "0B"}}) {
    const auto again = f.store.Register("raw", "s.json", etag, 10, seq);
    EXPECT_FALSE(again.created) << etag;
    EXPECT_EQ(again.record.state, FileState::kCompleted) << etag;
    EXPECT_EQ(again.record.etag, "e2") << etag;
  }
  // The old content uploaded again later: a new version.
  const auto reupload = f.store.Register("raw", "s.json", "e1", 10, "0C");
  EXPECT_TRUE(reupload.created);
  EXPECT_EQ(reupload.record.state, FileState::kPending);
  EXPECT_EQ(reupload.record.etag, "e1");
  // Without a sequencer (a direct Register call) the ETag alone decides, as before.
  EXPECT_FALSE(f.store.Register("raw", "s.json", "e1", 10).created);
  EXPECT_TRUE(f.store.Register("raw", "s.json", "e3", 12).created);
}

// A source object deleted before its conversion ends REMOVED, never FAILED: by a removal record
// (Remove) whatever the file's unconverted state, or by a worker that found no such key (Fail with
// kSourceRemoved). A converted file keeps COMPLETED, replays change nothing, and the key uploaded
// again is a new version even with the same content.
TEST(StateStore, SourceRemovedBeforeConversionEndsRemoved) {
  Fixture f;
  EXPECT_FALSE(f.store.Remove("raw", "never.json").has_value());

  f.store.Register("raw", "pending.json", "e", 1, "10");
  const auto gone = f.store.Remove("raw", "pending.json", "11");
  ASSERT_TRUE(gone.has_value());
  EXPECT_TRUE(gone->moved);
  EXPECT_EQ(gone->record.state, FileState::kRemoved);
  EXPECT_EQ(gone->record.error, "source object removed");
  EXPECT_TRUE(f.store.Claim("w", 10, 10s).empty());  // not claimable
  // Replays: the removal again, and the creation before it, change nothing.
  EXPECT_FALSE(f.store.Remove("raw", "pending.json", "11")->moved);
  EXPECT_FALSE(f.store.Register("raw", "pending.json", "e", 1, "10").created);
  EXPECT_EQ(f.store.Get("raw", "pending.json")->state, FileState::kRemoved);
  // The same bytes uploaded again (a later sequencer): a new PENDING version.
  EXPECT_TRUE(f.store.Register("raw", "pending.json", "e", 1, "12").created);
  EXPECT_EQ(f.store.Get("raw", "pending.json")->state, FileState::kPending);
  ASSERT_EQ(f.store.Claim("w", 10, 10s).size(), 1u);
  f.store.Complete("raw", "pending.json", "w", 1, "pending.xml", "sha");

  // A removal older than the newest upload is ignored.
  f.store.Register("raw", "newer.json", "e", 1, "20");
  EXPECT_FALSE(f.store.Remove("raw", "newer.json", "1F")->moved);
  EXPECT_EQ(f.store.Get("raw", "newer.json")->state, FileState::kPending);

  // IN_PROGRESS: the holder loses the file; its Complete is refused like a stale worker's.
  f.store.Register("raw", "held.json", "e", 1);
  ASSERT_EQ(f.store.Claim("w2", 10, 10s).size(), 2u);  // newer.json and held.json
  EXPECT_TRUE(f.store.Remove("raw", "held.json")->moved);
  EXPECT_THROW(f.store.Complete("raw", "held.json", "w2", 1, "held.xml", "sha"), FencingError);
  EXPECT_EQ(f.store.Get("raw", "held.json")->state, FileState::kRemoved);

  // COMPLETED stays COMPLETED: its output exists.
  EXPECT_FALSE(f.store.Remove("raw", "pending.json")->moved);
  EXPECT_EQ(f.store.Get("raw", "pending.json")->state, FileState::kCompleted);

  // The worker found no such key: REMOVED at once, not a failure, and Redrive leaves it alone.
  const auto by_worker =
      f.store.Fail("raw", "newer.json", "w2", 1, "NoSuchKey", false, FailCause::kSourceRemoved);
  EXPECT_EQ(by_worker.record.state, FileState::kRemoved);
  EXPECT_EQ(by_worker.record.error, "NoSuchKey");
  EXPECT_EQ(f.store.Redrive("", "", ""), 0u);
  const auto stats = f.store.GetStats();
  EXPECT_EQ(stats.removed, 2u);
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_EQ(stats.completed, 1u);
  const auto history = f.store.Get("raw", "held.json")->history;
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history.front().from, "IN_PROGRESS");
  EXPECT_EQ(history.front().to, "REMOVED");
  // A REMOVED key that the reconciliation lists again (its new notification lost) registers again.
  EXPECT_TRUE(f.store.RegisterIfAbsent("raw", "held.json", "e", 1).created);
}

// Claim hands out at most max_files, oldest first, and the rest on later calls.
TEST(StateStore, ClaimTakesAtMostMaxFiles) {
  Fixture f;
  for (int i = 0; i < 25; ++i) f.store.Register("raw", "n/" + std::to_string(100 + i) + ".json", "e", 1);
  const auto first = f.store.Claim("w", 10, 10s);
  ASSERT_EQ(first.size(), 10u);
  EXPECT_EQ(first.front().key, "n/100.json");
  EXPECT_EQ(f.store.Claim("w", 10, 10s).size(), 10u);
  EXPECT_EQ(f.store.Claim("w", 10, 10s).size(), 5u);
  EXPECT_TRUE(f.store.Claim("w", 10, 10s).empty());
  EXPECT_EQ(f.store.GetStats().in_progress, 25u);
}

TEST(StateStore, RegisterIsIdempotentPerVersion) {
  Fixture f;
  auto r1 = f.store.Register("raw", "a.json", "e1", 10);
  EXPECT_TRUE(r1.created);
  EXPECT_EQ(r1.record.state, FileState::kPending);
  EXPECT_EQ(r1.record.size, 10u);
  auto r2 = f.store.Register("raw", "a.json", "e1", 10);
  EXPECT_FALSE(r2.created);
  EXPECT_EQ(f.store.GetStats().pending, 1u);
  // Completed, then a new version of the same key arrives: PENDING again, attempts reset.
  auto claimed = f.store.Claim("w1", 10, 10s);
  ASSERT_EQ(claimed.size(), 1u);
  f.store.Complete("raw", "a.json", "w1", 1, "a.xml", "abc");
  auto r3 = f.store.Register("raw", "a.json", "e2", 11);
  EXPECT_TRUE(r3.created);
  EXPECT_EQ(r3.record.state, FileState::kPending);
  EXPECT_EQ(r3.record.attempts, 0u);
  EXPECT_EQ(r3.record.etag, "e2");
  EXPECT_TRUE(r3.record.output_key.empty());
  const auto s = f.store.GetStats();
  EXPECT_EQ(s.pending, 1u);
  EXPECT_EQ(s.completed, 0u);
  const auto got = f.store.Get("raw", "a.json");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->history.size(), 4u);  // newest first
  EXPECT_EQ(got->history[0].from, "COMPLETED");
  EXPECT_EQ(got->history[0].to, "PENDING");
  EXPECT_EQ(got->history[1].to, "COMPLETED");
  EXPECT_EQ(got->history[2].to, "IN_PROGRESS");
  EXPECT_EQ(got->history[2].worker_id, "w1");
  EXPECT_EQ(got->history[3].from, "");
  EXPECT_GT(got->history[3].ts_ms, 1'600'000'000'000);
}

TEST(StateStore, ClaimHeartbeatCompleteWithFencing) {
  Fixture f;
  f.store.Register("raw", "b.json", "e", 1);
  auto c = f.store.Claim("w1", 5, 10s);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].state, FileState::kInProgress);
  EXPECT_EQ(c[0].attempts, 1u);
  EXPECT_EQ(c[0].worker_id, "w1");
  EXPECT_GT(c[0].lease_expires_ms, 0);
  EXPECT_TRUE(f.store.Claim("w2", 5, 10s).empty());
  EXPECT_THROW(f.store.Heartbeat("raw", "b.json", "w2", 1, 10s), FencingError);
  EXPECT_THROW(f.store.Heartbeat("raw", "b.json", "w1", 2, 10s), FencingError);
  EXPECT_THROW(f.store.Heartbeat("raw", "nope.json", "w1", 1, 10s), NotFoundError);
  const auto exp = f.store.Heartbeat("raw", "b.json", "w1", 1, 20s);
  EXPECT_GT(exp, c[0].lease_expires_ms);
  EXPECT_THROW(f.store.Complete("raw", "b.json", "w2", 1, "b.xml", "h"), FencingError);
  bool first_repeated = true;
  const auto done = f.store.Complete("raw", "b.json", "w1", 1, "b.xml", "h", &first_repeated);
  EXPECT_FALSE(first_repeated);
  EXPECT_EQ(done.state, FileState::kCompleted);
  EXPECT_EQ(done.output_key, "b.xml");
  EXPECT_EQ(done.sha256, "h");
  // A repeated Complete (lost reply) is accepted; anything else on a COMPLETED file is fenced.
  bool repeated = false;
  EXPECT_EQ(f.store.Complete("raw", "b.json", "w1", 1, "b.xml", "h", &repeated).state, FileState::kCompleted);
  EXPECT_TRUE(repeated);
  EXPECT_EQ(f.store.Get("raw", "b.json")->history.size(), 3u);  // no second COMPLETED transition
  EXPECT_THROW(f.store.Complete("raw", "b.json", "w1", 1, "b.xml", "other"), FencingError);
  EXPECT_THROW(f.store.Fail("raw", "b.json", "w1", 1, "x", true), FencingError);
  EXPECT_EQ(f.store.GetStats().completed, 1u);
  EXPECT_EQ(f.store.GetStats().in_progress, 0u);
}

TEST(StateStore, ExpiredLeaseReturnsToPendingAndOldHolderIsFenced) {
  Fixture f;
  f.store.Register("raw", "c.json", "e", 1);
  ASSERT_EQ(f.store.Claim("w1", 1, 100ms).size(), 1u);
  EXPECT_TRUE(f.store.SweepExpired(100).empty());  // not yet expired
  std::this_thread::sleep_for(250ms);
  const auto swept = f.store.SweepExpired(100);
  ASSERT_EQ(swept.size(), 1u);
  EXPECT_EQ(swept[0].state, FileState::kPending);
  EXPECT_NE(swept[0].error.find("expired"), std::string::npos);
  const auto c2 = f.store.Claim("w2", 1, 10s);
  ASSERT_EQ(c2.size(), 1u);
  EXPECT_EQ(c2[0].attempts, 2u);
  // The killed worker comes back: it cannot heartbeat or complete the file w2 holds.
  EXPECT_THROW(f.store.Heartbeat("raw", "c.json", "w1", 1, 10s), FencingError);
  EXPECT_THROW(f.store.Complete("raw", "c.json", "w1", 1, "c.xml", "h"), FencingError);
  EXPECT_EQ(f.store.Complete("raw", "c.json", "w2", 2, "c.xml", "h").state, FileState::kCompleted);
}

TEST(StateStore, SameWorkerOlderAttemptIsFenced) {
  Fixture f;
  f.store.Register("raw", "d.json", "e", 1);
  ASSERT_EQ(f.store.Claim("w1", 1, 50ms).size(), 1u);
  std::this_thread::sleep_for(150ms);
  ASSERT_EQ(f.store.SweepExpired(10).size(), 1u);
  ASSERT_EQ(f.store.Claim("w1", 1, 10s).size(), 1u);  // same worker id (a restarted process), attempt 2
  EXPECT_THROW(f.store.Complete("raw", "d.json", "w1", 1, "d.xml", "h"), FencingError);
  EXPECT_EQ(f.store.Complete("raw", "d.json", "w1", 2, "d.xml", "h").attempts, 2u);
}

TEST(StateStore, RetryableFailuresUpToMaxAttemptsThenTerminal) {
  Fixture f(Options(2));
  f.store.Register("raw", "e.json", "e", 1);
  ASSERT_EQ(f.store.Claim("w1", 1, 10s).size(), 1u);
  auto r1 = f.store.Fail("raw", "e.json", "w1", 1, "S3 timeout", true);
  EXPECT_FALSE(r1.terminal);
  EXPECT_EQ(r1.record.state, FileState::kFailed);
  EXPECT_TRUE(r1.record.retryable);
  EXPECT_TRUE(f.store.Claim("w1", 1, 10s).empty());  // retry delay not over
  std::this_thread::sleep_for(120ms);
  auto c2 = f.store.Claim("w2", 1, 10s);
  ASSERT_EQ(c2.size(), 1u);
  EXPECT_EQ(c2[0].attempts, 2u);
  auto r2 = f.store.Fail("raw", "e.json", "w2", 2, "S3 timeout again", true);
  EXPECT_TRUE(r2.terminal);
  EXPECT_FALSE(r2.record.retryable);
  EXPECT_EQ(r2.record.error, "S3 timeout again");
  std::this_thread::sleep_for(120ms);
  EXPECT_TRUE(f.store.Claim("w1", 1, 10s).empty());
  EXPECT_EQ(f.store.GetStats().failed, 1u);
}

// Infrastructure failures (S3 down) give the attempt back: with max_attempts 2, five of them in a row
// leave the file retryable, each one waiting twice as long as the one before (50, 100, 200, 400 ms,
// capped at 300 ms here); then a failure of the file itself counts as the first used attempt.
TEST(StateStore, InfrastructureFailuresDoNotUseUpAttemptsAndBackOff) {
  auto o = Options(2);
  o.max_retry_delay = 300ms;
  Fixture f(o);
  f.store.Register("raw", "i.json", "e", 1);
  uint32_t attempt = 0;
  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < 5; ++i) {
    const auto claim_start = std::chrono::steady_clock::now();
    std::vector<FileRecord> c;
    while ((c = f.store.Claim("w", 1, 10s)).empty()) std::this_thread::sleep_for(5ms);
    waits.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                          claim_start));
    attempt = c[0].attempts;
    const auto r =
        f.store.Fail("raw", "i.json", "w", attempt, "S3 unavailable", true, FailCause::kInfrastructure);
    ASSERT_FALSE(r.terminal) << "infrastructure failure " << i + 1 << " used up the attempts";
    EXPECT_TRUE(r.record.retryable);
  }
  EXPECT_EQ(attempt, 5u);  // the fencing token still grows with every claim
  // waits[i] is the delay after failure i (waits[0]: the first claim, at once).
  EXPECT_LT(waits[0], 50ms);
  EXPECT_GE(waits[2], 90ms);   // 100 ms after the 2nd failure (50 after the 1st)
  EXPECT_GE(waits[3], 190ms);  // 200 ms
  EXPECT_GE(waits[4], 290ms);  // 400 ms capped at 300
  EXPECT_LT(waits[4], 1000ms);
  // Failures of the file itself count again: the first leaves one attempt, the second is terminal.
  std::vector<FileRecord> c;
  while ((c = f.store.Claim("w", 1, 10s)).empty()) std::this_thread::sleep_for(5ms);
  EXPECT_FALSE(f.store.Fail("raw", "i.json", "w", c[0].attempts, "bad bytes", true).terminal);
  while ((c = f.store.Claim("w", 1, 10s)).empty()) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(f.store.Fail("raw", "i.json", "w", c[0].attempts, "bad bytes", true).terminal);
}

TEST(StateStore, NonRetryableFailureIsTerminalAtOnce) {
  Fixture f;
  f.store.Register("raw", "f.json", "e", 1);
  ASSERT_EQ(f.store.Claim("w1", 1, 10s).size(), 1u);
  auto r = f.store.Fail("raw", "f.json", "w1", 1, "invalid JSON at byte 3", false);
  EXPECT_TRUE(r.terminal);
  std::this_thread::sleep_for(120ms);
  EXPECT_TRUE(f.store.Claim("w1", 1, 10s).empty());
}

// Redrive moves FAILED files (terminal or waiting for a retry) back to PENDING with attempts reset:
// by key prefix within a bucket, one file, or all; files in other states and outside the prefix stay.
TEST(StateStore, RedriveResetsFailedFilesByPrefixOneOrAll) {
  Fixture f(Options(1));
  for (const char* k : {"a/1.json", "a/2.json", "ab.json", "b/1.json", "c.json"})
    f.store.Register("raw", k, "e", 1);
  f.store.Register("other", "a/9.json", "e", 1);
  const auto claimed = f.store.Claim("w", 10, 10s);
  ASSERT_EQ(claimed.size(), 6u);
  for (const auto& r : claimed) {
    if (r.key == "c.json") continue;  // stays IN_PROGRESS
    ASSERT_TRUE(f.store.Fail(r.bucket, r.key, "w", 1, "bad", false).terminal) << r.key;
  }
  EXPECT_EQ(f.store.GetStats().failed, 5u);

  EXPECT_EQ(f.store.Redrive("raw", "", "a/"), 2u);  // not ab.json, not other/a/9.json
  for (const char* k : {"a/1.json", "a/2.json"}) {
    const auto r = f.store.Get("raw", k);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->state, FileState::kPending) << k;
    EXPECT_EQ(r->attempts, 0u) << k;
    EXPECT_EQ(r->error, "") << k;
  }
  EXPECT_EQ(f.store.Get("raw", "ab.json")->state, FileState::kFailed);
  EXPECT_EQ(f.store.Get("other", "a/9.json")->state, FileState::kFailed);

  EXPECT_EQ(f.store.Redrive("raw", "b/1.json", ""), 1u);
  EXPECT_EQ(f.store.Redrive("raw", "c.json", ""), 0u);  // IN_PROGRESS: untouched
  EXPECT_EQ(f.store.Get("raw", "c.json")->state, FileState::kInProgress);
  EXPECT_EQ(f.store.Redrive("", "", ""), 2u);
  EXPECT_EQ(f.store.GetStats().failed, 0u);

  // Redriven files are claimable again at once, as attempt 1.
  const auto again = f.store.Claim("w2", 10, 10s);
  EXPECT_EQ(again.size(), 5u);
  for (const auto& r : again) EXPECT_EQ(r.attempts, 1u) << r.key;
}

TEST(StateStore, ExpiredLeasesCountAsAttempts) {
  Fixture f(Options(2));
  f.store.Register("raw", "g.json", "e", 1);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(f.store.Claim("w", 1, 30ms).size(), 1u) << i;
    std::this_thread::sleep_for(100ms);
    const auto swept = f.store.SweepExpired(10);
    ASSERT_EQ(swept.size(), 1u);
    EXPECT_EQ(swept[0].state, i == 0 ? FileState::kPending : FileState::kFailed);
  }
  const auto r = f.store.Get("raw", "g.json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, FileState::kFailed);
  EXPECT_FALSE(r->retryable);
  EXPECT_NE(r->error.find("no attempts left"), std::string::npos);
}

TEST(StateStore, ListPagesThroughAStateAndHistoryIsCapped) {
  Fixture f;
  for (int i = 0; i < 25; ++i) f.store.Register("raw", "p/" + std::to_string(100 + i) + ".json", "e", 1);
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = f.store.List(FileState::kPending, 10, cursor);
    for (const auto& r : page.files) EXPECT_TRUE(seen.insert(r.key).second) << r.key;
    cursor = page.next_cursor;
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(f.store.GetStats().pending, 25u);
  // History capped at 10 transitions.
  for (int i = 0; i < 8; ++i) {
    f.store.Register("raw", "h.json", "v" + std::to_string(i), 1);
    ASSERT_EQ(f.store.Claim("w", 100, 10s).size(), i == 0 ? 26u : 1u);
  }
  EXPECT_EQ(f.store.Get("raw", "h.json")->history.size(), 10u);
}

TEST(StateStore, ConcurrentTrackersNeverDoubleAssign) {
  const auto options = Options();
  Fixture setup(options);
  constexpr int kFiles = 400;
  for (int i = 0; i < kFiles; ++i) setup.store.Register("raw", "c/" + std::to_string(i) + ".json", "e", 1);
  // Two "trackers" (separate pools, as two processes would have), four claimers each.
  RedisPool pool_a({StackEnv("REDIS_URL")}, 4), pool_b({StackEnv("REDIS_URL")}, 4);
  StateStore a(pool_a, options), b(pool_b, options);
  std::mutex mu;
  std::map<std::string, int> claims;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      StateStore& s = t % 2 ? a : b;
      for (;;) {
        auto got = s.Claim("w" + std::to_string(t), 3, 60s);
        if (got.empty()) return;
        std::lock_guard lock(mu);
        for (const auto& r : got) ++claims[r.key];
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(claims.size(), static_cast<size_t>(kFiles));
  for (const auto& [key, n] : claims) EXPECT_EQ(n, 1) << key;
  EXPECT_EQ(setup.store.GetStats().in_progress, static_cast<uint64_t>(kFiles));
}

TEST(StateStore, RedisRestartKeepsEveryState) {
  Fixture f;
  f.store.Register("raw", "r/pending.json", "e", 1);
  f.store.Register("raw", "r/progress.json", "e", 1);
  f.store.Register("raw", "r/done.json", "e", 1);
  f.store.Register("raw", "r/failed.json", "e", 1);
  // Claim all four (oldest first), then finish two of them.
  auto claimed = f.store.Claim("w", 4, 600s);
  ASSERT_EQ(claimed.size(), 4u);
  f.store.Complete("raw", "r/done.json", "w", 1, "r/done.xml", "sha");
  f.store.Fail("raw", "r/failed.json", "w", 1, "broken", false);
  f.store.Register("raw", "r/pending.json", "e2", 1);  // back to PENDING as a new version
  const auto before = f.store.GetStats();

  ASSERT_EQ(testing::StackCommand("restart redis"), 0);

  const auto after = f.store.GetStats();  // the client reconnects
  EXPECT_EQ(after.pending, before.pending);
  EXPECT_EQ(after.in_progress, before.in_progress);
  EXPECT_EQ(after.completed, before.completed);
  EXPECT_EQ(after.failed, before.failed);
  EXPECT_EQ(f.store.Get("raw", "r/pending.json")->state, FileState::kPending);
  EXPECT_EQ(f.store.Get("raw", "r/progress.json")->state, FileState::kInProgress);
  EXPECT_EQ(f.store.Get("raw", "r/done.json")->sha256, "sha");
  EXPECT_EQ(f.store.Get("raw", "r/failed.json")->error, "broken");
  // The lease survives too: the holder can still complete.
  EXPECT_EQ(f.store.Complete("raw", "r/progress.json", "w", 1, "x", "s").state, FileState::kCompleted);
}

}  // namespace
}  // namespace rainbow::state
