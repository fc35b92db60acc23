#include "client/kserve_request.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdint>
#include <set>

#include "client/json_tensor.hpp"
#include "common/base64.hpp"
#include "common/error.hpp"
#include "common/shape.hpp"

namespace infervisor::client {
namespace json = boost::json;
namespace {

[[noreturn]] void invalid(std::string message) {
  throw InfervisorError(ErrorCode::kInvalidArgument, std::move(message));
}

std::string percent_encode(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' ||
                            byte == '_' || byte == '~';
    out += unreserved ? std::string(1, c) : fmt::format("%{:02X}", byte);
  }
  return out;
}

void check_names(std::span<const std::string> names, std::string_view kind) {
  std::set<std::string_view> seen;
  for (const auto& name : names) {
    if (name.empty()) invalid(fmt::format("an {} has an empty name", kind));
    if (!seen.insert(name).second) invalid(fmt::format("{} '{}' is given twice", kind, name));
  }
}

void check_region(const RegionRef& ref, std::string_view what) {
  if (ref.region.empty()) invalid(fmt::format("{}: its shared-memory region has no name", what));
  if (ref.offset > UINT64_MAX - ref.byte_size) {
    invalid(fmt::format("{}: offset {} + byte_size {} in region '{}' overflows 64 bits", what,
                        ref.offset, ref.byte_size, ref.region));
  }
}

// Triton's three parameters that put a tensor in a registered region.
json::object region_parameters(const RegionRef& ref) {
  return {{"shared_memory_region", ref.region},
          {"shared_memory_byte_size", ref.byte_size},
          {"shared_memory_offset", ref.offset}};
}

json::object encode_input(const Tensor& input, bool binary) {
  const auto what = fmt::format("input '{}'", input.name);
  if (input.shape.size() > kMaxDims) {
    invalid(fmt::format("{} has {} dimensions; the protocol carries at most {}", what,
                        input.shape.size(), kMaxDims));
  }
  const auto expected = checked_byte_size(input.dtype, input.shape);
  if (!expected) {
    invalid(fmt::format("{} has a negative or overflowing shape {}", what,
                        shape_to_string(input.shape)));
  }
  if (input.region) {
    if (!input.data.empty()) {
      invalid(fmt::format("{} has both data and shared-memory region '{}'", what,
                          input.region->region));
    }
    check_region(*input.region, what);
    if (input.region->byte_size != *expected) {
      invalid(fmt::format("{}: {} {} needs {} bytes, its region reference has {}", what,
                          kserve_name(input.dtype), shape_to_string(input.shape), *expected,
                          input.region->byte_size));
    }
  } else if (input.data.size() != *expected) {
    invalid(fmt::format("{}: {} {} needs {} bytes, the tensor has {}", what,
                        kserve_name(input.dtype), shape_to_string(input.shape), *expected,
                        input.data.size()));
  }
  json::object object;
  object["name"] = input.name;
  json::array shape;
  for (const auto dim : input.shape)
    shape.emplace_back(dim);
  object["shape"] = std::move(shape);
  object["datatype"] = kserve_name(input.dtype);
  if (input.region) {
    object["parameters"] = region_parameters(*input.region);
  } else if (binary) {
    object["parameters"] = {{"binary_data_size", input.data.size()}};
  } else {
    object["data"] = tensor_data_to_json(input.dtype, input.data, what);
  }
  return object;
}

}  // namespace

std::string model_target(std::string_view model, std::string_view version) {
  std::string target = "/v2/models/" + percent_encode(model);
  if (!version.empty()) target += "/versions/" + percent_encode(version);
  return target;
}

std::string repository_model_target(std::string_view model) {
  return "/v2/repository/models/" + percent_encode(model);
}

std::string system_shared_memory_target(std::optional<std::string_view> region) {
  std::string target = "/v2/systemsharedmemory";
  if (region) target += "/region/" + percent_encode(*region);
  return target;
}

std::string cuda_shared_memory_target(std::optional<std::string_view> region) {
  std::string target = "/v2/cudasharedmemory";
  if (region) target += "/region/" + percent_encode(*region);
  return target;
}

std::string encode_cuda_shared_memory_register(std::span<const std::byte> raw_handle, int device_id,
                                               std::uint64_t byte_size) {
  const std::string_view bytes(reinterpret_cast<const char*>(raw_handle.data()), raw_handle.size());
  return json::serialize(json::object{{"raw_handle", json::object{{"b64", encode_base64(bytes)}}},
                                      {"device_id", device_id},
                                      {"byte_size", byte_size}});
}

std::string encode_system_shared_memory_register(std::string_view key, std::uint64_t byte_size,
                                                 std::uint64_t offset) {
  return json::serialize(json::object{{"key", key}, {"offset", offset}, {"byte_size", byte_size}});
}

EncodedInferRequest encode_infer_request(const InferRequest& request) {
  if (request.model.empty()) invalid("an inference request needs a model name");
  std::vector<std::string> input_names;
  for (const auto& input : request.inputs)
    input_names.push_back(input.name);
  check_names(input_names, "input");
  check_names(request.outputs, "output");

  EncodedInferRequest encoded;
  encoded.binary = request.binary;
  json::object body;
  if (!request.id.empty()) body["id"] = request.id;
  // With no outputs named the server returns all of them; the request-level parameter asks for
  // all of those in binary.
  json::object parameters;
  if (request.binary && request.outputs.empty()) parameters["binary_data_output"] = true;
  if (request.priority != 0) parameters["priority"] = request.priority;
  if (!parameters.empty()) body["parameters"] = std::move(parameters);
  for (const auto& [name, ref] : request.output_regions) {
    if (std::find(request.outputs.begin(), request.outputs.end(), name) == request.outputs.end()) {
      invalid(
          fmt::format("output '{}' has a shared-memory region but is not among the requested "
                      "outputs",
                      name));
    }
    check_region(ref, fmt::format("output '{}'", name));
  }
  json::array inputs;
  for (const auto& input : request.inputs) {
    inputs.emplace_back(encode_input(input, request.binary));
    if (request.binary && !input.data.empty()) encoded.binary_parts.emplace_back(input.data);
  }
  body["inputs"] = std::move(inputs);
  if (!request.outputs.empty()) {
    json::array outputs;
    for (const auto& name : request.outputs) {
      json::object output{{"name", name}};
      if (const auto region = request.output_regions.find(name);
          region != request.output_regions.end()) {
        output["parameters"] = region_parameters(region->second);
      } else if (request.binary) {
        output["parameters"] = {{"binary_data", true}};
      }
      outputs.emplace_back(std::move(output));
    }
    body["outputs"] = std::move(outputs);
  }
  encoded.json = json::serialize(body);
  return encoded;
}

}  // namespace infervisor::client
