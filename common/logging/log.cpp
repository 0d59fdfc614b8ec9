#include "common/logging/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <mutex>
#include <stdexcept>

namespace rainbow::log {
namespace {

// Structured records travel through spdlog as a payload that starts with this byte followed by a JSON
// object holding "msg" and the fields; plain spdlog calls (from anywhere) still come out as valid JSON.
constexpr char kStructuredMarker = '\x1f';

std::string Escape(std::string_view text) {
  // Plain text (the common case: levels, service names, messages) needs only its quotes.
  bool plain = true;
  for (const unsigned char ch : text) plain = plain && ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\';
  if (plain) return "\"" + std::string(text) + "\"";
  return nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string IsoTime(std::chrono::system_clock::time_point tp) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(buf, n) + "." + std::to_string(1000 + ms % 1000).substr(1) + "Z";
}

class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string service) : service_(std::move(service)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto level = spdlog::level::to_string_view(msg.level);
    std::string line = FormatLine(IsoTime(msg.time), std::string_view(level.data(), level.size()), service_,
                                  std::string_view(msg.payload.data(), msg.payload.size()));
    line.push_back('\n');
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(service_);
  }

 private:
  std::string service_;
};

std::once_flag g_initialized;

void InstallLogger(const std::string& service, spdlog::level::level_enum level) {
  auto logger = std::make_shared<spdlog::logger>(service, std::make_shared<spdlog::sinks::stdout_sink_mt>());
  logger->set_formatter(std::make_unique<JsonFormatter>(service));
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);  // one line per event, visible at once (containers read stdout)
  spdlog::set_default_logger(std::move(logger));
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

}  // namespace

std::string FormatLine(std::string_view ts, std::string_view level, std::string_view service,
                       std::string_view payload) {
  std::string line = "{\"ts\":\"" + std::string(ts) + "\",\"level\":" + Escape(level) +
                     ",\"service\":" + Escape(service) + ",";
  if (!payload.empty() && payload.front() == kStructuredMarker && payload.size() > 2) {
    line.append(payload.substr(2));  // the record's members, without its opening brace
  } else {
    line += "\"msg\":" + Escape(payload) + "}";
  }
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
void Debug(std::string_view msg, const Fields& fields) { Emit(spdlog::level::debug, msg, fields); }
void Info(std::string_view msg, const Fields& fields) { Emit(spdlog::level::info, msg, fields); }
void Warn(std::string_view msg, const Fields& fields) { Emit(spdlog::level::warn, msg, fields); }
void Error(std::string_view msg, const Fields& fields) { Emit(spdlog::level::err, msg, fields); }

}  // namespace rainbow::log
