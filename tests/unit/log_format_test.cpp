#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/logging/log.hpp"

namespace rainbow::log {
namespace {

TEST(LogFormat, PlainMessageIsEscapedJson) {
  const auto line = FormatLine("2026-01-01T00:00:00.000Z", "info", "svc", "say \"hi\"\n\tbye");
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["msg"], "say \"hi\"\n\tbye");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["service"], "svc");
  EXPECT_EQ(j["ts"], "2026-01-01T00:00:00.000Z");
}

TEST(LogFormat, StructuredFieldsAreMergedIntoTheLine) {
  std::string payload = "\x1f";
  payload += nlohmann::json{{"msg", "order created"}, {"order_id", 42}, {"lsn", "0/16B3748"}}.dump();
  const auto j = nlohmann::json::parse(FormatLine("t", "warning", "order-api", payload));
  EXPECT_EQ(j["msg"], "order created");
  EXPECT_EQ(j["order_id"], 42);
  EXPECT_EQ(j["lsn"], "0/16B3748");
  EXPECT_EQ(j["service"], "order-api");
}

TEST(LogFormat, InvalidUtf8DoesNotBreakTheLine) {
  const auto line = FormatLine("t", "info", "svc", std::string("bad \xff byte"));
  EXPECT_NO_THROW(nlohmann::json::parse(line));
}

}  // namespace
}  // namespace rainbow::log

namespace {

// Runs `log` with stdout captured and returns the lines it wrote.
template <typename Fn>
std::vector<std::string> CapturedLines(Fn log) {
  rainbow::log::Init("svc", "info");
  testing::internal::CaptureStdout();
  log();
  const std::string out = testing::internal::GetCapturedStdout();
  std::vector<std::string> lines;
  for (size_t start = 0, end; (end = out.find('\n', start)) != std::string::npos; start = end + 1)
    lines.push_back(out.substr(start, end - start));
  return lines;
}

std::vector<std::string> Keys(const std::string& line) {
  const auto j = nlohmann::ordered_json::parse(line);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  return keys;
}

}  // namespace

TEST(LogFormat, BracedFieldsComeAfterTheMessageInTheOrderGiven) {
  const auto lines = CapturedLines([] {
    rainbow::log::Info("order created", {{"order_id", 7}, {"customer_id", 3}, {"msg", "ignored"}});
    rainbow::log::Info("plain");
    rainbow::log::Debug("below the level", {{"order_id", 8}});
  });
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Keys(lines[0]),
            (std::vector<std::string>{"ts", "level", "service", "msg", "order_id", "customer_id"}));
  const auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["msg"], "order created");
  EXPECT_EQ(first["order_id"], 7);
  EXPECT_EQ(first["customer_id"], 3);
  EXPECT_EQ(nlohmann::json::parse(lines[1])["msg"], "plain");
}

TEST(LogFormat, FieldsObjectKeepsKeyOrder) {
  const auto lines = CapturedLines([] {
    rainbow::log::Fields fields{{"order_id", 7}, {"customer_id", 3}};
    fields["lsn"] = "0/16B3748";
    rainbow::log::Warn("order created", fields);
  });
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Keys(lines[0]),
            (std::vector<std::string>{"ts", "level", "service", "msg", "customer_id", "lsn", "order_id"}));
  EXPECT_EQ(nlohmann::json::parse(lines[0])["level"], "warning");
}

TEST(LogFormat, BracedValuesKeepTheirJsonTypes) {
  const std::string quoted = "say \"hi\"\n\tbad \xff byte";
  const char* text = "a c string";
  const auto lines = CapturedLines([&] {
    rainbow::log::Error("types", {{"text", quoted},
                                  {"c_string", text},
                                  {"negative", int64_t{-42}},
                                  {"big", uint64_t{18446744073709551615u}},
                                  {"size", size_t{3}},
                                  {"real", 2.5},
                                  {"not_finite", std::nan("")},
                                  {"yes", true},
                                  {"left_out", rainbow::log::Value::Omitted()},
                                  {"after", "end"}});
  });
  ASSERT_EQ(lines.size(), 1u);
  const auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["text"], "say \"hi\"\n\tbad \xef\xbf\xbd byte");  // invalid UTF-8 replaced, not dropped
  EXPECT_EQ(j["c_string"], "a c string");                       // a pointer is text, never a bool
  EXPECT_EQ(j["negative"], -42);
  EXPECT_EQ(j["big"], 18446744073709551615u);
  EXPECT_EQ(j["size"], 3);
  EXPECT_EQ(j["real"], 2.5);
  EXPECT_TRUE(j["not_finite"].is_null());
  EXPECT_EQ(j["yes"], true);
  EXPECT_FALSE(j.contains("left_out"));
  EXPECT_EQ(j["after"], "end");
  EXPECT_EQ(j["level"], "error");
}

TEST(LogFormat, TimestampIsUtcWithMilliseconds) {
  const auto lines = CapturedLines([] {
    for (int i = 0; i < 3; ++i) rainbow::log::Info("tick", {{"i", i}});
  });
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& line : lines) {
    const std::string ts = nlohmann::json::parse(line)["ts"];
    EXPECT_TRUE(std::regex_match(ts, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)"))) << ts;
  }
}

namespace {

// Points stdout (fd 1) at a fresh file while it lives; Written() reads that file without flushing
// stdio, so a test sees only what the logger itself has handed to the kernel.
class StdoutToFile {
 public:
  StdoutToFile() {
    std::fflush(stdout);
    char path[] = "/tmp/rainbow-log-test-XXXXXX";
    const int fd = ::mkstemp(path);
    path_ = path;
    saved_ = ::dup(1);
    ::dup2(fd, 1);
    ::close(fd);
  }
  ~StdoutToFile() {
    std::fflush(stdout);
    ::dup2(saved_, 1);
    ::close(saved_);
    ::unlink(path_.c_str());
  }
  std::string Written() const {
    std::ifstream in(path_);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

 private:
  std::string path_;
  int saved_ = -1;
};

}  // namespace

// A warning (or error) reaches stdout at once, and every line logged before it with it, so a crash
// right after a warning still leaves the story that led to it.
TEST(LogDelivery, AWarningIsWrittenAtOnceWithEveryLineBeforeIt) {
  rainbow::log::Init("svc", "info");
  StdoutToFile out;
  rainbow::log::Info("step one", {{"order_id", 1}});
  rainbow::log::Warn("step two went wrong", {{"order_id", 1}});
  const std::string written = out.Written();
  const auto one = written.find("step one");
  const auto two = written.find("step two went wrong");
  ASSERT_NE(one, std::string::npos) << written;
  ASSERT_NE(two, std::string::npos) << written;
  EXPECT_LT(one, two);
}

// Info lines may wait in stdio's buffer, but no longer than the periodic flush (a second).
TEST(LogDelivery, AnInfoLineIsWrittenWithinTheFlushInterval) {
  rainbow::log::Init("svc", "info");
  StdoutToFile out;
  rainbow::log::Info("quiet moment", {{"order_id", 2}});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (out.Written().find("quiet moment") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(out.Written().find("quiet moment"), std::string::npos);
}

// Lines from many threads at once come out whole, one per line, none lost, each thread's in its order.
TEST(LogDelivery, ConcurrentLinesStayWholeAndInOrderPerThread) {
  constexpr int kThreads = 8, kLines = 500;
  const std::string padding(300, 'x');  // long lines cross stdio's buffer boundary often
  const auto lines = CapturedLines([&] {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kLines; ++i) rainbow::log::Info("burst", {{"t", t}, {"i", i}, {"pad", padding}});
      });
    }
    for (auto& th : threads) th.join();
  });
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
  std::vector<int> next(kThreads, 0);
  for (const auto& line : lines) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line.substr(0, 200);
    const int t = j["t"], i = j["i"];
    EXPECT_EQ(i, next[static_cast<size_t>(t)]++) << "thread " << t;
    EXPECT_EQ(j["pad"], padding);
  }
}
