#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// Column values in PostgreSQL's text output -> JSON as Debezium's PostgreSQL connector writes them with
// the JsonConverter (schemas.enable=false) and decimal.handling.mode=string, time.precision.mode=adaptive,
// binary.handling.mode=bytes, interval.handling.mode=numeric. The mapping per type is listed in
// README.md. Pure functions; a value that does not parse as its type is written as a JSON string (never
// an exception: one odd value must not stop the stream).
namespace rainbow::cdc {

// Well-known type OIDs (pg_type.h).
namespace oid {
inline constexpr uint32_t kBool = 16, kBytea = 17, kChar = 18, kName = 19, kInt8 = 20, kInt2 = 21, kInt4 = 23,
                          kText = 25, kOid = 26, kJson = 114, kXml = 142, kFloat4 = 700, kFloat8 = 701,
                          kMoney = 790, kBpchar = 1042, kVarchar = 1043, kDate = 1082, kTime = 1083,
                          kTimestamp = 1114, kTimestamptz = 1184, kInterval = 1186, kTimetz = 1266,
                          kNumeric = 1700, kUuid = 2950, kJsonb = 3802;
}

// Appends s as a JSON string literal (quoted, escaped).
void AppendJsonString(std::string& out, std::string_view s);

// Appends the JSON form of one non-null column value given in text format.
void AppendTextValue(std::string& out, uint32_t type_oid, int32_t type_modifier, std::string_view text);

// Helpers, exposed for tests. Each returns false when the text does not parse.
bool ParseDateDays(std::string_view text, int64_t& days);           // days since 1970-01-01
bool ParseTimestampMicros(std::string_view text, int64_t& micros);  // "YYYY-MM-DD HH:MM:SS[.f][+tz]"
bool ParseTimeMicros(std::string_view text, int64_t& micros, int& offset_s);  // "HH:MM:SS[.f][+tz]"
bool ParseIntervalMicros(std::string_view text, int64_t& micros);
std::string FormatIsoUtc(int64_t epoch_micros);  // 2024-01-02T03:04:05.123456Z (fraction trimmed)
std::string HexByteaToBase64(std::string_view text, bool& ok);

}  // namespace rainbow::cdc
