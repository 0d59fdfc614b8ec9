// libFuzzer target: the replication CopyData and pgoutput decoders must reject any input with
// DecodeError and never read out of bounds. Built only with the fuzz preset (clang, RAINBOW_FUZZ=ON).
#include <cstddef>
#include <cstdint>
#include <span>

#include "services/cdc-producer/src/pgoutput_decoder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  try {
    rainbow::cdc::DecodePgOutput(bytes);
  } catch (const rainbow::cdc::DecodeError&) {
  }
  try {
    const auto msg = rainbow::cdc::DecodeCopyData(bytes);
    if (const auto* x = std::get_if<rainbow::cdc::XLogData>(&msg)) rainbow::cdc::DecodePgOutput(x->payload);
  } catch (const rainbow::cdc::DecodeError&) {
  }
  return 0;
}
