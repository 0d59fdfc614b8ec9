// cdc-producer against the real PostgreSQL (wal_level=logical) and Kafka of the test stack. The service
// runs as its real binary in a child process, so kill -9 and SIGTERM are the real thing.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "common/kafka/admin.hpp"
#include "common/kafka/consumer.hpp"
#include "common/pg/connection.hpp"
#include "rainbow/cdc_producer.grpc.pb.h"
#include "tests/support/child_process.hpp"
#include "tests/support/grpc_probes.hpp"
#include "tests/support/stack_env.hpp"
#include "tests/support/stack_process.hpp"

namespace rainbow::cdc {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using rainbow::testing::ChildProcess;
using rainbow::testing::StackCommand;
using rainbow::testing::StackEnv;

std::string Identifier(const std::string& prefix) { return rainbow::testing::UniqueIdentifier(prefix); }

// A record as read back from Kafka.
struct Event {
  std::string topic;
  std::optional<json> key;
  std::optional<json> value;  // nullopt = tombstone
  int64_t offset = -1;
};

// One test's world: its own schema, slot, publication and topic prefix, and the service process.
class CdcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = StackEnv("PG_DSN");
    brokers_ = StackEnv("KAFKA_BROKERS");
    name_ = Identifier("cdc");
    prefix_ = name_ + ".public";
    Sql("CREATE SCHEMA " + name_);
  }

  void TearDown() override {
    service_.reset();  // SIGKILL if still running
    for (int i = 0; i < 50; ++i) {
      try {
        pg::Connection c(dsn_);
        auto r = c.Exec("SELECT active FROM pg_replication_slots WHERE slot_name = $1", {name_});
        if (r.rows() == 0) break;
        if (r.Text(0, 0) == "f") {
          c.Exec("SELECT pg_drop_replication_slot($1)", {name_});
          break;
        }
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(200ms);
    }
    try {
      pg::Connection c(dsn_);
      c.Exec("DROP PUBLICATION IF EXISTS " + name_);
      c.Exec("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
      c.Exec("DELETE FROM rainbow_cdc.state WHERE slot_name = $1", {name_});
    } catch (const std::exception&) {
    }
  }

  void Sql(const std::string& sql) {
    pg::Connection c(dsn_);
    c.Exec(sql);
  }

  std::string Topic(const std::string& table) const { return prefix_ + "." + table; }

  // Topics with one partition: the whole table's history is in order.
  void CreateTopics(const std::vector<std::string>& tables) {
    for (const auto& t : tables) kafka::EnsureTopic(brokers_, Topic(t), 1, 1);
  }

  void StartService(std::map<std::string, std::string> extra = {}) {
    http_port_ = rainbow::testing::FreePort();
    grpc_port_ = rainbow::testing::FreePort();
    std::map<std::string, std::string> env = {
        {"PG_DSN", dsn_},
        {"KAFKA_BROKERS", brokers_},
        {"CDC_SCHEMAS", name_},
        {"CDC_SLOT", name_},
        {"CDC_PUBLICATION", name_},
        {"CDC_TOPIC_PREFIX", prefix_},
        {"CDC_TOPIC_PARTITIONS", "1"},
        {"CDC_STATUS_INTERVAL", "200ms"},
        {"CDC_HEARTBEAT_INTERVAL", "1s"},
        {"GRPC_ADDR", "127.0.0.1:" + std::to_string(grpc_port_)},
        {"HTTP_ADDR", "127.0.0.1:" + std::to_string(http_port_)},
        {"LOG_LEVEL", "info"},
        // These tests read the bare payload; the json-schemas form is checked against Debezium itself
        // (cdc_debezium_test.cpp).
        {"CDC_KEY_FORMAT", "json"},
        {"CDC_VALUE_FORMAT", "json"},
    };
    env.merge(rainbow::testing::KafkaTopicEnv());
    for (auto& [k, v] : extra) env[k] = v;
    service_ = std::make_unique<ChildProcess>(CDC_PRODUCER_BIN, std::vector<std::string>{}, env);
    ++starts_;
  }

  // Waits until /readyz says the replication session is up (snapshotting or streaming).
  void WaitReady(std::chrono::seconds timeout = 60s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto [status, body] =
          rainbow::testing::HttpGet("http://127.0.0.1:" + std::to_string(http_port_) + "/readyz");
      if (status == 200) {
        // gRPC health answers for the service by name, SERVING once /readyz is 200 (re-read once a
        // second; the turn to NOT_SERVING is tested with state-tracker and the probe server).
        auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_),
                                           grpc::InsecureChannelCredentials());
        EXPECT_EQ(rainbow::testing::HealthStatusOnceIs(channel, "rainbow.cdc.v1.CdcStatusService", "SERVING"),
                  "SERVING");
        return;
      }
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "cdc-producer not ready; stdout:\n" << service_->Stdout();
  }

  void WaitStreaming(std::chrono::seconds timeout = 60s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (Status().streaming()) return;
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "cdc-producer not streaming; stdout:\n" << service_->Stdout();
  }

  v1::Status Status() {
    auto channel =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials());
    auto stub = v1::CdcStatusService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    v1::GetStatusRequest req;
    v1::Status out;
    auto st = stub->GetStatus(&ctx, req, &out);
    if (!st.ok()) return {};
    return out;
  }

  std::string Metrics() {
    return rainbow::testing::HttpGet("http://127.0.0.1:" + std::to_string(http_port_) + "/metrics").second;
  }

  double Metric(const std::string& line_prefix) {
    const std::string text = Metrics();
    size_t pos = 0;
    double sum = 0;
    while ((pos = text.find(line_prefix, pos)) != std::string::npos) {
      if (pos == 0 || text[pos - 1] == '\n') {
        const auto sp = text.find(' ', pos + line_prefix.size());
        sum += std::stod(text.substr(sp + 1, text.find('\n', sp) - sp - 1));
      }
      pos += line_prefix.size();
    }
    return sum;
  }

  // SIGTERM, expecting a clean exit 0.
  void StopService() {
    service_->Signal(SIGTERM);
    auto code = service_->Wait(60s);
    ASSERT_TRUE(code.has_value()) << "no exit after SIGTERM";
    EXPECT_EQ(*code, 0) << service_->Stdout() << service_->Stderr();
  }

  kafka::Consumer MakeConsumer(const std::vector<std::string>& tables) {
    std::vector<std::string> topics;
    for (const auto& t : tables) topics.push_back(Topic(t));
    return kafka::Consumer({brokers_, Identifier("cdc_test_group"), topics, "cdc-test", "earliest"});
  }

  // Reads until done(events) or the deadline.
  std::vector<Event> ReadUntil(kafka::Consumer& consumer,
                               const std::function<bool(const std::vector<Event>&)>& done,
                               std::chrono::seconds deadline, std::vector<Event> events = {}) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (!done(events) && std::chrono::steady_clock::now() < end) {
      auto m = consumer.Poll(200ms);
      if (!m) continue;
      Event e;
      e.topic = m->topic;
      e.offset = m->offset;
      if (m->key) e.key = json::parse(*m->key);
      if (m->value) e.value = json::parse(*m->value);
      events.push_back(std::move(e));
    }
    return events;
  }

  std::string dsn_, brokers_, name_, prefix_;
  int http_port_ = 0, grpc_port_ = 0, starts_ = 0;
  std::unique_ptr<ChildProcess> service_;
};

// Row ids by operation ("r", "c", "u", "d"), tallied as events arrive: Add takes the events not seen yet.
struct IdsByOp {
  std::map<std::string, std::multiset<int>> ids;
  size_t seen = 0;
  void Add(const std::vector<Event>& events) {
    for (; seen < events.size(); ++seen) {
      if (!events[seen].value) continue;  // a delete's tombstone
      const auto& v = *events[seen].value;
      ids[v["op"]].insert((v["op"] == "d" ? v["before"] : v["after"])["id"].get<int>());
    }
  }
  size_t Count(const std::string& op, int id) { return ids[op].count(id); }
};

std::vector<Event> OfTopic(const std::vector<Event>& all, const std::string& topic) {
  std::vector<Event> out;
  for (const auto& e : all) {
    if (e.topic == topic) out.push_back(e);
  }
  return out;
}

TEST_F(CdcTest, InsertUpdateDeleteTruncateGiveDebeziumEventsOnTheRightTopics) {
  Sql("CREATE TABLE " + name_ +
      ".items (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2), created timestamptz, "
      "day date, made timestamp, active boolean, doc jsonb, ref uuid, qty int)");
  Sql("CREATE TABLE " + name_ +
      ".lines (order_id bigint, line_no int, note text, PRIMARY KEY (order_id, line_no))");
  Sql("INSERT INTO " + name_ + ".items (id, name, price) VALUES (1, 'seed', 1.00)");
  CreateTopics({"items", "lines"});
  StartService({{"CDC_REPLICA_IDENTITY_FULL", name_ + ".lines"}});
  WaitStreaming();
  auto consumer = MakeConsumer({"items", "lines"});

  Sql("INSERT INTO " + name_ +
      ".items VALUES (2, 'pen \"blue\"', 12.50, '2024-01-02 03:04:05.5+00', '2024-02-29', "
      "'2024-01-02 03:04:05.123456', true, '{\"a\": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 7)");
  Sql("UPDATE " + name_ + ".items SET name = 'pen', qty = 8 WHERE id = 2");
  Sql("DELETE FROM " + name_ + ".items WHERE id = 1");
  Sql("INSERT INTO " + name_ + ".lines VALUES (10, 1, 'x'), (10, 2, 'y')");
  Sql("UPDATE " + name_ + ".lines SET note = 'z' WHERE order_id = 10 AND line_no = 2");
  Sql("TRUNCATE " + name_ + ".lines");

  auto events = ReadUntil(
      consumer, [](const std::vector<Event>& e) { return e.size() >= 9; }, 60s);
  auto items = OfTopic(events, Topic("items"));
  auto lines = OfTopic(events, Topic("lines"));
  ASSERT_EQ(items.size(), 5u);  // r(1) c(2) u(2) d(1) tombstone(1)
  ASSERT_EQ(lines.size(), 4u);  // c c u t

  EXPECT_EQ(*items[0].key, json::parse(R"({"id":1})"));
  EXPECT_EQ((*items[0].value)["op"], "r");
  EXPECT_NE((*items[0].value)["source"]["snapshot"], "false");

  const auto& c = *items[1].value;
  EXPECT_EQ(*items[1].key, json::parse(R"({"id":2})"));
  EXPECT_EQ(c["op"], "c");
  EXPECT_TRUE(c["before"].is_null());
  EXPECT_EQ(c["after"], json::parse(R"({"id":2,"name":"pen \"blue\"","price":"12.50",
      "created":"2024-01-02T03:04:05.5Z","day":19782,"made":1704164645123456,"active":true,
      "doc":"{\"a\": [1, 2]}","ref":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","qty":7})"));
  EXPECT_EQ(c["source"]["connector"], "postgresql");
  EXPECT_EQ(c["source"]["schema"], name_);
  EXPECT_EQ(c["source"]["table"], "items");
  EXPECT_EQ(c["source"]["db"], "rainbow");
  EXPECT_EQ(c["source"]["name"], name_);
  EXPECT_EQ(c["source"]["snapshot"], "false");
  EXPECT_TRUE(c["source"]["txId"].is_number());
  EXPECT_TRUE(c["source"]["lsn"].is_number());
  EXPECT_TRUE(c["ts_ms"].is_number());

  const auto& u = *items[2].value;
  EXPECT_EQ(u["op"], "u");
  EXPECT_TRUE(u["before"].is_null());  // default identity: no before-image
  EXPECT_EQ(u["after"]["name"], "pen");
  EXPECT_EQ(u["after"]["qty"], 8);
  EXPECT_GT(u["source"]["lsn"].get<int64_t>(), c["source"]["lsn"].get<int64_t>());

  const auto& d = *items[3].value;
  EXPECT_EQ(d["op"], "d");
  EXPECT_EQ(*items[3].key, json::parse(R"({"id":1})"));
  EXPECT_EQ(d["before"]["id"], 1);
  EXPECT_TRUE(d["before"]["name"].is_null());
  EXPECT_TRUE(d["after"].is_null());
  EXPECT_EQ(*items[4].key, json::parse(R"({"id":1})"));
  EXPECT_FALSE(items[4].value.has_value()) << "tombstone after delete";

  EXPECT_EQ(*lines[0].key, json::parse(R"({"order_id":10,"line_no":1})"));
  EXPECT_EQ((*lines[2].value)["op"], "u");
  EXPECT_EQ((*lines[2].value)["before"]["note"], "y");  // REPLICA IDENTITY FULL: full before-image
  EXPECT_EQ((*lines[2].value)["after"]["note"], "z");
  EXPECT_EQ((*lines[3].value)["op"], "t");
  EXPECT_FALSE(lines[3].key.has_value());

  const auto status = Status();
  EXPECT_EQ(status.slot_name(), name_);
  EXPECT_TRUE(status.streaming());
  EXPECT_EQ(status.snapshot().state(), "done");
  EXPECT_EQ(status.snapshot().rows_emitted(), 1u);
  EXPECT_GE(status.events_total(), 9u);
  EXPECT_GE(Metric("cdc_events_total{"), 9);

  // Graceful stop confirms everything delivered: the slot is at (or past) the last change's commit.
  pg::Connection pgc(dsn_);
  const std::string after_changes(pgc.Exec("SELECT pg_current_wal_lsn()::text").Text(0, 0));
  StopService();
  auto slot =
      pgc.Exec("SELECT confirmed_flush_lsn >= $1::pg_lsn FROM pg_replication_slots WHERE slot_name = $2",
               {after_changes, name_});
  ASSERT_EQ(slot.rows(), 1);
  EXPECT_EQ(slot.Text(0, 0), "t");
}

TEST_F(CdcTest, ColumnAddedMidStreamAppearsWithoutRestart) {
  Sql("CREATE TABLE " + name_ + ".items (id int PRIMARY KEY, name text)");
  CreateTopics({"items"});
  StartService({{"CDC_SNAPSHOT_MODE", "never"}});
  WaitStreaming();
  auto consumer = MakeConsumer({"items"});
  Sql("INSERT INTO " + name_ + ".items VALUES (1, 'a')");
  Sql("ALTER TABLE " + name_ + ".items ADD COLUMN color text DEFAULT 'red'");
  Sql("INSERT INTO " + name_ + ".items VALUES (2, 'b', 'blue')");
  Sql("UPDATE " + name_ + ".items SET name = 'aa' WHERE id = 1");
  auto events = ReadUntil(
      consumer, [](const std::vector<Event>& e) { return e.size() >= 3; }, 60s);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_FALSE((*events[0].value)["after"].contains("color"));
  EXPECT_EQ((*events[1].value)["after"]["color"], "blue");
  EXPECT_EQ((*events[2].value)["after"]["color"], "red");
  EXPECT_EQ(starts_, 1);
  StopService();
}

// Rows committed before the exported snapshot arrive as "r", the rest as "c": each exactly once.
TEST_F(CdcTest, SnapshotToStreamHandOverHasNoGapAndNoOverlap) {
  Sql("CREATE TABLE " + name_ + ".items (id int PRIMARY KEY, v text)");
  constexpr int kPre = 20'000;
  Sql("INSERT INTO " + name_ + ".items SELECT g, 'pre' FROM generate_series(1, " + std::to_string(kPre) +
      ") g");
  CreateTopics({"items"});
  std::atomic<bool> stop{false};
  std::atomic<int> next_id{kPre + 1};
  std::thread writer([&] {
    pg::Connection c(dsn_);
    while (!stop) {
      const int first = next_id.fetch_add(20);
      c.Exec("INSERT INTO " + name_ + ".items SELECT g, 'live' FROM generate_series(" +
             std::to_string(first) + ", " + std::to_string(first + 19) + ") g");
      std::this_thread::sleep_for(2ms);
    }
  });
  std::this_thread::sleep_for(300ms);
  StartService({{"CDC_SNAPSHOT_FETCH_ROWS", "1000"}});
  WaitStreaming();
  std::this_thread::sleep_for(1500ms);
  stop = true;
  writer.join();
  const int total = next_id.load() - 1;
  auto consumer = MakeConsumer({"items"});
  std::map<int, int> seen;
  int snapshot_rows = 0, stream_rows = 0;
  auto events = ReadUntil(
      consumer, [&](const std::vector<Event>& e) { return static_cast<int>(e.size()) >= total; }, 120s);
  for (const auto& e : events) {
    const int id = (*e.value)["after"]["id"].get<int>();
    ++seen[id];
    if ((*e.value)["op"] == "r") {
      ++snapshot_rows;
    } else {
      ++stream_rows;
    }
  }
  // A little more time: an overlap would show as extra events.
  events = ReadUntil(
      consumer, [](const std::vector<Event>&) { return false; }, 2s);
  EXPECT_TRUE(events.empty()) << events.size() << " extra events";
  EXPECT_EQ(static_cast<int>(seen.size()), total) << "gap";
  for (const auto& [id, n] : seen) ASSERT_EQ(n, 1) << "id " << id << " seen " << n << " times";
  EXPECT_GE(snapshot_rows, kPre);
  EXPECT_GT(stream_rows, 0) << "the writer ran while streaming";
  StopService();
}

// Killed while the snapshot runs: the next start finds no completed-snapshot marker, takes a new
// snapshot on a new slot, and every row arrives.
TEST_F(CdcTest, KilledMidSnapshotRedoesTheSnapshot) {
  Sql("CREATE TABLE " + name_ + ".items (id int PRIMARY KEY, pad text)");
  constexpr int kRows = 30'000;
  Sql("INSERT INTO " + name_ + ".items SELECT g, repeat('x', 100) FROM generate_series(1, " +
      std::to_string(kRows) + ") g");
  CreateTopics({"items"});
  StartService({{"CDC_SNAPSHOT_FETCH_ROWS", "500"}});
  bool killed_mid = false;
  for (int i = 0; i < 600 && !killed_mid; ++i) {
    const auto st = Status();
    if (st.snapshot().state() == "running" && st.snapshot().rows_emitted() > 0) {
      service_->Signal(SIGKILL);
      service_->Wait(10s);
      killed_mid = true;
      EXPECT_LT(st.snapshot().rows_emitted(), static_cast<uint64_t>(kRows));
    } else {
      std::this_thread::sleep_for(10ms);
    }
  }
  ASSERT_TRUE(killed_mid) << "the snapshot finished before it could be interrupted";
  // Row 1 went out with the interrupted snapshot; deleted now, its delete must still reach Kafka: the
  // next start snapshots again but keeps the slot (dropping it would lose this delete for good).
  Sql("INSERT INTO " + name_ + ".items VALUES (" + std::to_string(kRows + 1) + ", 'after')");
  Sql("DELETE FROM " + name_ + ".items WHERE id = 1");
  StartService();
  WaitStreaming(120s);
  EXPECT_EQ(Status().snapshot().state(), "done");
  auto consumer = MakeConsumer({"items"});
  std::set<int> ids;
  bool deleted_1 = false;
  size_t seen = 0;
  ReadUntil(
      consumer,
      [&](const std::vector<Event>& e) {
        for (; seen < e.size(); ++seen) {
          if (!e[seen].value) continue;  // a delete's tombstone
          const auto& v = *e[seen].value;
          if (v["op"] == "d") {
            deleted_1 = deleted_1 || v["before"]["id"] == 1;
            ids.insert(v["before"]["id"].get<int>());  // its read may have died with the first process
          } else {
            ids.insert(v["after"]["id"].get<int>());
          }
        }
        return static_cast<int>(ids.size()) >= kRows + 1 && deleted_1;
      },
      120s);
  EXPECT_EQ(static_cast<int>(ids.size()), kRows + 1);
  EXPECT_TRUE(deleted_1) << "the delete made between the two snapshots was lost";
  StopService();
}

// CDC_SNAPSHOT_MODE=always snapshots at every start, keeping the slot: a delete made while the service
// was down still arrives as a delete event, after the new snapshot's reads.
TEST_F(CdcTest, SnapshotModeAlwaysKeepsTheSlotSoADeleteWhileDownArrives) {
  Sql("CREATE TABLE " + name_ + ".items (id int PRIMARY KEY, v text)");
  Sql("INSERT INTO " + name_ + ".items VALUES (1, 'a'), (2, 'b'), (3, 'c')");
  CreateTopics({"items"});
  StartService();
  WaitStreaming();
  StopService();
  Sql("DELETE FROM " + name_ + ".items WHERE id = 2");
  Sql("INSERT INTO " + name_ + ".items VALUES (4, 'd')");
  StartService({{"CDC_SNAPSHOT_MODE", "always"}});
  WaitStreaming();
  auto consumer = MakeConsumer({"items"});
  IdsByOp by_op;
  ReadUntil(
      consumer,
      [&](const std::vector<Event>& e) {
        by_op.Add(e);
        return by_op.Count("d", 2) == 1 && by_op.Count("r", 4) == 1 && by_op.Count("c", 4) == 1;
      },
      60s);
  EXPECT_EQ(by_op.Count("d", 2), 1u) << "the delete made while the service was down was lost";
  EXPECT_EQ(by_op.Count("r", 1), 2u);  // read by both snapshots
  EXPECT_EQ(by_op.Count("r", 2), 1u);  // only by the first: it was gone at the second
  EXPECT_EQ(by_op.Count("r", 4), 1u);
  EXPECT_EQ(by_op.Count("c", 4), 1u);  // its insert is streamed from the kept slot too
  StopService();
}

// A slot dropped behind the service's back leaves a gap only an operator may accept: not ready, the
// reason in GetStatus, nothing streamed, until Resnapshot; which then snapshots with a new slot. A
// Resnapshot while streaming re-reads every table and keeps the slot (no change is skipped).
TEST_F(CdcTest, ASlotDroppedOutsideIsRefusedUntilResnapshot) {
  Sql("CREATE TABLE " + name_ + ".items (id int PRIMARY KEY, v text)");
  Sql("INSERT INTO " + name_ + ".items VALUES (1, 'a'), (2, 'b')");
  CreateTopics({"items"});
  StartService();
  WaitStreaming();
  Sql("INSERT INTO " + name_ + ".items VALUES (3, 'c')");  // streamed: the slot has produced events
  auto consumer = MakeConsumer({"items"});
  IdsByOp by_op;
  auto tally = [&](const std::vector<Event>& e) { by_op.Add(e); };
  auto events = ReadUntil(
      consumer,
      [&](const std::vector<Event>& e) {
        tally(e);
        return by_op.Count("c", 3) == 1;
      },
      60s);
  ASSERT_EQ(by_op.Count("c", 3), 1u);
  StopService();
  Sql("SELECT pg_drop_replication_slot('" + name_ + "')");
  Sql("INSERT INTO " + name_ + ".items VALUES (4, 'd')");  // in the gap: no slot holds it

  StartService();
  std::string reason;
  for (int i = 0; i < 100 && reason.empty(); ++i) {
    reason = Status().last_error();
    if (reason.empty()) std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(reason.find("is gone"), std::string::npos) << reason;
  EXPECT_NE(reason.find("Resnapshot"), std::string::npos) << reason;
  auto [ready_status, ready_body] =
      rainbow::testing::HttpGet("http://127.0.0.1:" + std::to_string(http_port_) + "/readyz");
  EXPECT_EQ(ready_status, 503) << ready_body;
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(Status().streaming());
  {
    pg::Connection c(dsn_);
    EXPECT_EQ(c.Exec("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {name_}).rows(), 0)
        << "the service made a slot without being asked";
  }

  auto stub = v1::CdcStatusService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials()));
  auto resnapshot = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::ResnapshotReply reply;
    const auto st = stub->Resnapshot(&ctx, v1::ResnapshotRequest{}, &reply);
    EXPECT_TRUE(st.ok()) << st.error_message();
  };
  resnapshot();
  WaitStreaming();
  events = ReadUntil(
      consumer,
      [&](const std::vector<Event>& e) {
        tally(e);
        return by_op.Count("r", 4) == 1;
      },
      60s, events);
  EXPECT_EQ(by_op.Count("r", 4), 1u) << "the re-snapshot did not read the row written in the gap";
  EXPECT_EQ(by_op.Count("r", 3), 1u);

  // While streaming: a change right before the request and one during the re-snapshot both arrive.
  Sql("INSERT INTO " + name_ + ".items VALUES (5, 'e')");
  resnapshot();
  Sql("INSERT INTO " + name_ + ".items VALUES (6, 'f')");
  events = ReadUntil(
      consumer,
      [&](const std::vector<Event>& e) {
        tally(e);
        return by_op.Count("r", 5) == 1 && by_op.Count("c", 5) >= 1 && by_op.Count("c", 6) >= 1;
      },
      60s, events);
  EXPECT_EQ(by_op.Count("r", 5), 1u) << "no re-snapshot after the request while streaming";
  EXPECT_GE(by_op.Count("c", 5), 1u);
  EXPECT_GE(by_op.Count("c", 6), 1u);
  EXPECT_EQ(by_op.Count("r", 1), 3u);  // three snapshots
  WaitStreaming();
  StopService();
}

// 50,000 rows written in transactions of 1-100 rows (with updates and deletes mixed in) while the
// service is killed -9 three times at random moments: every row reaches Kafka.
TEST_F(CdcTest, KilledNineThreeTimesLosesNothing) {
  Sql("CREATE TABLE " + name_ + ".items (id int PRIMARY KEY, v int NOT NULL, pad text)");
  Sql("CREATE TABLE " + name_ + ".audit (id bigserial PRIMARY KEY, item_id int, note text)");
  CreateTopics({"items", "audit"});
  StartService();
  WaitStreaming();
  constexpr int kRows = 50'000;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    pg::Connection c(dsn_);
    std::mt19937 rng(7);
    int id = 1;
    while (id <= kRows) {
      const int n = std::min(kRows - id + 1, 1 + static_cast<int>(rng() % 100));
      std::string sql = "BEGIN; INSERT INTO " + name_ +
                        ".items SELECT g, 0, repeat('x', 50) FROM generate_series(" + std::to_string(id) +
                        ", " + std::to_string(id + n - 1) + ") g; ";
      sql += "UPDATE " + name_ + ".items SET v = v + 1 WHERE id BETWEEN " +
             std::to_string(std::max(1, id - 50)) + " AND " + std::to_string(id) + "; ";
      sql += "INSERT INTO " + name_ + ".audit (item_id, note) VALUES (" + std::to_string(id) + ", 'batch'); ";
      sql += "DELETE FROM " + name_ + ".audit WHERE id % 3 = 0; COMMIT";
      c.Exec(sql);
      id += n;
      std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 6000));
    }
    done = true;
  });
  std::mt19937 rng(std::random_device{}());
  for (int kill = 0; kill < 3; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400 + rng() % 1200));
    service_->Signal(SIGKILL);
    service_->Wait(10s);
    StartService();
  }
  writer.join();
  ASSERT_TRUE(done);
  WaitReady(120s);
  auto consumer = MakeConsumer({"items"});
  std::set<int> created;
  int duplicates = 0;
  auto events = ReadUntil(
      consumer,
      [&](const std::vector<Event>& e) {
        for (size_t i = created.size() + duplicates; i < e.size(); ++i) {
          const auto& v = *e[i].value;
          if (v["op"] == "c" || v["op"] == "r") {
            if (!created.insert(v["after"]["id"].get<int>()).second) ++duplicates;
          } else {
            ++duplicates;  // updates: counted apart, not needed for the check
          }
        }
        return static_cast<int>(created.size()) >= kRows;
      },
      180s);
  EXPECT_EQ(static_cast<int>(created.size()), kRows) << "rows missing on Kafka";
  EXPECT_EQ(*created.begin(), 1);
  EXPECT_EQ(*created.rbegin(), kRows);
  std::cout << "events read: " << events.size() << ", creates: " << created.size()
            << ", replayed (reported by the service): " << Metric("cdc_replayed_events_total") << "\n";
  EXPECT_EQ(starts_, 4);
  StopService();
}

TEST_F(CdcTest, KafkaRestartMidStreamLosesNothing) {
  Sql("CREATE TABLE " + name_ + ".items (id int PRIMARY KEY, v text)");
  CreateTopics({"items"});
  StartService({{"CDC_SNAPSHOT_MODE", "never"}});
  WaitStreaming();
  std::atomic<bool> stop{false};
  std::atomic<int> next{1};
  std::thread writer([&] {
    pg::Connection c(dsn_);
    while (!stop) {
      const int id = next.fetch_add(10);
      c.Exec("INSERT INTO " + name_ + ".items SELECT g, 'v' FROM generate_series(" + std::to_string(id) +
             ", " + std::to_string(id + 9) + ") g");
      std::this_thread::sleep_for(20ms);
    }
  });
  std::this_thread::sleep_for(1s);
  ASSERT_EQ(StackCommand("restart kafka"), 0);
  std::this_thread::sleep_for(1s);
  stop = true;
  writer.join();
  const int total = next.load() - 1;
  auto consumer = MakeConsumer({"items"});
  std::set<int> ids;
  size_t seen = 0;
  ReadUntil(
      consumer,
      [&](const std::vector<Event>& e) {
        for (; seen < e.size(); ++seen) ids.insert((*e[seen].value)["after"]["id"].get<int>());
        return static_cast<int>(ids.size()) >= total;
      },
      120s);
  EXPECT_EQ(static_cast<int>(ids.size()), total);
  StopService();
}

TEST_F(CdcTest, PostgresRestartReconnects) {
  Sql("CREATE TABLE " + name_ + ".items (id int PRIMARY KEY)");
  CreateTopics({"items"});
  StartService({{"CDC_SNAPSHOT_MODE", "never"}, {"CDC_RECONNECT_MAX_BACKOFF", "1s"}});
  WaitStreaming();
  Sql("INSERT INTO " + name_ + ".items SELECT generate_series(1, 100)");
  ASSERT_EQ(StackCommand("restart postgres"), 0);
  Sql("INSERT INTO " + name_ + ".items SELECT generate_series(101, 200)");
  auto consumer = MakeConsumer({"items"});
  std::set<int> ids;
  size_t seen = 0;
  ReadUntil(
      consumer,
      [&](const std::vector<Event>& e) {
        for (; seen < e.size(); ++seen) ids.insert((*e[seen].value)["after"]["id"].get<int>());
        return ids.size() >= 200;
      },
      90s);
  EXPECT_EQ(ids.size(), 200u);
  WaitStreaming();
  EXPECT_GE(Metric("cdc_reconnects_total{cause=\"postgres\"}"), 1);
  StopService();
}

// A corrupt replication message (injected by the CDC_FAULT_CORRUPT_MESSAGE hook into the real stream)
// stops the service with a clear error and exit code 3, and the slot is not advanced past it: the next
// start delivers every row, the ones after the bad message included.
TEST_F(CdcTest, CorruptMessageStopsCleanlyWithoutAdvancingTheSlot) {
  Sql("CREATE TABLE " + name_ + ".items (id int PRIMARY KEY)");
  CreateTopics({"items"});
  // Messages: Relation once, then Begin/Insert/Commit per transaction: the 20th is inside the 7th one.
  StartService({{"CDC_SNAPSHOT_MODE", "never"}, {"CDC_FAULT_CORRUPT_MESSAGE", "20"}});
  WaitStreaming();
  pg::Connection c(dsn_);
  for (int i = 1; i <= 30; ++i) c.Exec("INSERT INTO " + name_ + ".items VALUES (" + std::to_string(i) + ")");
  const std::string last(c.Exec("SELECT pg_current_wal_lsn()::text").Text(0, 0));
  auto code = service_->Wait(60s);
  ASSERT_TRUE(code.has_value()) << "the service did not stop on a corrupt message";
  EXPECT_EQ(*code, 3);
  EXPECT_NE(service_->Stdout().find("malformed replication stream"), std::string::npos) << service_->Stdout();
  auto slot = c.Exec("SELECT confirmed_flush_lsn < $1::pg_lsn FROM pg_replication_slots WHERE slot_name = $2",
                     {last, name_});
  ASSERT_EQ(slot.rows(), 1);
  EXPECT_EQ(slot.Text(0, 0), "t") << "slot advanced past the corrupt message";

  auto consumer = MakeConsumer({"items"});
  auto before = ReadUntil(
      consumer, [](const std::vector<Event>&) { return false; }, 3s);
  EXPECT_LT(before.size(), 30u);
  StartService({{"CDC_SNAPSHOT_MODE", "never"}});
  std::set<int> ids;
  for (const auto& e : before) ids.insert((*e.value)["after"]["id"].get<int>());
  size_t seen = 0;
  ReadUntil(
      consumer,
      [&](const std::vector<Event>& e) {
        for (; seen < e.size(); ++seen) ids.insert((*e[seen].value)["after"]["id"].get<int>());
        return ids.size() >= 30;
      },
      60s);
  EXPECT_EQ(ids.size(), 30u);
  StopService();
}

// An event over CDC_MAX_MESSAGE_BYTES: with `skip` a dead letter naming it takes its place and the stream
// goes on; with `fail` the service is not ready, says why, and the slot does not move past it.
TEST_F(CdcTest, AnEventOverTheSizeLimitIsDeadLetteredOrStopsTheSession) {
  Sql("CREATE TABLE " + name_ + ".items (id int PRIMARY KEY, note text)");
  CreateTopics({"items"});
  kafka::EnsureTopic(brokers_, Topic("items") + ".dlq", 1, 1);
  StartService(
      {{"CDC_SNAPSHOT_MODE", "never"}, {"CDC_MAX_MESSAGE_BYTES", "4096"}, {"CDC_EVENT_SIZE_POLICY", "skip"}});
  WaitStreaming();
  auto consumer = MakeConsumer({"items"});
  kafka::Consumer dlq(
      {brokers_, Identifier("cdc_dlq_group"), {Topic("items") + ".dlq"}, "cdc-test", "earliest"});
  Sql("INSERT INTO " + name_ + ".items VALUES (1, repeat('x', 10000))");
  Sql("INSERT INTO " + name_ + ".items VALUES (2, 'small')");
  auto events = ReadUntil(
      consumer, [](const std::vector<Event>& e) { return !e.empty(); }, 60s);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ((*events[0].value)["after"]["id"], 2);
  std::optional<kafka::ConsumedMessage> dead;
  for (const auto end = std::chrono::steady_clock::now() + 30s;
       !dead && std::chrono::steady_clock::now() < end;)
    dead = dlq.Poll(200ms);
  ASSERT_TRUE(dead.has_value());
  EXPECT_EQ(json::parse(*dead->key)["id"], 1);
  EXPECT_FALSE(dead->value.has_value());
  EXPECT_NE(dead->HeaderValue("dlq.error").value_or("").find("over CDC_MAX_MESSAGE_BYTES"),
            std::string::npos);
  EXPECT_EQ(dead->HeaderValue("dlq.topic"), Topic("items"));
  const auto [code, metrics] =
      rainbow::testing::HttpGet("http://127.0.0.1:" + std::to_string(http_port_) + "/metrics");
  EXPECT_NE(metrics.find("cdc_oversized_events_total{action=\"dead_lettered\"} 1"), std::string::npos);
  StopService();

  // fail: not ready with the reason; the slot stays before the event.
  pg::Connection c(dsn_);
  const std::string before(c.Exec("SELECT pg_current_wal_lsn()::text").Text(0, 0));
  Sql("INSERT INTO " + name_ + ".items VALUES (3, repeat('y', 10000))");
  StartService({{"CDC_SNAPSHOT_MODE", "never"},
                {"CDC_MAX_MESSAGE_BYTES", "4096"},
                {"CDC_RECONNECT_MAX_BACKOFF", "500ms"}});
  // /readyz names the failing part (the engine); GetStatus says why.
  std::string reason, readyz;
  for (const auto end = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < end;) {
    const auto [status, body] =
        rainbow::testing::HttpGet("http://127.0.0.1:" + std::to_string(http_port_) + "/readyz");
    const std::string error = Status().last_error();
    if (status == 503 && error.find("CDC_MAX_MESSAGE_BYTES") != std::string::npos) {
      reason = error;
      readyz = body;
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_NE(reason.find("over CDC_MAX_MESSAGE_BYTES"), std::string::npos) << service_->Stdout();
  EXPECT_NE(readyz.find(R"("failing":["engine"])"), std::string::npos) << readyz;
  // The session retries with backoff and stops at the same event each time: readiness and the reason hold
  // through the retries (they do not flap to ready while a new session starts).
  const auto sessions = [&] {
    const std::string out = service_->Stdout();
    size_t n = 0;
    for (size_t at = out.find(R"("msg":"streaming")"); at != std::string::npos;
         at = out.find(R"("msg":"streaming")", at + 1))
      ++n;
    return n;
  };
  const size_t sessions_before = sessions();
  for (const auto end = std::chrono::steady_clock::now() + 3s; std::chrono::steady_clock::now() < end;) {
    const auto [status, body] =
        rainbow::testing::HttpGet("http://127.0.0.1:" + std::to_string(http_port_) + "/readyz");
    ASSERT_EQ(status, 503) << body;
    ASSERT_NE(Status().last_error().find("over CDC_MAX_MESSAGE_BYTES"), std::string::npos)
        << Status().last_error();
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_GE(sessions(), sessions_before + 2) << "the window saw no retried session";
  auto slot =
      c.Exec("SELECT confirmed_flush_lsn <= $1::pg_lsn FROM pg_replication_slots WHERE slot_name = $2",
             {before, name_});
  ASSERT_EQ(slot.rows(), 1);
  EXPECT_EQ(slot.Text(0, 0), "t") << "the slot moved past the oversized event";
  StopService();
}

// An idle captured schema while another table is busy: heartbeats still move the slot forward.
TEST_F(CdcTest, HeartbeatsAdvanceTheSlotOfAnIdleCapturedSchema) {
  Sql("CREATE TABLE " + name_ + ".items (id int PRIMARY KEY)");
  const std::string other = name_ + "_busy";
  Sql("CREATE SCHEMA " + other);
  Sql("CREATE TABLE " + other + ".noise (id serial PRIMARY KEY, pad text)");
  StartService({{"CDC_SNAPSHOT_MODE", "never"}, {"CDC_HEARTBEAT_INTERVAL", "300ms"}});
  WaitStreaming();
  Sql("INSERT INTO " + other + ".noise (pad) SELECT repeat('x', 500) FROM generate_series(1, 5000)");
  pg::Connection c(dsn_);
  const std::string target(c.Exec("SELECT pg_current_wal_lsn()::text").Text(0, 0));
  bool advanced = false;
  for (int i = 0; i < 100 && !advanced; ++i) {
    auto r = c.Exec("SELECT confirmed_flush_lsn >= $1::pg_lsn FROM pg_replication_slots WHERE slot_name = $2",
                    {target, name_});
    advanced = r.rows() == 1 && r.Text(0, 0) == "t";
    if (!advanced) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(advanced) << "slot did not pass " << target;
  double heartbeats = 0;
  for (int i = 0; i < 50 && heartbeats < 2; ++i) {
    heartbeats = Metric("cdc_heartbeats_total");
    if (heartbeats < 2) std::this_thread::sleep_for(100ms);
  }
  EXPECT_GE(heartbeats, 2);
  // The gauge follows within a status interval: 5 MB of uncaptured WAL were written, far less remains.
  double lag = 1e12;
  for (int i = 0; i < 50 && lag >= 1e6; ++i) {
    lag = Metric("cdc_slot_lag_bytes");
    if (lag >= 1e6) std::this_thread::sleep_for(100ms);
  }
  EXPECT_LT(lag, 1e6);
  StopService();
  c.Exec("DROP SCHEMA " + other + " CASCADE");
}

// Topics the service creates get KAFKA_TOPIC_REPLICATION_FACTOR replicas and the topic config
// min.insync.replicas = KAFKA_TOPIC_MIN_INSYNC_REPLICAS (set on the topic, not left to the broker).
TEST_F(CdcTest, TopicsItCreatesGetTheConfiguredReplicationAndMinInsyncReplicas) {
  Sql("CREATE TABLE " + name_ + ".items (id bigint PRIMARY KEY)");
  StartService({{"KAFKA_TOPIC_REPLICATION_FACTOR", "1"}, {"KAFKA_TOPIC_MIN_INSYNC_REPLICAS", "1"}});
  WaitStreaming();
  auto consumer = MakeConsumer({"items"});
  Sql("INSERT INTO " + name_ + ".items VALUES (1)");
  const auto events = ReadUntil(
      consumer, [](const std::vector<Event>& e) { return !e.empty(); }, 60s);
  ASSERT_EQ(events.size(), 1u) << service_->Stdout();
  const auto settings = kafka::DescribeTopicSettings(brokers_, Topic("items"));
  EXPECT_EQ(settings.replication_factor, 1);
  EXPECT_EQ(settings.min_insync_replicas, 1);
}

// The kill window: Kafka is frozen (SIGSTOP, a hung broker) while inserts, updates and deletes flow, so
// events are produced but not acknowledged; the service is killed -9 in that window, Kafka thawed and the
// service restarted: every change arrives at least once (the slot was confirmed only up to what Kafka
// acknowledged).
TEST_F(CdcTest, KilledWhileKafkaHoldsUnacknowledgedEventsLosesNothing) {
  Sql("CREATE TABLE " + name_ + ".items (id int PRIMARY KEY, v int NOT NULL)");
  Sql("CREATE TABLE " + name_ + ".notes (id int PRIMARY KEY, t text NOT NULL)");
  CreateTopics({"items", "notes"});
  StartService({{"CDC_SNAPSHOT_MODE", "never"}});
  WaitStreaming();
  // One row per table first, read back: the service has found its topics (a topic lookup against a frozen
  // broker would hold the stream before anything is produced).
  auto consumer = MakeConsumer({"items", "notes"});
  Sql("INSERT INTO " + name_ + ".items VALUES (1000, 0)");
  Sql("INSERT INTO " + name_ + ".notes VALUES (1000, 'a')");
  ASSERT_EQ(ReadUntil(
                consumer, [](const std::vector<Event>& e) { return e.size() >= 2; }, 60s)
                .size(),
            2u);
  struct Thaw {
    ~Thaw() { rainbow::testing::ThawStackComponent("kafka"); }
  };
  double in_flight = 0;
  {
    rainbow::testing::FreezeStackComponent("kafka");
    Thaw thaw;
    // One transaction per insert: the producer's few in-flight requests (sent, held in the frozen
    // broker's socket) fill up and the rest waits in the producer, lost at the kill unless replayed.
    pg::Connection c(dsn_);
    for (const std::string t : {"items", "notes"}) {
      const std::string value = t == "items" ? "0" : "'a'";
      for (int id = 1; id <= 200; ++id)
        c.Exec("INSERT INTO " + name_ + "." + t + " VALUES (" + std::to_string(id) + ", " + value + ")");
      c.Exec("UPDATE " + name_ + "." + t + (t == "items" ? " SET v = 1" : " SET t = 'b'"));
      c.Exec("DELETE FROM " + name_ + "." + t + " WHERE id <= 100");
    }
    const auto end = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < end && in_flight == 0) {
      in_flight = Metric("cdc_in_flight_events");
      if (in_flight == 0) std::this_thread::sleep_for(50ms);
    }
    ASSERT_GT(in_flight, 0) << "the kill would not hit the window: nothing unacknowledged";
    std::this_thread::sleep_for(1s);  // status updates (every 200 ms) reach PostgreSQL meanwhile
    service_->Signal(SIGKILL);
    service_->Wait(10s);
  }
  StartService({{"CDC_SNAPSHOT_MODE", "never"}});
  std::map<std::string, std::set<int>> seen;  // "<table>/<op>" -> ids
  size_t read = 0;
  ReadUntil(
      consumer,
      [&](const std::vector<Event>& e) {
        for (; read < e.size(); ++read) {
          if (!e[read].value) continue;  // tombstone
          const auto& v = *e[read].value;
          const auto& row = v["op"] == "d" ? v["before"] : v["after"];
          seen[e[read].topic + "/" + v["op"].get<std::string>()].insert(row["id"].get<int>());
        }
        for (const std::string t : {"items", "notes"}) {
          if (seen[Topic(t) + "/c"].size() < 200 || seen[Topic(t) + "/u"].size() < 201 ||
              seen[Topic(t) + "/d"].size() < 100)
            return false;
        }
        return true;
      },
      90s);
  for (const std::string t : {"items", "notes"}) {
    EXPECT_GE(seen[Topic(t) + "/c"].size(), 200u)
        << t << " inserts lost (in flight at the kill: " << in_flight << ")";
    EXPECT_EQ(seen[Topic(t) + "/u"].size(), 201u) << t << " updates lost";
    EXPECT_EQ(seen[Topic(t) + "/d"].size(), 100u) << t << " deletes lost";
  }
  StopService();
}

}  // namespace
}  // namespace rainbow::cdc
