#include "services/loader/src/clickhouse_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <regex>

namespace rainbow::loader {
namespace {

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct StreamState {
  const std::function<bool(std::string&)>* next;
  std::string chunk;
  size_t pos = 0;
  bool done = false;
  std::exception_ptr error;
};

size_t ReadChunk(char* out, size_t size, size_t n, void* state_ptr) {
  auto& s = *static_cast<StreamState*>(state_ptr);
  while (s.pos == s.chunk.size() && !s.done) {
    s.pos = 0;
    try {
      if (!(*s.next)(s.chunk)) s.done = true;
    } catch (...) {
      s.error = std::current_exception();
      return CURL_READFUNC_ABORT;
    }
    if (s.done) s.chunk.clear();
  }
  const size_t len = std::min(size * n, s.chunk.size() - s.pos);
  std::memcpy(out, s.chunk.data() + s.pos, len);
  s.pos += len;
  return len;
}

std::string Escape(CURL* curl, const std::string& s) {
  char* e = curl_easy_escape(curl, s.data(), static_cast<int>(s.size()));
  std::string out(e ? e : "");
  curl_free(e);
  return out;
}

}  // namespace

int ClickHouseErrorCode(const std::string& body) {
  static const std::regex kCode("Code: ([0-9]+)");
  std::smatch m;
  if (!std::regex_search(body, m, kCode)) return 0;
  return std::atoi(m[1].str().c_str());
}

bool IsRowValueClickHouseCode(int code) {
  switch (code) {
    case 6:    // CANNOT_PARSE_TEXT
    case 26:   // CANNOT_PARSE_QUOTED_STRING
    case 27:   // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    case 38:   // CANNOT_PARSE_DATE
    case 41:   // CANNOT_PARSE_DATETIME
    case 53:   // TYPE_MISMATCH
    case 69:   // ARGUMENT_OUT_OF_BOUND
    case 70:   // CANNOT_CONVERT_TYPE
    case 72:   // CANNOT_PARSE_NUMBER
    case 117:  // INCORRECT_DATA
    case 321:  // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    case 349:  // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
    case 407:  // DECIMAL_OVERFLOW
      return true;
    default:
      return false;
  }
}

bool IsPermanentClickHouseCode(int code) {
  if (IsRowValueClickHouseCode(code)) return true;
  switch (code) {
    case 16:  // NO_SUCH_COLUMN_IN_TABLE
    case 32:  // ATTEMPT_TO_READ_AFTER_EOF
    case 43:  // ILLEGAL_TYPE_OF_ARGUMENT
    case 47:  // UNKNOWN_IDENTIFIER
    case 50:  // UNKNOWN_TYPE
    case 60:  // UNKNOWN_TABLE
    case 62:  // SYNTAX_ERROR
    case 81:  // UNKNOWN_DATABASE
      return true;
    default:
      return false;
  }
}

ClickHouseClient::ClickHouseClient(ClickHouseConfig config) : config_(std::move(config)) {
  curl_ = curl_easy_init();
  if (!curl_) throw ClickHouseError("clickhouse: curl_easy_init failed", true, 0);
  while (!config_.url.empty() && config_.url.back() == '/') config_.url.pop_back();
}

ClickHouseClient::~ClickHouseClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

std::string ClickHouseClient::Post(const std::string& query_param, const std::string& body, bool in_database,
                                   const std::function<bool(std::string& chunk)>* stream) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);
  std::string url = config_.url + "/?";
  if (in_database) url += "database=" + Escape(curl, config_.database) + "&";
  if (!query_param.empty()) url += "query=" + Escape(curl, query_param);
  std::string response;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  StreamState state{stream, {}, 0, false, nullptr};
  curl_slist* headers = nullptr;
  if (stream != nullptr) {
    headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadChunk);
    curl_easy_setopt(curl, CURLOPT_READDATA, &state);
  } else {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5'000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout.count()));
  if (!config_.user.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERNAME, config_.user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, config_.password.c_str());
  }
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (state.error) std::rethrow_exception(state.error);
  if (rc != CURLE_OK) throw ClickHouseError(std::string("clickhouse: ") + curl_easy_strerror(rc), true, 0);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    const int code = ClickHouseErrorCode(response);
    std::string message = response.substr(0, 1000);
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
    throw ClickHouseError("clickhouse: HTTP " + std::to_string(status) + ": " + message,
                          !IsPermanentClickHouseCode(code) && status >= 500, code);
  }
  return response;
}

std::string ClickHouseClient::Query(const std::string& sql, bool in_database) {
  return Post("", sql, in_database);
}

void ClickHouseClient::InsertTsv(const std::string& target, const std::string& rows) {
  Post("INSERT INTO " + target + " FORMAT TabSeparated", rows, true);
}

void ClickHouseClient::InsertTsvStream(const std::string& target,
                                       const std::function<bool(std::string& chunk)>& next) {
  Post("INSERT INTO " + target + " FORMAT TabSeparated", {}, true, &next);
}

}  // namespace rainbow::loader
