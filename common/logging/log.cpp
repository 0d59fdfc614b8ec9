#include "common/logging/log.hpp"

#include <spdlog/sinks/sink.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <stdexcept>

namespace rainbow::log {
namespace {

// Structured records travel through spdlog as a payload that starts with this byte followed by a JSON
// object holding "msg" and the fields; plain spdlog calls (from anywhere) still come out as valid JSON.
constexpr char kStructuredMarker = '\x1f';

void AppendEscaped(std::string& out, std::string_view text) {
  // Plain text (the common case: levels, service names, messages, ids) needs only its quotes.
  bool plain = true;
  for (const unsigned char ch : text) plain = plain && ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\';
  if (plain) {
    out += '"';
    out += text;
    out += '"';
    return;
  }
  out += nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Escape(std::string_view text) {
  std::string out;
  AppendEscaped(out, text);
  return out;
}

template <typename Number>
void AppendNumber(std::string& out, Number n) {
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof(buf), n).ptr;
  out.append(buf, end);
}

// Writes "2026-11-21T18:15:00.123Z" into buf and returns its length. The part down to the second is
// formatted once per second and thread: strftime on every line was a visible share of its cost.
size_t IsoTime(std::chrono::system_clock::time_point tp, char (&buf)[32]) {
  thread_local int64_t cached_secs = -1;
  thread_local char cached[24];
  thread_local size_t cached_len = 0;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  const int64_t secs = ms / 1000;
  if (secs != cached_secs) {
    const auto t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    cached_len = std::strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
    cached_secs = secs;
  }
  const int millis = static_cast<int>(ms % 1000);
  std::memcpy(buf, cached, cached_len);
  char* p = buf + cached_len;
  *p++ = '.';
  *p++ = static_cast<char>('0' + millis / 100);
  *p++ = static_cast<char>('0' + millis / 10 % 10);
  *p++ = static_cast<char>('0' + millis % 10);
  *p++ = 'Z';
  return static_cast<size_t>(p - buf);
}

// The line of one record: {"ts","level","service", then the payload's members (or "msg" for a plain
// payload)}.
void AppendLine(std::string& line, std::string_view ts, std::string_view level, std::string_view service,
                std::string_view payload) {
  line += "{\"ts\":\"";
  line += ts;
  line += "\",\"level\":";
  AppendEscaped(line, level);
  line += ",\"service\":";
  AppendEscaped(line, service);
  line += ',';
  if (!payload.empty() && payload.front() == kStructuredMarker && payload.size() > 2) {
    line.append(payload.substr(2));  // the record's members, without its opening brace
  } else {
    line += "\"msg\":";
    AppendEscaped(line, payload);
    line += '}';
  }
}

// stdout through stdio's buffer. spdlog's own stdout sink fflush()es every line, so each line cost a
// write(2) under its mutex and request threads queued on it. Here a line is built outside any lock (in
// a buffer of the thread) and handed to fwrite, whose stream lock keeps lines whole and in order; stdio
// writes the buffer when it fills (every few KB, or every line on a terminal), and flush() empties it.
// The line is always our JSON, so spdlog's pattern and formatter settings do not apply.
class BufferedJsonStdoutSink final : public spdlog::sinks::sink {
 public:
  explicit BufferedJsonStdoutSink(std::string service) : service_(std::move(service)) {}

  void log(const spdlog::details::log_msg& msg) override {
    const auto level = spdlog::level::to_string_view(msg.level);
    thread_local std::string line;
    line.clear();
    char ts[32];
    AppendLine(line, std::string_view(ts, IsoTime(msg.time, ts)),
               std::string_view(level.data(), level.size()), service_,
               std::string_view(msg.payload.data(), msg.payload.size()));
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
  void flush() override { std::fflush(stdout); }
  void set_pattern(const std::string&) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

 private:
  const std::string service_;
};

std::once_flag g_initialized;

constexpr std::chrono::seconds kFlushInterval(1);  // spdlog flushes in whole seconds

void InstallLogger(const std::string& service, spdlog::level::level_enum level) {
  auto logger = std::make_shared<spdlog::logger>(service, std::make_shared<BufferedJsonStdoutSink>(service));
  logger->set_level(level);
  // Warnings and errors reach stdout at once, with every line before them; info and debug lines within
  // kFlushInterval, and at exit. A write(2) per line cost order-api about 0.03 ms more CPU per order
  // and ~10% fewer orders per second than with logging off. glog buffers INFO the same way.
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  spdlog::flush_every(kFlushInterval);
}

void Emit(spdlog::level::level_enum level, std::string_view msg, const Fields& fields) {
  // Code that logs before (or without) Init, e.g. a test, still gets JSON lines.
  std::call_once(g_initialized, [] { InstallLogger("rainbow", spdlog::level::info); });
  auto logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  // The record is {"msg":...,<fields>}: "msg" first, then the ids in key order. Written straight
  // from the fields (no intermediate document): this runs once or twice per request.
  std::string payload(1, kStructuredMarker);
  payload += "{\"msg\":";
  payload += Escape(msg);
  if (fields.is_object() && fields.contains("msg")) {  // the message wins over a field of its name
    Fields others = fields;
    others.erase("msg");
    return Emit(level, msg, others);
  }
  if (fields.is_object() && !fields.empty()) {
    const std::string rest = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    payload += ',';
    payload.append(rest, 1);  // without the fields' opening brace; their closing one ends the record
  } else {
    payload += '}';
  }
  logger->log(level, spdlog::string_view_t(payload.data(), payload.size()));
}

void EmitList(spdlog::level::level_enum level, std::string_view msg, std::initializer_list<Field> fields) {
  std::call_once(g_initialized, [] { InstallLogger("rainbow", spdlog::level::info); });
  auto logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  thread_local std::string payload;  // reused: no allocation per line once it has grown
  payload.assign(1, kStructuredMarker);
  payload += "{\"msg\":";
  AppendEscaped(payload, msg);
  for (const auto& f : fields) {
    if (f.value.omitted() || f.key == "msg") continue;
    payload += ',';
    AppendEscaped(payload, f.key);
    payload += ':';
    f.value.AppendJson(payload);
  }
  payload += '}';
  logger->log(level, spdlog::string_view_t(payload.data(), payload.size()));
}

}  // namespace

void Value::AppendJson(std::string& out) const {
  switch (kind_) {
    case Kind::kText:
      AppendEscaped(out, text_);
      return;
    case Kind::kSigned:
      AppendNumber(out, signed_);
      return;
    case Kind::kUnsigned:
      AppendNumber(out, unsigned_);
      return;
    case Kind::kReal:
      if (std::isfinite(real_)) {
        AppendNumber(out, real_);
      } else {
        out += "null";  // JSON has no NaN or infinity (nlohmann writes null too)
      }
      return;
    case Kind::kBool:
      out += bool_ ? "true" : "false";
      return;
    case Kind::kOmitted:
      return;
  }
}

std::string FormatLine(std::string_view ts, std::string_view level, std::string_view service,
                       std::string_view payload) {
  std::string line;
  AppendLine(line, ts, level, service, payload);
  return line;
}

void Init(const std::string& service, const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    throw std::invalid_argument("LOG_LEVEL='" + level +
                                "' is not one of trace|debug|info|warn|error|critical|off");
  }
  std::call_once(g_initialized, [] {});
  InstallLogger(service, parsed);
}

void Trace(std::string_view msg, const Fields& fields) { Emit(spdlog::level::trace, msg, fields); }
void Trace(std::string_view msg, std::initializer_list<Field> fields) {
  EmitList(spdlog::level::trace, msg, fields);
}
void Debug(std::string_view msg, const Fields& fields) { Emit(spdlog::level::debug, msg, fields); }
void Debug(std::string_view msg, std::initializer_list<Field> fields) {
  EmitList(spdlog::level::debug, msg, fields);
}
void Info(std::string_view msg, const Fields& fields) { Emit(spdlog::level::info, msg, fields); }
void Info(std::string_view msg, std::initializer_list<Field> fields) {
  EmitList(spdlog::level::info, msg, fields);
}
void Warn(std::string_view msg, const Fields& fields) { Emit(spdlog::level::warn, msg, fields); }
void Warn(std::string_view msg, std::initializer_list<Field> fields) {
  EmitList(spdlog::level::warn, msg, fields);
}
void Error(std::string_view msg, const Fields& fields) { Emit(spdlog::level::err, msg, fields); }
void Error(std::string_view msg, std::initializer_list<Field> fields) {
  EmitList(spdlog::level::err, msg, fields);
}

}  // namespace rainbow::log
