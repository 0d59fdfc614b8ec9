#include "services/cdc-producer/src/value_format.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace rainbow::cdc {
namespace {

// Howard Hinnant's days_from_civil.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool Digits(size_t min, size_t max, int64_t& v) {
    v = 0;
    size_t n = 0;
    while (n < max && pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      v = v * 10 + (s_[pos_++] - '0');
      ++n;
    }
    return n >= min;
  }
  bool Char(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool Done() const { return pos_ == s_.size(); }
  std::string_view Rest() const { return s_.substr(pos_); }
  void Skip(size_t n) { pos_ += n; }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

// "HH:MM:SS[.ffffff]" -> micros of day.
bool ParseClock(Cursor& c, int64_t& micros) {
  int64_t h = 0, mi = 0, s = 0;
  if (!c.Digits(2, 2, h) || !c.Char(':') || !c.Digits(2, 2, mi) || !c.Char(':') || !c.Digits(2, 2, s))
    return false;
  int64_t frac = 0;
  if (c.Char('.')) {
    int64_t digits = 0;
    int n = 0;
    while (c.Peek() >= '0' && c.Peek() <= '9') {
      if (n < 6) {
        digits = digits * 10 + (c.Peek() - '0');
        ++n;
      }
      c.Skip(1);
    }
    if (n == 0) return false;
    while (n < 6) {
      digits *= 10;
      ++n;
    }
    frac = digits;
  }
  if (h > 24 || mi > 59 || s > 60) return false;
  micros = ((h * 60 + mi) * 60 + s) * 1'000'000 + frac;
  return true;
}

// "+HH[:MM[:SS]]" -> seconds east of UTC.
bool ParseOffset(Cursor& c, int& offset_s) {
  offset_s = 0;
  if (c.Done()) return true;
  const char sign = c.Peek();
  if (sign != '+' && sign != '-') return false;
  c.Skip(1);
  int64_t h = 0, m = 0, s = 0;
  if (!c.Digits(2, 2, h)) return false;
  if (c.Char(':') && !c.Digits(2, 2, m)) return false;
  if (c.Char(':') && !c.Digits(2, 2, s)) return false;
  offset_s = static_cast<int>((h * 3600 + m * 60 + s) * (sign == '-' ? -1 : 1));
  return true;
}

bool ParseYmd(Cursor& c, int64_t& days) {
  int64_t y = 0, m = 0, d = 0;
  if (!c.Digits(4, 7, y) || !c.Char('-') || !c.Digits(2, 2, m) || !c.Char('-') || !c.Digits(2, 2, d))
    return false;
  if (m < 1 || m > 12 || d < 1 || d > 31) return false;
  // " BC" follows the whole value; checked by the callers through a suffix.
  days = DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  return true;
}

bool EndsWithBc(std::string_view& text) {
  if (text.size() > 3 && text.substr(text.size() - 3) == " BC") {
    text.remove_suffix(3);
    return true;
  }
  return false;
}

bool IsInteger(std::string_view s) {
  size_t i = s.size() > 1 && s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

bool IsJsonNumber(std::string_view s) {
  // JSON number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size()) return false;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  } else {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  return i == s.size();
}

int Precision(int32_t type_modifier) { return type_modifier < 0 ? 6 : type_modifier; }

void AppendInt(std::string& out, int64_t v) { out += std::to_string(v); }

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of the current run of characters that need no escaping
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

bool ParseDateDays(std::string_view text, int64_t& days) {
  const bool bc = EndsWithBc(text);
  Cursor c(text);
  if (!ParseYmd(c, days) || !c.Done()) return false;
  if (bc) return false;  // BC dates are rare enough to be passed through as text
  return true;
}

bool ParseTimestampMicros(std::string_view text, int64_t& micros) {
  if (EndsWithBc(text)) return false;
  Cursor c(text);
  int64_t days = 0, clock = 0;
  int offset = 0;
  if (!ParseYmd(c, days) || !c.Char(' ') || !ParseClock(c, clock) || !ParseOffset(c, offset) || !c.Done()) {
    return false;
  }
  // Beyond ~270,000 years the microseconds would not fit in 64 bits: pass such values as text.
  if (days > 100'000'000 || days < -100'000'000) return false;
  micros = days * 86'400'000'000LL + clock - static_cast<int64_t>(offset) * 1'000'000;
  return true;
}

bool ParseTimeMicros(std::string_view text, int64_t& micros, int& offset_s) {
  Cursor c(text);
  if (!ParseClock(c, micros) || !ParseOffset(c, offset_s) || !c.Done()) return false;
  return true;
}

bool ParseIntervalMicros(std::string_view text, int64_t& micros) {
  // IntervalStyle "postgres": [N year[s]] [N mon[s]] [N day[s]] [[+-]HH:MM:SS[.f]]
  double years = 0, months = 0, days = 0;
  double clock_us = 0;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i >= text.size()) break;
    size_t j = i;
    bool neg = false;
    if (text[j] == '-' || text[j] == '+') neg = text[j++] == '-';
    const size_t digits_start = j;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
    if (j == digits_start) return false;
    if (j < text.size() && text[j] == ':') {  // the clock part
      Cursor c(text.substr(digits_start));
      int64_t us = 0;
      // Hours may exceed two digits in an interval.
      int64_t h = 0, m = 0, s = 0;
      if (!c.Digits(1, 9, h) || !c.Char(':') || !c.Digits(2, 2, m) || !c.Char(':') || !c.Digits(2, 2, s))
        return false;
      int64_t frac = 0;
      if (c.Char('.')) {
        int n = 0;
        while (c.Peek() >= '0' && c.Peek() <= '9') {
          if (n < 6) {
            frac = frac * 10 + (c.Peek() - '0');
            ++n;
          }
          c.Skip(1);
        }
        while (n < 6) {
          frac *= 10;
          ++n;
        }
      }
      if (!c.Done()) return false;
      us = ((h * 60 + m) * 60 + s) * 1'000'000 + frac;
      clock_us = static_cast<double>(neg ? -us : us);
      any = true;
      break;
    }
    double value = 0;
    for (size_t k = digits_start; k < j; ++k) value = value * 10 + (text[k] - '0');
    if (neg) value = -value;
    while (j < text.size() && text[j] == ' ') ++j;
    size_t unit_end = j;
    while (unit_end < text.size() && text[unit_end] != ' ') ++unit_end;
    const std::string_view unit = text.substr(j, unit_end - j);
    if (unit == "year" || unit == "years") {
      years = value;
    } else if (unit == "mon" || unit == "mons") {
      months = value;
    } else if (unit == "day" || unit == "days") {
      days = value;
    } else {
      return false;
    }
    any = true;
    i = unit_end;
  }
  if (!any) return false;
  // Debezium's MicroDuration: a month is 365.25/12 days.
  const double kDaysPerMonth = 365.25 / 12;
  const double total_days = (years * 12 + months) * kDaysPerMonth + days;
  const double us = total_days * 86'400'000'000.0 + clock_us;
  if (!(us > -9.0e18 && us < 9.0e18)) return false;  // would not fit in 64 bits
  micros = static_cast<int64_t>(us);
  return true;
}

std::string FormatIsoUtc(int64_t epoch_micros) { return FormatIsoUtc(epoch_micros, 0); }

std::string FormatIsoUtc(int64_t epoch_micros, int fraction_width) {
  int64_t days = epoch_micros / 86'400'000'000LL;
  int64_t rem = epoch_micros % 86'400'000'000LL;
  if (rem < 0) {
    rem += 86'400'000'000LL;
    --days;
  }
  int64_t y = 0;
  unsigned m = 0, d = 0;
  CivilFromDays(days, y, m, d);
  const int64_t secs = rem / 1'000'000;
  int64_t frac = rem % 1'000'000;
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02lld:%02lld:%02lld", static_cast<long long>(y),
                        m, d, static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                        static_cast<long long>(secs % 60));
  std::string out(buf, static_cast<size_t>(n));
  if (fraction_width > 0) {
    char f[16];
    std::snprintf(f, sizeof(f), "%06lld000", static_cast<long long>(frac));
    out += "." + std::string(f, static_cast<size_t>(std::min(fraction_width, 9)));
  } else if (frac != 0) {
    char f[8];
    std::snprintf(f, sizeof(f), "%06lld", static_cast<long long>(frac));
    std::string fs(f);
    while (!fs.empty() && fs.back() == '0') fs.pop_back();
    out += "." + fs;
  }
  out += "Z";
  return out;
}

std::string HexByteaToBase64(std::string_view text, bool& ok) {
  ok = false;
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) return {};
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes;
  bytes.reserve((text.size() - 2) / 2);
  for (size_t i = 2; i < text.size(); i += 2) {
    const int hi = nibble(text[i]);
    const int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return {};
    bytes.push_back(static_cast<char>(hi * 16 + lo));
  }
  ok = true;
  return Base64(bytes);
}

std::string Base64(std::string_view bytes) {
  static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back(kB64[v & 63]);
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kB64[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

int NumericScale(int32_t type_modifier) {
  if (type_modifier < 4) return -1;  // numeric without precision/scale
  return (type_modifier - 4) & 0xffff;
}

int NumericPrecision(int32_t type_modifier) {
  if (type_modifier < 4) return -1;
  return ((type_modifier - 4) >> 16) & 0xffff;
}

std::string MoneyToDecimal(std::string_view text) {
  std::string out;
  bool negative = false;
  for (char c : text) {
    if (c == '-' || c == '(') negative = true;
    if ((c >= '0' && c <= '9') || c == '.') out.push_back(c);
  }
  return negative ? "-" + out : out;
}

bool DecimalToBase64(std::string_view text, int scale, std::string& b64, int& scale_out) {
  bool negative = false;
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  std::string digits;
  int frac = 0;
  bool point = false, any = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.' && !point) {
      point = true;
    } else if (c >= '0' && c <= '9') {
      digits.push_back(c);
      any = true;
      if (point) ++frac;
    } else {
      return false;  // NaN, Infinity, exponent forms
    }
  }
  if (!any) return false;
  if (scale >= 0) {
    if (frac > scale) {
      digits.resize(digits.size() - static_cast<size_t>(frac - scale));  // never happens for numeric(p,s)
    } else {
      digits.append(static_cast<size_t>(scale - frac), '0');
    }
    scale_out = scale;
  } else {
    scale_out = frac;
  }
  // Decimal digits -> big-endian magnitude bytes (repeated division by 256).
  std::string mag;
  std::vector<int> num;
  for (char c : digits) {
    if (!num.empty() || c != '0') num.push_back(c - '0');
  }
  while (!num.empty()) {
    std::vector<int> q;
    int rem = 0;
    for (int d : num) {
      rem = rem * 10 + d;
      const int qd = rem / 256;
      rem %= 256;
      if (!q.empty() || qd != 0) q.push_back(qd);
    }
    mag.insert(mag.begin(), static_cast<char>(rem));
    num = std::move(q);
  }
  std::string bytes;
  if (mag.empty()) {
    bytes.assign(1, '\0');
  } else if (!negative) {
    bytes = mag;
    if (static_cast<uint8_t>(bytes[0]) & 0x80) bytes.insert(bytes.begin(), '\0');
  } else {
    bytes = mag;
    int carry = 1;
    for (size_t k = bytes.size(); k-- > 0;) {
      const int v = (~static_cast<uint8_t>(bytes[k]) & 0xff) + carry;
      bytes[k] = static_cast<char>(v & 0xff);
      carry = v >> 8;
    }
    if (!(static_cast<uint8_t>(bytes[0]) & 0x80)) bytes.insert(bytes.begin(), '\xff');
  }
  b64 = Base64(bytes);
  return true;
}

void AppendTextValue(std::string& out, uint32_t type_oid, int32_t type_modifier, std::string_view text,
                     DecimalMode mode) {
  if (type_oid != oid::kNumeric && type_oid != oid::kMoney) {
    AppendTextValue(out, type_oid, type_modifier, text);
    return;
  }
  const std::string decimal = type_oid == oid::kMoney ? MoneyToDecimal(text) : std::string(text);
  const int scale = type_oid == oid::kMoney ? kMoneyFractionDigits : NumericScale(type_modifier);
  switch (mode) {
    case DecimalMode::kString:
      AppendTextValue(out, type_oid, type_modifier, text);
      return;
    case DecimalMode::kDouble:
      if (IsJsonNumber(decimal)) {
        double d = std::strtod(decimal.c_str(), nullptr);
        char buf[40];
        auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
        std::string num(buf, end);
        if (num.find_first_of(".eE") == std::string::npos) num += ".0";
        out += num;
        return;
      }
      break;
    case DecimalMode::kPrecise: {
      std::string b64;
      int scale_out = 0;
      if (DecimalToBase64(decimal, scale, b64, scale_out)) {
        if (scale < 0) {
          out += "{\"scale\":" + std::to_string(scale_out) + ",\"value\":";
          AppendJsonString(out, b64);
          out.push_back('}');
        } else {
          AppendJsonString(out, b64);
        }
        return;
      }
      out += "null";  // NaN, Infinity: Debezium has no Decimal for them
      return;
    }
  }
  AppendJsonString(out, decimal);
}

void AppendTextValue(std::string& out, uint32_t type_oid, int32_t type_modifier, std::string_view text) {
  switch (type_oid) {
    case oid::kBool:
      if (text == "t" || text == "f") {
        out += text == "t" ? "true" : "false";
        return;
      }
      break;
    case oid::kInt2:
    case oid::kInt4:
    case oid::kInt8:
    case oid::kOid:
      if (IsInteger(text)) {
        out.append(text);
        return;
      }
      break;
    case oid::kFloat4:
    case oid::kFloat8:
      if (IsJsonNumber(text)) {
        out.append(text);
        return;
      }
      break;  // NaN, Infinity: JSON has no literal for them, so they stay strings
    case oid::kDate: {
      int64_t days = 0;
      if (ParseDateDays(text, days)) {
        AppendInt(out, days);
        return;
      }
      break;
    }
    case oid::kTimestamp: {
      int64_t us = 0;
      if (ParseTimestampMicros(text, us)) {
        // Adaptive precision: Timestamp (ms) for precision <= 3, MicroTimestamp (us) otherwise.
        const bool millis = Precision(type_modifier) <= 3;
        AppendInt(out, millis ? (us >= 0 ? us / 1000 : -((-us + 999) / 1000)) : us);
        return;
      }
      break;
    }
    case oid::kTimestamptz: {
      int64_t us = 0;
      if (ParseTimestampMicros(text, us)) {
        AppendJsonString(out, FormatIsoUtc(us));
        return;
      }
      break;
    }
    case oid::kTime: {
      int64_t us = 0;
      int offset = 0;
      if (ParseTimeMicros(text, us, offset) && offset == 0) {
        AppendInt(out, Precision(type_modifier) <= 3 ? us / 1000 : us);
        return;
      }
      break;
    }
    case oid::kTimetz: {
      int64_t us = 0;
      int offset = 0;
      if (ParseTimeMicros(text, us, offset)) {
        int64_t utc = (us - static_cast<int64_t>(offset) * 1'000'000) % 86'400'000'000LL;
        if (utc < 0) utc += 86'400'000'000LL;
        std::string iso = FormatIsoUtc(utc);  // 1970-01-01THH:MM:SS[.f]Z
        AppendJsonString(out, iso.substr(11));
        return;
      }
      break;
    }
    case oid::kInterval: {
      int64_t us = 0;
      if (ParseIntervalMicros(text, us)) {
        AppendInt(out, us);
        return;
      }
      break;
    }
    case oid::kBytea: {
      bool ok = false;
      std::string b64 = HexByteaToBase64(text, ok);
      if (ok) {
        AppendJsonString(out, b64);
        return;
      }
      break;
    }
    case oid::kMoney:
      AppendJsonString(out, MoneyToDecimal(text));
      return;
    default:
      break;  // numeric (decimal.handling.mode=string), text, uuid, json, enums, ...: strings
  }
  AppendJsonString(out, text);
}

}  // namespace rainbow::cdc
