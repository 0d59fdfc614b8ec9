// libFuzzer target: a Kafka message as the loader reads it (key and value from the input, split at the
// first NUL; no NUL: no key) through the event parser and the model's type checks. Anything but a
// PoisonError escaping, a crash or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "services/loader/src/change_event.hpp"
#include "services/loader/src/model_types.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  rainbow::kafka::ConsumedMessage m;
  m.topic = "rainbow.public.orderdetails";
  m.partition = 0;
  m.offset = 1;
  const auto nul = input.find('\0');
  if (nul == std::string::npos) {
    m.value = input;
  } else {
    m.key = input.substr(0, nul);
    m.value = input.substr(nul + 1);
  }
  try {
    const auto event = rainbow::loader::ParseChangeEvent(m);
    rainbow::loader::CheckModelTypes(event);
  } catch (const rainbow::loader::PoisonError&) {
  }
  return 0;
}
