#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rainbow::converter {

// Receives the tokens of a JSON text in document order. String values and keys arrive decoded
// (escapes resolved) as valid UTF-8; numbers arrive as their validated source text (so "55.0" stays
// "55.0"). The views are valid only during the call.
class JsonHandler {
 public:
  virtual ~JsonHandler() = default;
  virtual void StartObject() = 0;
  virtual void EndObject() = 0;
  virtual void StartArray() = 0;
  virtual void EndArray() = 0;
  virtual void Key(std::string_view key) = 0;
  virtual void String(std::string_view value) = 0;
  virtual void Number(std::string_view text) = 0;
  virtual void Bool(bool value) = 0;
  virtual void Null() = 0;
};

// Malformed JSON; offset is the byte position (from 0) in the whole input where it was detected.
class JsonError : public std::runtime_error {
 public:
  JsonError(const std::string& message, uint64_t offset)
      : std::runtime_error("invalid JSON at byte " + std::to_string(offset) + ": " + message),
        offset_(offset) {}
  uint64_t offset() const { return offset_; }

 private:
  uint64_t offset_;
};

struct TokenizerLimits {
  size_t max_depth = 256;              // nesting of objects/arrays
  size_t max_token_bytes = 16u << 20;  // one string, key or number; bounds memory for hostile input
};

// An incremental (push) JSON tokenizer (RFC 8259): feed the input in chunks of any size, split
// anywhere (inside strings, escapes, numbers, UTF-8 sequences); tokens go to the handler as soon as
// they are complete. Memory is bounded by the nesting depth and the longest single token, never by
// the input size. Accepts a sequence of top-level values separated by whitespace (so JSON lines work;
// callers decide which shapes they accept). Rejects invalid UTF-8 and raw control characters in
// strings, invalid escapes, leading zeros, and trailing garbage. Lone UTF-16 surrogates written as
// \uD800-style escapes decode to U+FFFD.
//
// Threading: one thread at a time. Exceptions thrown by the handler propagate out of Feed/Finish;
// after any exception the tokenizer must not be fed again.
class JsonTokenizer {
 public:
  explicit JsonTokenizer(JsonHandler& handler, TokenizerLimits limits = {});

  void Feed(std::string_view chunk);
  // Signals the end of input; throws JsonError if it ends inside a value or holds no value at all.
  void Finish();

  uint64_t offset() const { return offset_; }
  uint64_t top_level_values() const { return top_level_values_; }

 private:
  enum class State : uint8_t {
    kValue,          // expecting a value (top level or after ':' / ',' in an array)
    kValueOrEnd,     // after '[': a value or ']'
    kKeyOrEnd,       // after '{': a key or '}'
    kKey,            // after ',' in an object: a key
    kColon,          // after a key
    kAfterValue,     // after a value inside a container: ',' or the closing bracket
    kTopAfterValue,  // after a complete top-level value: whitespace or another value
    kString,         // inside a string (value or key)
    kEscape,         // after a backslash
    kUnicode,        // inside \uXXXX
    kNumber,         // inside a number
    kLiteral,        // inside true / false / null
  };

  void Step(char c);
  void BeginValue(char c);
  void ValueDone();
  void EndString();
  void EndNumber();
  void AppendToken(char c);
  void AppendCodepoint(uint32_t cp);
  [[noreturn]] void Fail(const std::string& message) const;

  JsonHandler& handler_;
  TokenizerLimits limits_;
  State state_ = State::kValue;
  std::vector<char> stack_;  // '{' or '['
  std::string token_;
  bool string_is_key_ = false;
  uint32_t unicode_value_ = 0;
  int unicode_digits_ = 0;
  uint32_t pending_high_surrogate_ = 0;
  const char* literal_ = nullptr;  // "true", "false" or "null"
  size_t literal_pos_ = 0;
  uint64_t offset_ = 0;
  uint64_t top_level_values_ = 0;
};

// Decodes the UTF-8 sequence at s[i] into `cp` and returns its length (1-4), or 0 when it is not
// well-formed (truncated, a bad lead or continuation byte, an overlong, a surrogate, above U+10FFFF).
inline size_t DecodeUtf8(std::string_view s, size_t i, uint32_t& cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t len;
  if (c < 0x80) {
    cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto next = static_cast<unsigned char>(s[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (next & 0x3F);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);

}  // namespace rainbow::converter
