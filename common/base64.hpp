// Base64 (RFC 4648, standard alphabet, padded), as Triton's cuda_shared_memory register body
// carries a cudaIpcMemHandle_t: {"raw_handle": {"b64": "..."}}. Boost has no public codec
// (Beast's is in a detail namespace), and the handle is 64 bytes, so a strict one is kept here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace infervisor {

// The decoded bytes, or nullopt unless `text` is canonical base64: a multiple of 4 characters of
// the standard alphabet, '=' only as final padding, and padding bits zero. No whitespace.
std::optional<std::string> decode_base64(std::string_view text);

std::string encode_base64(std::string_view bytes);

}  // namespace infervisor
