#include "bench/e2e/infer_payload.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <cmath>
#include <cstring>

#include "client/kserve_request.hpp"

namespace infervisor::bench::e2e {
namespace {

// Varied values, not zeros: JSON parsing cost depends on how long the numbers are written.
client::Tensor input_tensor(const std::vector<std::int64_t>& shape) {
  client::Tensor tensor{"x", DType::kFloat32, shape, {}};
  std::size_t elements = 1;
  for (const auto dim : shape)
    elements *= static_cast<std::size_t>(dim);
  tensor.data.resize(elements * sizeof(float));
  for (std::size_t i = 0; i < elements; ++i) {
    const float value = std::sin(0.1f * static_cast<float>(i % 4096));
    std::memcpy(tensor.data.data() + i * sizeof(float), &value, sizeof(float));
  }
  return tensor;
}

}  // namespace

std::vector<std::byte> input_bytes(const std::vector<std::int64_t>& shape) {
  return input_tensor(shape).data;
}

InferPayload make_region_payload(const PayloadShape& shape, std::string_view input_region,
                                 std::string_view output_region) {
  std::size_t input_elements = 1;
  for (const auto dim : shape.shape)
    input_elements *= static_cast<std::size_t>(dim);
  const std::string body =
      fmt::format(R"({{"inputs":[{{"name":"x","datatype":"FP32","shape":[{}],"parameters":)"
                  R"({{"shared_memory_region":"{}","shared_memory_byte_size":{}}}}}],)"
                  R"("outputs":[{{"name":"y","parameters":{{"shared_memory_region":"{}",)"
                  R"("shared_memory_byte_size":{}}}}}]}})",
                  fmt::join(shape.shape, ","), input_region, input_elements * sizeof(float),
                  output_region, shape.output_elements * sizeof(float));
  const std::string headers = fmt::format(
      "POST {}/infer HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\n\r\n",
      client::model_target(shape.model), body.size());
  return {TensorEncoding::kSharedMemory, headers + body, shape.output_elements * sizeof(float)};
}

InferPayload make_infer_payload(TensorEncoding encoding, const PayloadShape& shape) {
  client::InferRequest request;
  request.model = shape.model;
  request.inputs.push_back(input_tensor(shape.shape));
  request.binary = encoding == TensorEncoding::kBinary;
  // Same encoder as infervisor_client: binary mode also asks for binary outputs.
  const auto encoded = client::encode_infer_request(request);
  std::string body = encoded.json;
  for (const auto part : encoded.binary_parts) {
    body.append(reinterpret_cast<const char*>(part.data()), part.size());
  }
  std::string headers = fmt::format(
      "POST {}/infer HTTP/1.1\r\n"
      "Host: localhost\r\n"
      "Content-Type: {}\r\n"
      "Content-Length: {}\r\n",
      client::model_target(shape.model),
      encoded.binary ? "application/octet-stream" : "application/json", body.size());
  if (encoded.binary) {
    headers += fmt::format("Inference-Header-Content-Length: {}\r\n", encoded.json.size());
  }
  return {encoding, headers + "\r\n" + body, shape.output_elements * sizeof(float)};
}

std::string check_reply(const InferPayload& payload, unsigned status,
                        std::optional<std::string_view> header_length, std::size_t body_size) {
  if (status != 200) return fmt::format("status {}", status);
  if (payload.encoding == TensorEncoding::kJson) {
    return body_size > 0 ? std::string() : "an empty body";
  }
  if (payload.encoding == TensorEncoding::kSharedMemory) {
    // The output is in the region: the reply is its description alone.
    if (header_length) return "binary data in a reply whose output went to shared memory";
    return body_size > 0 && body_size < 4096 ? std::string()
                                             : fmt::format("a {}-byte reply", body_size);
  }
  if (!header_length) return "no Inference-Header-Content-Length in a binary reply";
  std::size_t json_bytes = 0;
  const auto [end, ec] = std::from_chars(header_length->data(),
                                         header_length->data() + header_length->size(), json_bytes);
  if (ec != std::errc() || end != header_length->data() + header_length->size()) {
    return fmt::format("Inference-Header-Content-Length '{}'", *header_length);
  }
  if (json_bytes + payload.output_bytes != body_size) {
    return fmt::format(
        "a {}-byte body with a {}-byte JSON header; expected {} output bytes after it", body_size,
        json_bytes, payload.output_bytes);
  }
  return {};
}

}  // namespace infervisor::bench::e2e
