#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace rainbow::log {

// Extra fields of a log line: the ids that let you follow an order, an LSN or a file.
using Fields = nlohmann::json;

// Sets the default spdlog logger to write one JSON object per line to stdout:
// {"ts":"2026-11-21T18:15:00.123Z","level":"info","service":"order-api","msg":"...",<fields>}.
// level: trace|debug|info|warn|error|critical|off. Throws std::invalid_argument for another value.
// Call once from main before starting threads.
void Init(const std::string& service, const std::string& level);

// Thread-safe (spdlog's stdout sink is mutex-protected).
void Trace(std::string_view msg, const Fields& fields = Fields::object());
void Debug(std::string_view msg, const Fields& fields = Fields::object());
void Info(std::string_view msg, const Fields& fields = Fields::object());
void Warn(std::string_view msg, const Fields& fields = Fields::object());
void Error(std::string_view msg, const Fields& fields = Fields::object());

// Formats one record the way Init's formatter does; exposed for unit tests.
std::string FormatLine(std::string_view ts, std::string_view level, std::string_view service,
                       std::string_view payload);

}  // namespace rainbow::log
