// Fuzzes the .npy reader (common/npy.hpp) with whole files, as `infervisorctl infer --input`
// reads them. InfervisorError is its documented answer to a bad file; any other exception, a
// sanitizer report, or an array that does not survive being written and read back unchanged is a
// finding.
#include <cstdint>

#include "common/error.hpp"
#include "common/npy.hpp"
#include "common/shape.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace infervisor;
  NpyArray array;
  try {
    array = parse_npy(std::as_bytes(std::span(data, size)), "fuzz.npy");
  } catch (const InfervisorError&) {
    return 0;
  }
  fuzz_check(array.dtype != DType::kBFloat16);
  fuzz_check(checked_byte_size(array.dtype, array.shape) == array.data.size());
  // What encode_npy writes, parse_npy must read back as it was.
  const auto again = parse_npy(encode_npy(array.dtype, array.shape, array.data), "re-encoded");
  fuzz_check(again.dtype == array.dtype && again.shape == array.shape && again.data == array.data);
  return 0;
}
