#include "services/s3-converter/src/json_tokenizer.hpp"

#include <cstring>

namespace rainbow::converter {

namespace {

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Printable(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  static const char* kHex = "0123456789ABCDEF";
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 15];
}

// Validates a number's text against the JSON grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  auto digit = [&](size_t k) { return k < n && s[k] >= '0' && s[k] <= '9'; };
  if (i < n && s[i] == '-') ++i;
  if (!digit(i)) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (digit(i)) ++i;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  return i == n;
}

bool IsNumberChar(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// Byte classes for the hot loops: bit 0 ends a plain string run ('"', '\\', control characters),
// bit 1 marks a number character.
constexpr uint8_t kStringStop = 1;
constexpr uint8_t kNumberByte = 2;
struct ByteClasses {
  uint8_t c[256] = {};
  constexpr ByteClasses() {
    for (int i = 0; i < 0x20; ++i) c[i] = kStringStop;
    c[static_cast<unsigned char>('"')] = kStringStop;
    c[static_cast<unsigned char>('\\')] = kStringStop;
    for (int i = '0'; i <= '9'; ++i) c[i] = kNumberByte;
    for (char ch : {'-', '+', '.', 'e', 'E'}) c[static_cast<unsigned char>(ch)] = kNumberByte;
  }
};
constexpr ByteClasses kClasses;

inline uint8_t ClassOf(char c) { return kClasses.c[static_cast<unsigned char>(c)]; }

}  // namespace

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path: eight bytes at a time while none has the high bit set.
    while (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, p + i, sizeof word);
      if ((word & 0x8080808080808080ull) != 0) break;
      i += 8;
    }
    if (i >= n) break;
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    uint32_t cp;
    const size_t len = DecodeUtf8(s, i, cp);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

JsonTokenizer::JsonTokenizer(JsonHandler& handler, TokenizerLimits limits)
    : handler_(handler), limits_(limits) {}

void JsonTokenizer::Fail(const std::string& message) const { throw JsonError(message, offset_); }

void JsonTokenizer::AppendToken(char c) {
  if (token_.size() >= limits_.max_token_bytes) {
    Fail("string or number longer than " + std::to_string(limits_.max_token_bytes) + " bytes");
  }
  token_.push_back(c);
}

void JsonTokenizer::AppendCodepoint(uint32_t cp) {
  char buf[4];
  size_t n;
  if (cp < 0x80) {
    buf[0] = static_cast<char>(cp);
    n = 1;
  } else if (cp < 0x800) {
    buf[0] = static_cast<char>(0xC0 | (cp >> 6));
    buf[1] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    buf[0] = static_cast<char>(0xE0 | (cp >> 12));
    buf[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[2] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    buf[0] = static_cast<char>(0xF0 | (cp >> 18));
    buf[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[3] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 4;
  }
  for (size_t i = 0; i < n; ++i) AppendToken(buf[i]);
}

void JsonTokenizer::Feed(std::string_view chunk) {
  const char* p = chunk.data();
  const char* end = p + chunk.size();
  while (p < end) {
    // Fast paths: copy a whole run of plain string characters (up to the next quote, backslash or
    // control char) or of number characters (validated as a whole at its end) in one append.
    const bool in_plain_string = state_ == State::kString && pending_high_surrogate_ == 0;
    if (in_plain_string || state_ == State::kNumber) {
      const char* q = p;
      if (in_plain_string) {
        while (q < end && (ClassOf(*q) & kStringStop) == 0) ++q;
      } else {
        while (q < end && (ClassOf(*q) & kNumberByte) != 0) ++q;
      }
      if (q > p) {
        const size_t run = static_cast<size_t>(q - p);
        if (token_.size() + run > limits_.max_token_bytes) {
          offset_ += limits_.max_token_bytes - token_.size();
          Fail("string or number longer than " + std::to_string(limits_.max_token_bytes) + " bytes");
        }
        token_.append(p, run);
        offset_ += run;
        p = q;
        continue;
      }
    }
    Step(*p);
    ++p;
    ++offset_;
  }
}

void JsonTokenizer::BeginValue(char c) {
  switch (c) {
    case '{':
      if (stack_.size() >= limits_.max_depth)
        Fail("nesting deeper than " + std::to_string(limits_.max_depth));
      stack_.push_back('{');
      handler_.StartObject();
      state_ = State::kKeyOrEnd;
      return;
    case '[':
      if (stack_.size() >= limits_.max_depth)
        Fail("nesting deeper than " + std::to_string(limits_.max_depth));
      stack_.push_back('[');
      handler_.StartArray();
      state_ = State::kValueOrEnd;
      return;
    case '"':
      token_.clear();
      string_is_key_ = false;
      state_ = State::kString;
      return;
    case 't':
      literal_ = "true";
      break;
    case 'f':
      literal_ = "false";
      break;
    case 'n':
      literal_ = "null";
      break;
    default:
      if (c == '-' || (c >= '0' && c <= '9')) {
        token_.clear();
        token_.push_back(c);
        state_ = State::kNumber;
        return;
      }
      Fail("unexpected " + Printable(c) + ", expected a value");
  }
  literal_pos_ = 1;
  state_ = State::kLiteral;
}

void JsonTokenizer::ValueDone() {
  if (stack_.empty()) {
    ++top_level_values_;
    state_ = State::kTopAfterValue;
  } else {
    state_ = State::kAfterValue;
  }
}

void JsonTokenizer::EndString() {
  if (pending_high_surrogate_ != 0) {
    pending_high_surrogate_ = 0;
    AppendCodepoint(0xFFFD);
  }
  if (!IsValidUtf8(token_)) Fail("string is not valid UTF-8");
  if (string_is_key_) {
    handler_.Key(token_);
    state_ = State::kColon;
  } else {
    handler_.String(token_);
    ValueDone();
  }
}

void JsonTokenizer::EndNumber() {
  if (!IsJsonNumber(token_)) Fail("malformed number '" + token_ + "'");
  handler_.Number(token_);
  ValueDone();
}

void JsonTokenizer::Step(char c) {
  switch (state_) {
    case State::kString:
      if (pending_high_surrogate_ != 0 && c != '\\') {
        pending_high_surrogate_ = 0;
        AppendCodepoint(0xFFFD);
      }
      if (c == '"') {
        EndString();
      } else if (c == '\\') {
        state_ = State::kEscape;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        Fail("raw control character (" + Printable(c) + ") in a string");
      } else {
        AppendToken(c);
      }
      return;
    case State::kEscape: {
      if (c == 'u') {
        unicode_value_ = 0;
        unicode_digits_ = 0;
        state_ = State::kUnicode;
        return;
      }
      if (pending_high_surrogate_ != 0) {
        pending_high_surrogate_ = 0;
        AppendCodepoint(0xFFFD);
      }
      char out;
      switch (c) {
        case '"':
          out = '"';
          break;
        case '\\':
          out = '\\';
          break;
        case '/':
          out = '/';
          break;
        case 'b':
          out = '\b';
          break;
        case 'f':
          out = '\f';
          break;
        case 'n':
          out = '\n';
          break;
        case 'r':
          out = '\r';
          break;
        case 't':
          out = '\t';
          break;
        default:
          Fail("invalid escape \\" + std::string(1, c));
      }
      AppendToken(out);
      state_ = State::kString;
      return;
    }
    case State::kUnicode: {
      const int h = HexValue(c);
      if (h < 0) Fail("invalid \\u escape: " + Printable(c) + " is not a hex digit");
      unicode_value_ = (unicode_value_ << 4) | static_cast<uint32_t>(h);
      if (++unicode_digits_ < 4) return;
      const uint32_t u = unicode_value_;
      if (u >= 0xD800 && u <= 0xDBFF) {
        if (pending_high_surrogate_ != 0) AppendCodepoint(0xFFFD);
        pending_high_surrogate_ = u;
      } else if (u >= 0xDC00 && u <= 0xDFFF) {
        if (pending_high_surrogate_ != 0) {
          AppendCodepoint(0x10000 + ((pending_high_surrogate_ - 0xD800) << 10) + (u - 0xDC00));
          pending_high_surrogate_ = 0;
        } else {
          AppendCodepoint(0xFFFD);
        }
      } else {
        if (pending_high_surrogate_ != 0) {
          AppendCodepoint(0xFFFD);
          pending_high_surrogate_ = 0;
        }
        AppendCodepoint(u);
      }
      state_ = State::kString;
      return;
    }
    case State::kNumber:
      if (IsNumberChar(c)) {
        AppendToken(c);
        return;
      }
      EndNumber();
      Step(c);  // the character after a number is a delimiter: handle it in the new state
      return;
    case State::kLiteral:
      if (literal_[literal_pos_] != c) Fail("unexpected " + Printable(c) + " in literal '" + literal_ + "'");
      if (literal_[++literal_pos_] == '\0') {
        if (literal_[0] == 'n') {
          handler_.Null();
        } else {
          handler_.Bool(literal_[0] == 't');
        }
        ValueDone();
      }
      return;
    default:
      break;
  }
  if (IsWs(c)) return;
  switch (state_) {
    case State::kValue:
    case State::kTopAfterValue:
      BeginValue(c);
      return;
    case State::kValueOrEnd:
      if (c == ']') {
        stack_.pop_back();
        handler_.EndArray();
        ValueDone();
        return;
      }
      BeginValue(c);
      return;
    case State::kKeyOrEnd:
    case State::kKey:
      if (c == '"') {
        token_.clear();
        string_is_key_ = true;
        state_ = State::kString;
        return;
      }
      if (c == '}' && state_ == State::kKeyOrEnd) {
        stack_.pop_back();
        handler_.EndObject();
        ValueDone();
        return;
      }
      Fail("unexpected " + Printable(c) + ", expected a key string");
    case State::kColon:
      if (c != ':') Fail("unexpected " + Printable(c) + ", expected ':'");
      state_ = State::kValue;
      return;
    case State::kAfterValue: {
      const char open = stack_.back();
      if (c == ',') {
        state_ = open == '{' ? State::kKey : State::kValue;
        return;
      }
      if ((open == '{' && c == '}') || (open == '[' && c == ']')) {
        stack_.pop_back();
        if (open == '{') {
          handler_.EndObject();
        } else {
          handler_.EndArray();
        }
        ValueDone();
        return;
      }
      Fail("unexpected " + Printable(c) + ", expected ',' or '" + (open == '{' ? "}" : "]") + "'");
    }
    default:
      Fail("internal tokenizer state");
  }
}

void JsonTokenizer::Finish() {
  if (state_ == State::kNumber) EndNumber();
  if (state_ == State::kTopAfterValue) return;
  if (state_ == State::kValue && stack_.empty() && top_level_values_ == 0) Fail("empty input, no JSON value");
  Fail("unexpected end of input inside a value");
}

}  // namespace rainbow::converter
