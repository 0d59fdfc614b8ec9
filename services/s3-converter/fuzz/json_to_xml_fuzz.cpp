// libFuzzer target for the streaming JSON -> XML converter. For any input it checks that
//  - conversion either succeeds or throws JsonError / ShapeError (nothing else, no crash, no leak),
//  - the result does not depend on how the input is split into chunks (the first input byte picks a
//    chunk size), and
//  - a successful output is plausible XML: the declaration, then only characters XML 1.0 allows
//    (no C0 control characters except TAB/LF/CR, which the writer emits as references anyway).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "services/s3-converter/src/xml_converter.hpp"

namespace {

using rainbow::converter::JsonError;
using rainbow::converter::ShapeError;
using rainbow::converter::XmlConverter;
using rainbow::converter::XmlOptions;

// Returns the XML, or "!error" when the converter rejected the input.
std::string Run(std::string_view json, size_t chunk) {
  XmlOptions options;
  options.flush_bytes = 64;
  options.limits.max_depth = 64;
  options.limits.max_token_bytes = 4096;
  std::string out;
  try {
    XmlConverter c(options, [&](std::string_view s) { out.append(s); });
    for (size_t i = 0; i < json.size(); i += chunk) c.Feed(json.substr(i, chunk));
    c.Finish();
  } catch (const JsonError&) {
    return "!error";
  } catch (const ShapeError&) {
    return "!error";
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 17;
  const std::string_view json(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string whole = Run(json, json.size() + 1);
  const std::string pieces = Run(json, chunk);
  if (whole != pieces) std::abort();  // chunking changed the result
  if (whole == "!error") return 0;
  if (whole.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 0) != 0) std::abort();
  for (unsigned char c : whole) {
    if (c < 0x20 && c != '\n') std::abort();  // text escapes TAB/LF/CR and replaces other controls
  }
  return 0;
}
