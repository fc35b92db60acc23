// The one request every load-generator connection sends, built once: by default POST
// /v2/models/mlp/infer with a batch-1 [1, 256] FP32 input, as raw HTTP/1.1 bytes ready to write.
// Building it per request would put the client's encoding cost into the daemon's numbers on a
// shared CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace infervisor::bench::e2e {

enum class TensorEncoding {
  kBinary,  // the binary tensor data extension, both ways
  kJson,    // JSON `data` arrays, both ways
  // The input in a registered client shared-memory region, the output written into another
  // (region_tensors.hpp): a small JSON request and reply, no tensor bytes on the socket.
  kSharedMemory,
};

struct InferPayload {
  TensorEncoding encoding = TensorEncoding::kBinary;
  std::string http_request;  // request line, headers and body
  std::size_t output_bytes = 0;
};

// One FP32 input `x` of `shape` for `model`, whose one FP32 output has `output_elements`.
struct PayloadShape {
  std::string model = "mlp";
  std::vector<std::int64_t> shape{1, 256};
  std::size_t output_elements = 256;
};

InferPayload make_infer_payload(TensorEncoding encoding, const PayloadShape& shape = {});

// kSharedMemory: input x in region `input_region` (at offset 0), output y into `output_region`.
InferPayload make_region_payload(const PayloadShape& shape, std::string_view input_region,
                                 std::string_view output_region);

// The values make_infer_payload sends for `shape` (varied, not zeros), as bytes.
std::vector<std::byte> input_bytes(const std::vector<std::int64_t>& shape);

// Empty if a reply with this status, Inference-Header-Content-Length and body size is what the
// request must get (200; in binary, a JSON header then exactly the output's bytes);
// otherwise what is wrong.
std::string check_reply(const InferPayload& payload, unsigned status,
                        std::optional<std::string_view> header_length, std::size_t body_size);

}  // namespace infervisor::bench::e2e
