// NumPy .npy files (format versions 1.0, 2.0 and 3.0), the format users keep tensors in.
// Little-endian, C-order arrays of the dtypes in dtype.hpp; bfloat16 has no NumPy descriptor and
// is refused. Errors throw InfervisorError saying what was expected and what was found.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "common/dtype.hpp"

namespace infervisor {

struct NpyArray {
  DType dtype = DType::kFloat32;
  std::vector<std::int64_t> shape;
  std::vector<std::byte> data;  // C order, little-endian, exactly element_count * dtype_size bytes
};

// Parses a whole .npy file's bytes; `origin` names it in error messages.
NpyArray parse_npy(std::span<const std::byte> bytes, std::string_view origin = "npy data");
NpyArray read_npy(const std::filesystem::path& path);

// The bytes of a version 1.0 .npy file (2.0 if the header needs it).
std::vector<std::byte> encode_npy(DType dtype, std::span<const std::int64_t> shape,
                                  std::span<const std::byte> data);
void write_npy(const std::filesystem::path& path, DType dtype, std::span<const std::int64_t> shape,
               std::span<const std::byte> data);

}  // namespace infervisor
