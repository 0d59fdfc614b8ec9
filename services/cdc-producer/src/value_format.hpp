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

// Debezium's decimal.handling.mode for numeric and money columns.
enum class DecimalMode {
  kPrecise,  // org.apache.kafka.connect.data.Decimal (base64 two's complement bytes), or
             // io.debezium.data.VariableScaleDecimal {scale, value} for numeric without a scale
  kString,   // the plain decimal text ("12.50")
  kDouble,   // a JSON number
};

// Appends s as a JSON string literal (quoted, escaped).
void AppendJsonString(std::string& out, std::string_view s);

// Appends the JSON form of one non-null column value given in text format (decimals as strings).
void AppendTextValue(std::string& out, uint32_t type_oid, int32_t type_modifier, std::string_view text);
// The same, numeric and money in the given decimal mode.
void AppendTextValue(std::string& out, uint32_t type_oid, int32_t type_modifier, std::string_view text,
                     DecimalMode mode);

// money's scale (Debezium's money.fraction.digits default).
inline constexpr int kMoneyFractionDigits = 2;
// numeric's declared scale from its type modifier, or -1 for a numeric without one.
int NumericScale(int32_t type_modifier);
int NumericPrecision(int32_t type_modifier);
// "-12.50" at scale 2 -> base64 of the unscaled value's big-endian two's complement (Java's
// BigInteger.toByteArray, as Connect's Decimal); scale < 0 keeps the text's own scale, returned in
// `scale_out`. False when the text is not a finite decimal.
bool DecimalToBase64(std::string_view text, int scale, std::string& b64, int& scale_out);
// "$1,234.56" / "-$3.00" -> "1234.56" / "-3.00".
std::string MoneyToDecimal(std::string_view text);
std::string Base64(std::string_view bytes);

// Helpers, exposed for tests. Each returns false when the text does not parse.
bool ParseDateDays(std::string_view text, int64_t& days);           // days since 1970-01-01
bool ParseTimestampMicros(std::string_view text, int64_t& micros);  // "YYYY-MM-DD HH:MM:SS[.f][+tz]"
bool ParseTimeMicros(std::string_view text, int64_t& micros, int& offset_s);  // "HH:MM:SS[.f][+tz]"
bool ParseIntervalMicros(std::string_view text, int64_t& micros);
std::string FormatIsoUtc(int64_t epoch_micros);  // 2024-01-02T03:04:05.123456Z (fraction trimmed)
// With a fixed fraction width (Debezium's ZonedTimestamp for timestamptz(p): p digits, 6 by default);
// width <= 0 trims as above.
std::string FormatIsoUtc(int64_t epoch_micros, int fraction_width);
std::string HexByteaToBase64(std::string_view text, bool& ok);

}  // namespace rainbow::cdc
