#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace rainbow::loader {

struct ClickHouseConfig {
  std::string url;  // LOADER_CLICKHOUSE_URL, e.g. http://127.0.0.1:8123; empty: the sink is off
  std::string user = "default";
  std::string password;
  std::string database = "rainbow";
  std::chrono::milliseconds interval{1'000};  // pause between copy rounds once caught up
  int64_t batch_versions = 100'000;           // most warehouse versions (so rows) per insert
  int copy_lanes = 2;                         // windows copied at once, each on its own connections
  std::chrono::milliseconds timeout{60'000};  // one HTTP request
};

// An error of ClickHouse's HTTP interface. Retryable: the server could not be reached or answered
// 5xx with an error code that is not about the query or the data (Code: NN in the body).
class ClickHouseError : public std::runtime_error {
 public:
  ClickHouseError(const std::string& message, bool retryable, int code)
      : std::runtime_error(message), retryable_(retryable), code_(code) {}
  bool retryable() const { return retryable_; }
  int code() const { return code_; }  // ClickHouse's error code, 0 when none

 private:
  bool retryable_;
  int code_;
};

// ClickHouse's "Code: NN" from an error body, 0 when absent.
int ClickHouseErrorCode(const std::string& body);
// Codes about the statement or the data (syntax, types, parsing, unknown table or column): retrying
// the same request cannot succeed.
bool IsPermanentClickHouseCode(int code);
// The permanent codes about a value in the data (a number, date or decimal a column cannot hold), as
// opposed to the statement: an insert refused with one of these succeeds without the offending row.
bool IsRowValueClickHouseCode(int code);

// One statement per call over ClickHouse's HTTP interface (libcurl; one easy handle, kept alive).
// Owned by one thread at a time (not thread-safe).
class ClickHouseClient {
 public:
  explicit ClickHouseClient(ClickHouseConfig config);
  ~ClickHouseClient();
  ClickHouseClient(const ClickHouseClient&) = delete;
  ClickHouseClient& operator=(const ClickHouseClient&) = delete;

  // Runs `sql` (in the configured database unless in_database is false); returns the body
  // (TabSeparated for a SELECT). Throws ClickHouseError.
  std::string Query(const std::string& sql, bool in_database = true);
  // INSERT INTO <target> FORMAT TabSeparated with `rows` as the body (one block, so all or nothing).
  void InsertTsv(const std::string& target, const std::string& rows);
  // The same with the body streamed (chunked) from `next`, which fills `chunk` and returns false when
  // there is no more; an exception from it aborts the insert (ClickHouse keeps nothing of it) and is
  // rethrown.
  void InsertTsvStream(const std::string& target, const std::function<bool(std::string& chunk)>& next);

  const ClickHouseConfig& config() const { return config_; }

 private:
  std::string Post(const std::string& query_param, const std::string& body, bool in_database,
                   const std::function<bool(std::string& chunk)>* stream = nullptr);

  ClickHouseConfig config_;
  void* curl_ = nullptr;  // CURL*
};

}  // namespace rainbow::loader
