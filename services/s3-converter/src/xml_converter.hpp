#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "services/s3-converter/src/json_tokenizer.hpp"

namespace rainbow::converter {

// The XML shape (shared/DESIGN.md, "Files"). Defaults give the seed's shape.
struct XmlOptions {
  std::string root_name = "products";
  std::string record_name = "product";
  // A list under key K holds one <item_names[K]> per item; keys not listed use default_item_name.
  std::map<std::string, std::string> item_names = {{"countryOfOrigin", "entry"},
                                                   {"itemSellingPrices", "price"},
                                                   {"itemGrossPrices", "price"},
                                                   {"fabricCompositions", "composition"}};
  std::string default_item_name = "item";
  TokenizerLimits limits;
  size_t flush_bytes = 64u << 10;  // output is handed to the sink in chunks of about this size
};

// Parses "countryOfOrigin=entry,itemSellingPrices=price" (CONVERTER_ITEM_NAMES); throws
// std::invalid_argument on a malformed entry. Names are sanitized like element names.
std::map<std::string, std::string> ParseItemNames(std::string_view spec);

// The input is valid JSON but not an array of objects or a sequence of objects (JSON lines).
class ShapeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A JSON key as an XML element name, deterministically: ASCII letters, digits, '_', '-' and '.' are
// kept; any other character (and a first character that cannot start a name: digit, '-', '.') becomes
// _xHHHH_ (its Unicode code point in upper-case hex, at least 4 digits, as in XmlConvert.EncodeName);
// the empty key becomes "_". Colons are encoded too (no namespaces).
std::string SanitizeElementName(std::string_view key);

// Appends `text` to `out` escaped for XML character data: & < > " ' as entities, TAB/LF/CR as
// character references (so they survive parsing unchanged), and the characters XML 1.0 cannot hold
// at all (other C0 controls, U+FFFE, U+FFFF) replaced by U+FFFD. `text` must be valid UTF-8.
void AppendEscapedText(std::string& out, std::string_view text);

// Streaming JSON -> XML: feed JSON chunks, receive XML chunks through the sink, in order, as soon as
// about flush_bytes are ready. Memory is bounded by the tokenizer limits and flush_bytes.
// Input shape: a JSON array of objects, or objects one after another (JSON lines); each object is one
// <record_name> element, keys become child elements in source order, a nested object becomes an
// element holding its fields, an array becomes an element holding one item element per value, null
// and empty containers become empty elements (<k/>), strings are escaped text, numbers keep their
// source text, booleans are true/false. Output:
//   <?xml version="1.0" encoding="UTF-8"?>\n<products>\n  <product>\n    <ean>1</ean>\n ...
// Threading: one thread at a time. Feed/Finish throw JsonError or ShapeError (and whatever the sink
// throws).
class XmlConverter {
 public:
  using Sink = std::function<void(std::string_view)>;
  XmlConverter(XmlOptions options, Sink sink);
  // Receives each full output buffer and may take its bytes without copying them (swap the string
  // with an empty one of any capacity); the converter then writes on into whatever it was left with.
  using BufferSink = std::function<void(std::string& buffer)>;
  struct TakeBuffers {};
  XmlConverter(XmlOptions options, TakeBuffers, BufferSink sink);
  ~XmlConverter();
  XmlConverter(const XmlConverter&) = delete;
  XmlConverter& operator=(const XmlConverter&) = delete;

  void Feed(std::string_view json);
  // Ends the input, closes the document and flushes the rest to the sink.
  void Finish();

  uint64_t records() const;
  uint64_t bytes_in() const;
  uint64_t bytes_out() const;

 private:
  class Handler;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<JsonTokenizer> tokenizer_;
  uint64_t bytes_in_ = 0;
};

// Converts a whole document in memory (tests, the fuzzer, the benchmark).
std::string ConvertToXml(std::string_view json, const XmlOptions& options = {});

}  // namespace rainbow::converter
