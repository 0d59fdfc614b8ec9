#include "services/s3-converter/src/xml_converter.hpp"

#include <algorithm>
#include <unordered_map>

namespace rainbow::converter {

namespace {

constexpr std::string_view kDeclaration = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
constexpr size_t kNameCacheMax = 4096;

bool IsNameStartAscii(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool IsNameAscii(unsigned char c) {
  return IsNameStartAscii(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

void AppendCodepointHex(std::string& out, uint32_t cp) {
  static const char* kHex = "0123456789ABCDEF";
  std::string digits;
  while (cp != 0 || digits.size() < 4) {
    digits.insert(digits.begin(), kHex[cp & 15]);
    cp >>= 4;
  }
  out += "_x";
  out += digits;
  out += '_';
}

}  // namespace

std::string SanitizeElementName(std::string_view key) {
  if (key.empty()) return "_";
  std::string out;
  out.reserve(key.size());
  size_t i = 0;
  while (i < key.size()) {
    const auto c = static_cast<unsigned char>(key[i]);
    const bool ok = out.empty() ? IsNameStartAscii(c) : IsNameAscii(c);
    if (ok) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    uint32_t cp = 0;
    i += std::max<size_t>(1, DecodeUtf8(key, i, cp));  // keys were validated; 1 keeps going regardless
    AppendCodepointHex(out, cp);
  }
  return out;
}

namespace {

// Bytes AppendEscapedText must look at: the escaped characters, C0 controls and 0xEF (the lead
// byte of U+FFFE / U+FFFF); every other byte is copied as is.
struct EscapeTable {
  bool special[256] = {};
  constexpr EscapeTable() {
    for (int i = 0; i < 0x20; ++i) special[i] = true;
    for (unsigned char c : {'&', '<', '>', '"', '\''}) special[c] = true;
    special[0xEF] = true;
  }
};
constexpr EscapeTable kEscape;

// A key that is already a valid element name (SanitizeElementName returns it unchanged).
bool IsPlainName(std::string_view key) {
  if (key.empty() || !IsNameStartAscii(static_cast<unsigned char>(key[0]))) return false;
  for (const char c : key) {
    if (!IsNameAscii(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

void AppendEscapedText(std::string& out, std::string_view text) {
  size_t run = 0;
  const size_t n = text.size();
  for (size_t i = 0; i < n; ++i) {
    while (i < n && !kEscape.special[static_cast<unsigned char>(text[i])]) ++i;
    if (i == n) break;
    const auto c = static_cast<unsigned char>(text[i]);
    const char* rep = nullptr;
    switch (c) {
      case '&':
        rep = "&amp;";
        break;
      case '<':
        rep = "&lt;";
        break;
      case '>':
        rep = "&gt;";
        break;
      case '"':
        rep = "&quot;";
        break;
      case '\'':
        rep = "&apos;";
        break;
      case '\t':
        rep = "&#9;";
        break;
      case '\n':
        rep = "&#10;";
        break;
      case '\r':
        rep = "&#13;";
        break;
      case 0xEF:
        // U+FFFE / U+FFFF (EF BF BE / EF BF BF) are not XML characters.
        if (i + 2 < n && static_cast<unsigned char>(text[i + 1]) == 0xBF &&
            (static_cast<unsigned char>(text[i + 2]) == 0xBE ||
             static_cast<unsigned char>(text[i + 2]) == 0xBF)) {
          out.append(text.data() + run, i - run);
          out += "\xEF\xBF\xBD";
          i += 2;
          run = i + 1;
        }
        continue;
      default:
        if (c < 0x20) rep = "\xEF\xBF\xBD";
        break;
    }
    if (rep != nullptr) {
      out.append(text.data() + run, i - run);
      out += rep;
      run = i + 1;
    }
  }
  out.append(text.data() + run, n - run);
}

std::map<std::string, std::string> ParseItemNames(std::string_view spec) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    if (comma == std::string_view::npos) comma = spec.size();
    std::string_view entry = spec.substr(pos, comma - pos);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    if (!entry.empty()) {
      const size_t eq = entry.find('=');
      if (eq == std::string_view::npos || eq == 0 || eq + 1 == entry.size()) {
        throw std::invalid_argument("item name entry '" + std::string(entry) + "' is not key=name");
      }
      out[std::string(entry.substr(0, eq))] = SanitizeElementName(entry.substr(eq + 1));
    }
    pos = comma + 1;
  }
  return out;
}

class XmlConverter::Handler final : public JsonHandler {
 public:
  Handler(XmlOptions options, Sink sink, BufferSink buffer_sink)
      : options_(std::move(options)), sink_(std::move(sink)), buffer_sink_(std::move(buffer_sink)) {
    root_name_ = SanitizeElementName(options_.root_name);
    record_name_ = SanitizeElementName(options_.record_name);
    default_item_ = SanitizeElementName(options_.default_item_name);
    out_.reserve(options_.flush_bytes + 4096);
    out_ += kDeclaration;
  }

  void StartObject() override {
    if (frames_.empty()) {
      if (mode_ == Mode::kArray) throw ShapeError("unexpected value after the top-level array");
      mode_ = Mode::kLines;
      StartRecord();
      return;
    }
    Frame& parent = frames_.back();
    if (parent.kind == Kind::kTopArray) {
      StartRecord();
      return;
    }
    StartContainer(Kind::kObject);
  }

  void EndObject() override { EndContainer(); }

  void StartArray() override {
    if (frames_.empty()) {
      if (mode_ == Mode::kArray) throw ShapeError("unexpected value after the top-level array");
      if (mode_ == Mode::kLines) throw ShapeError(LinesShapeMessage("an array"));
      mode_ = Mode::kArray;
      frames_.push_back({Kind::kTopArray, {}, {}, 0, false});
      return;
    }
    if (frames_.back().kind == Kind::kTopArray) throw ShapeError(ArrayItemShapeMessage("an array"));
    StartContainer(Kind::kArray);
  }

  void EndArray() override {
    if (frames_.back().kind == Kind::kTopArray) {
      frames_.pop_back();
      return;
    }
    EndContainer();
  }

  void Key(std::string_view key) override {
    key_.assign(key.data(), key.size());
    key_is_name_ = IsPlainName(key_);
  }

  void String(std::string_view value) override {
    const Scalar s = BeginScalar("a string");
    AppendEscapedText(out_, value);
    EndScalar(s);
  }
  void Number(std::string_view text) override {
    const Scalar s = BeginScalar("a number");
    out_.append(text);
    EndScalar(s);
  }
  void Bool(bool value) override {
    const Scalar s = BeginScalar("a boolean");
    out_ += value ? "true" : "false";
    EndScalar(s);
  }
  void Null() override {
    if (CheckTopLevelScalar("null")) return;
    const std::string& name = ChildName();
    OpenParent();
    Indent(frames_.back().level + 1);
    out_ += '<';
    out_ += name;
    out_ += "/>\n";
    MaybeFlush();
  }

  void Finish() {
    if (!root_open_) {
      out_ += '<' + root_name_ + "/>\n";
    } else {
      out_ += "</" + root_name_ + ">\n";
    }
    Flush();
  }

  uint64_t records() const { return records_; }
  uint64_t bytes_out() const { return bytes_out_; }

 private:
  enum class Mode { kUnknown, kArray, kLines };
  enum class Kind { kTopArray, kRecord, kObject, kArray };
  struct Frame {
    Kind kind;
    std::string name;       // element name (sanitized)
    std::string item_name;  // arrays: the element name of each item
    int level;              // indentation level of this element
    bool open_written;      // "<name>\n" emitted (else still pending: may become "<name/>")
  };
  struct Scalar {
    const std::string* name;
  };

  std::string LinesShapeMessage(const char* what) const {
    return "top-level value " + std::to_string(records_ + 1) + " is " + what +
           "; JSON lines input must hold one object per value";
  }
  std::string ArrayItemShapeMessage(const char* what) const {
    return "item " + std::to_string(records_ + 1) + " of the top-level array is " + what +
           ", expected an object";
  }

  // True (after throwing for bad shapes) never: returns false when the scalar is inside a record.
  bool CheckTopLevelScalar(const char* what) {
    if (frames_.empty()) {
      if (mode_ == Mode::kArray) throw ShapeError("unexpected value after the top-level array");
      throw ShapeError(std::string("top-level value is ") + what +
                       "; expected a JSON array of objects or JSON lines of objects");
    }
    if (frames_.back().kind == Kind::kTopArray) throw ShapeError(ArrayItemShapeMessage(what));
    return false;
  }

  Scalar BeginScalar(const char* what) {
    CheckTopLevelScalar(what);
    const std::string& name = ChildName();
    OpenParent();
    Indent(frames_.back().level + 1);
    out_ += '<';
    out_ += name;
    out_ += '>';
    return {&name};
  }
  void EndScalar(const Scalar& s) {
    out_ += "</";
    out_ += *s.name;
    out_ += ">\n";
    MaybeFlush();
  }

  // The element name of a value in the current container (a reference valid until the next call).
  const std::string& ChildName() {
    const Frame& parent = frames_.back();
    if (parent.kind == Kind::kArray) return parent.item_name;
    return SanitizedKey(key_);
  }

  const std::string& SanitizedKey(const std::string& key) {
    if (&key == &key_ && key_is_name_) return key_;
    auto it = names_.find(key);
    if (it != names_.end()) return it->second;
    if (names_.size() >= kNameCacheMax) names_.clear();
    return names_.emplace(key, SanitizeElementName(key)).first->second;
  }

  void StartRecord() {
    if (!root_open_) {
      out_ += '<' + root_name_ + ">\n";
      root_open_ = true;
    }
    ++records_;
    frames_.push_back({Kind::kRecord, record_name_, {}, 1, false});
  }

  void StartContainer(Kind kind) {
    Frame& parent = frames_.back();
    std::string item_name = default_item_;
    std::string name;
    if (parent.kind == Kind::kArray) {
      name = parent.item_name;
    } else {
      name = SanitizedKey(key_);
      if (kind == Kind::kArray) {
        auto it = options_.item_names.find(key_);
        if (it != options_.item_names.end()) item_name = it->second;
      }
    }
    OpenParent();
    const int level = frames_.back().level + 1;
    frames_.push_back({kind, std::move(name), std::move(item_name), level, false});
  }

  void EndContainer() {
    Frame& f = frames_.back();
    Indent(f.level);
    if (f.open_written) {
      out_ += "</";
      out_ += f.name;
      out_ += ">\n";
    } else {
      out_ += '<';
      out_ += f.name;
      out_ += "/>\n";
    }
    frames_.pop_back();
    MaybeFlush();
  }

  void OpenParent() {
    Frame& f = frames_.back();
    if (f.open_written) return;
    Indent(f.level);
    out_ += '<';
    out_ += f.name;
    out_ += ">\n";
    f.open_written = true;
  }

  void Indent(int level) { out_.append(static_cast<size_t>(level) * 2, ' '); }

  void MaybeFlush() {
    if (out_.size() >= options_.flush_bytes) Flush();
  }
  void Flush() {
    if (out_.empty()) return;
    bytes_out_ += out_.size();
    if (buffer_sink_) {
      buffer_sink_(out_);  // may swap out_ for an empty buffer of any capacity
      out_.clear();
      out_.reserve(options_.flush_bytes + 4096);
    } else {
      sink_(out_);
      out_.clear();
    }
  }

  XmlOptions options_;
  Sink sink_;
  BufferSink buffer_sink_;  // when set, used instead of sink_
  std::string root_name_;
  std::string record_name_;
  std::string default_item_;
  std::string out_;
  std::string key_;
  bool key_is_name_ = false;  // key_ is a valid element name as is (no cache lookup needed)
  std::vector<Frame> frames_;
  std::unordered_map<std::string, std::string> names_;
  Mode mode_ = Mode::kUnknown;
  bool root_open_ = false;
  uint64_t records_ = 0;
  uint64_t bytes_out_ = 0;
};

XmlConverter::XmlConverter(XmlOptions options, Sink sink) {
  const TokenizerLimits limits = options.limits;
  handler_ = std::make_unique<Handler>(std::move(options), std::move(sink), nullptr);
  tokenizer_ = std::make_unique<JsonTokenizer>(*handler_, limits);
}

XmlConverter::XmlConverter(XmlOptions options, TakeBuffers, BufferSink sink) {
  const TokenizerLimits limits = options.limits;
  handler_ = std::make_unique<Handler>(std::move(options), nullptr, std::move(sink));
  tokenizer_ = std::make_unique<JsonTokenizer>(*handler_, limits);
}

XmlConverter::~XmlConverter() = default;

void XmlConverter::Feed(std::string_view json) {
  bytes_in_ += json.size();
  tokenizer_->Feed(json);
}

void XmlConverter::Finish() {
  tokenizer_->Finish();
  handler_->Finish();
}

uint64_t XmlConverter::records() const { return handler_->records(); }
uint64_t XmlConverter::bytes_in() const { return bytes_in_; }
uint64_t XmlConverter::bytes_out() const { return handler_->bytes_out(); }

std::string ConvertToXml(std::string_view json, const XmlOptions& options) {
  std::string out;
  XmlConverter converter(options, [&out](std::string_view chunk) { out.append(chunk); });
  converter.Feed(json);
  converter.Finish();
  return out;
}

}  // namespace rainbow::converter
