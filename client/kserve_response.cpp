#include "client/kserve_response.hpp"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cstring>
#include <set>

#include "client/checked_json.hpp"
#include "client/json_tensor.hpp"
#include "common/error.hpp"
#include "common/shape.hpp"

namespace infervisor::client {
namespace json = boost::json;
namespace {

using namespace checked_json;

std::vector<std::string> string_list_field(const json::object& object, std::string_view key,
                                           std::string_view path) {
  std::vector<std::string> out;
  const auto* value = object.if_contains(key);
  if (value == nullptr) return out;
  const auto field = fmt::format("{}.{}", path, key);
  for (const auto& item : as_array(*value, field)) {
    if (!item.is_string()) corrupt(fmt::format("{}: expected an array of strings", field));
    out.emplace_back(item.get_string());
  }
  return out;
}

// A shape: at most kMaxDims integers, each >= 0 (or -1 too where `allow_free`).
std::vector<std::int64_t> shape_field(const json::object& object, std::string_view path,
                                      bool allow_free) {
  const auto* value = object.if_contains("shape");
  if (value == nullptr) corrupt(fmt::format("{}.shape: missing", path));
  const auto& array = as_array(*value, fmt::format("{}.shape", path));
  if (array.size() > kMaxDims) {
    corrupt(fmt::format("{}.shape: {} dimensions, at most {} are allowed", path, array.size(),
                        kMaxDims));
  }
  std::vector<std::int64_t> shape;
  for (const auto& dim : array) {
    const bool valid = dim.is_int64() ? dim.get_int64() >= (allow_free ? -1 : 0)
                                      : dim.is_uint64() && dim.get_uint64() <= INT64_MAX;
    if (!valid) {
      corrupt(fmt::format("{}.shape: expected {}integers", path,
                          allow_free ? "-1 or non-negative " : "non-negative "));
    }
    shape.push_back(dim.is_int64() ? dim.get_int64() : static_cast<std::int64_t>(dim.get_uint64()));
  }
  return shape;
}

// The Inference-Header-Content-Length value: decimal digits only, no larger than the body.
std::size_t header_length(std::string_view text, std::size_t body_size) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    corrupt(fmt::format("Inference-Header-Content-Length '{}' is not a decimal number",
                        printable(text)));
  }
  if (value > body_size) {
    corrupt(fmt::format("Inference-Header-Content-Length {} exceeds the {}-byte body", value,
                        body_size));
  }
  return static_cast<std::size_t>(value);
}

// An output's parameters object; nullptr if it has none.
const json::object* parameters_of(const json::object& output, std::string_view path) {
  const auto* parameters = output.if_contains("parameters");
  if (parameters == nullptr) return nullptr;
  return &as_object(*parameters, fmt::format("{}.parameters", path));
}

// parameters.binary_data_size of an output, if it has one.
std::optional<std::uint64_t> binary_data_size(const json::object* parameters,
                                              std::string_view path) {
  if (parameters == nullptr) return std::nullopt;
  const auto* size = parameters->if_contains("binary_data_size");
  if (size == nullptr) return std::nullopt;
  return unsigned_value(*size, fmt::format("{}.parameters.binary_data_size", path));
}

bool has_region_parameters(const json::object* parameters) {
  return parameters != nullptr && (parameters->contains("shared_memory_region") ||
                                   parameters->contains("shared_memory_byte_size") ||
                                   parameters->contains("shared_memory_offset"));
}

// An output the server wrote into the region the request named: the shared_memory_* parameters
// it echoes (if any) must be the request's, and the output must fit the room asked for.
RegionRef region_output(const json::object* parameters, const RegionRef& asked,
                        std::uint64_t output_bytes, std::string_view path) {
  if (parameters != nullptr) {
    const auto field = [&](std::string_view key) {
      return fmt::format("{}.parameters.{}", path, key);
    };
    if (const auto* region = parameters->if_contains("shared_memory_region")) {
      if (!region->is_string() || region->get_string() != asked.region) {
        corrupt(fmt::format("{}: expected '{}'", field("shared_memory_region"),
                            printable(asked.region)));
      }
    }
    if (const auto* size = parameters->if_contains("shared_memory_byte_size")) {
      if (unsigned_value(*size, field("shared_memory_byte_size")) != asked.byte_size) {
        corrupt(fmt::format("{}: expected {}, as requested", field("shared_memory_byte_size"),
                            asked.byte_size));
      }
    }
    if (const auto* offset = parameters->if_contains("shared_memory_offset")) {
      if (unsigned_value(*offset, field("shared_memory_offset")) != asked.offset) {
        corrupt(fmt::format("{}: expected {}, as requested", field("shared_memory_offset"),
                            asked.offset));
      }
    }
  }
  if (output_bytes > asked.byte_size) {
    corrupt(fmt::format("{}: {} bytes do not fit the {} bytes requested in region '{}'", path,
                        output_bytes, asked.byte_size, printable(asked.region)));
  }
  return RegionRef{asked.region, asked.offset, output_bytes};
}

void check_bools(const Tensor& tensor, std::string_view path) {
  if (tensor.dtype != DType::kBool) return;
  for (std::size_t i = 0; i < tensor.data.size(); ++i) {
    if (std::to_integer<unsigned>(tensor.data[i]) > 1) {
      corrupt(fmt::format("{}: BOOL element {} is {}, expected 0 or 1", path, i,
                          std::to_integer<unsigned>(tensor.data[i])));
    }
  }
}

TensorMetadata tensor_metadata(const json::value& value, std::string_view path) {
  const auto& object = as_object(value, path);
  TensorMetadata tensor;
  tensor.name = string_field(object, "name", path, true);
  tensor.datatype = string_field(object, "datatype", path, true);
  tensor.shape = shape_field(object, path, true);
  return tensor;
}

std::vector<TensorMetadata> tensor_metadata_list(const json::object& object, std::string_view key) {
  std::vector<TensorMetadata> out;
  const auto* value = object.if_contains(key);
  if (value == nullptr) return out;
  const auto& array = as_array(*value, key);
  for (std::size_t i = 0; i < array.size(); ++i) {
    out.push_back(tensor_metadata(array[i], fmt::format("{}[{}]", key, i)));
  }
  return out;
}

}  // namespace

InferResult decode_infer_response(std::string_view body,
                                  std::optional<std::string_view> inference_header_length,
                                  std::span<const std::string> requested_outputs,
                                  const std::map<std::string, RegionRef>& output_regions) {
  const std::size_t json_length =
      inference_header_length ? header_length(*inference_header_length, body.size()) : body.size();
  const auto root = parse_json(body.substr(0, json_length), "inference response");
  const std::string_view binary = body.substr(json_length);
  const auto& object = as_object(root, "inference response");

  InferResult result;
  result.model_name = string_field(object, "model_name", "response", false);
  result.model_version = string_field(object, "model_version", "response", false);
  result.id = string_field(object, "id", "response", false);
  const auto* outputs = object.if_contains("outputs");
  if (outputs == nullptr) corrupt("response.outputs: missing");
  const auto& array = as_array(*outputs, "response.outputs");

  std::size_t offset = 0;  // into `binary`; never beyond binary.size()
  std::set<std::string> names;
  for (std::size_t i = 0; i < array.size(); ++i) {
    const auto path = fmt::format("outputs[{}]", i);
    const auto& output = as_object(array[i], path);
    Tensor tensor;
    tensor.name = string_field(output, "name", path, true);
    if (tensor.name.empty()) corrupt(fmt::format("{}.name: empty", path));
    const auto datatype = string_field(output, "datatype", path, true);
    const auto dtype = dtype_from_kserve(datatype);
    if (!dtype) {
      corrupt(fmt::format("{}.datatype: '{}' is not a datatype this client supports", path,
                          printable(datatype)));
    }
    tensor.dtype = *dtype;
    tensor.shape = shape_field(output, path, false);
    const auto expected = checked_byte_size(tensor.dtype, tensor.shape);
    if (!expected) corrupt(fmt::format("{}.shape: its size overflows 64 bits", path));

    const auto* parameters = parameters_of(output, path);
    const auto size = binary_data_size(parameters, path);
    const auto* data = output.if_contains("data");
    const auto asked_region = output_regions.find(tensor.name);
    if (size && data != nullptr)
      corrupt(fmt::format("{}: has both 'data' and binary_data_size", path));
    if ((size || data != nullptr) && has_region_parameters(parameters)) {
      corrupt(fmt::format("{}: has shared_memory_* parameters and data in the body", path));
    }
    if (size) {
      if (!inference_header_length) {
        corrupt(
            fmt::format("{} has binary_data_size but the response has no "
                        "Inference-Header-Content-Length header",
                        path));
      }
      if (*size != *expected) {
        corrupt(fmt::format("{}: binary_data_size {} does not match {} {} ({} bytes)", path, *size,
                            datatype, shape_to_string(tensor.shape), *expected));
      }
      if (*size > binary.size() - offset) {
        corrupt(fmt::format("{}: binary data ends {} bytes past the end of the body", path,
                            *size - (binary.size() - offset)));
      }
      const auto* begin = reinterpret_cast<const std::byte*>(binary.data() + offset);
      tensor.data.assign(begin, begin + *size);
      offset += static_cast<std::size_t>(*size);
    } else if (data != nullptr) {
      tensor.data =
          tensor_data_from_json(tensor.dtype, *data, *checked_element_count(tensor.shape), path);
    } else if (asked_region != output_regions.end()) {
      tensor.region = region_output(parameters, asked_region->second, *expected, path);
    } else {
      corrupt(fmt::format("{}: has neither 'data' nor parameters.binary_data_size{}", path,
                          has_region_parameters(parameters)
                              ? ", and it was not asked for in a shared-memory region"
                              : ""));
    }
    check_bools(tensor, path);
    if (!names.insert(tensor.name).second) {
      corrupt(fmt::format("{}: output '{}' appears twice", path, tensor.name));
    }
    result.outputs.push_back(std::move(tensor));
  }
  if (offset != binary.size()) {
    corrupt(fmt::format("{} bytes of binary data after the last output", binary.size() - offset));
  }
  for (const auto& name : requested_outputs) {
    bool found = false;
    for (const auto& output : result.outputs)
      found = found || output.name == name;
    if (!found) corrupt(fmt::format("requested output '{}' is not in the response", name));
  }
  return result;
}

void read_region_output(Tensor& output, std::span<const std::byte> region) {
  if (!output.region) {
    throw InfervisorError(
        ErrorCode::kInvalidArgument,
        fmt::format("output '{}' was not returned in a shared-memory region", output.name));
  }
  const auto& ref = *output.region;
  if (ref.offset > region.size() || ref.byte_size > region.size() - ref.offset) {
    corrupt(fmt::format("output '{}': {} bytes at offset {} lie outside region '{}' of {} bytes",
                        output.name, ref.byte_size, ref.offset, printable(ref.region),
                        region.size()));
  }
  const auto bytes =
      region.subspan(static_cast<std::size_t>(ref.offset), static_cast<std::size_t>(ref.byte_size));
  output.data.assign(bytes.begin(), bytes.end());
  output.region.reset();
  check_bools(output, fmt::format("output '{}'", output.name));
}

namespace {

// A shared-memory status array: `read` makes one entry from its object; every entry needs a name,
// names are unique, and a status asked for one region holds only that one.
template <class Region, class Read>
std::vector<Region> decode_region_status(std::string_view body,
                                         std::optional<std::string_view> only, Read read) {
  const auto root = parse_json(body, "shared-memory status");
  const auto& array = as_array(root, "shared-memory status");
  std::vector<Region> regions;
  std::set<std::string> names;
  for (std::size_t i = 0; i < array.size(); ++i) {
    const auto path = fmt::format("shared-memory status[{}]", i);
    const auto& object = as_object(array[i], path);
    Region region = read(object, path);
    region.name = string_field(object, "name", path, true);
    if (region.name.empty()) corrupt(fmt::format("{}.name: empty", path));
    region.byte_size = unsigned_field(object, "byte_size", path);
    if (only && region.name != *only) {
      corrupt(fmt::format("{}.name: '{}', but the status of region '{}' was asked for", path,
                          printable(region.name), printable(*only)));
    }
    if (!names.insert(region.name).second) {
      corrupt(fmt::format("{}: region '{}' appears twice", path, printable(region.name)));
    }
    regions.push_back(std::move(region));
  }
  return regions;
}

}  // namespace

std::vector<SystemRegionStatus> decode_system_shared_memory_status(
    std::string_view body, std::optional<std::string_view> only) {
  return decode_region_status<SystemRegionStatus>(
      body, only, [](const json::object& object, const std::string& path) {
        SystemRegionStatus region;
        region.key = string_field(object, "key", path, true);
        if (region.key.empty()) corrupt(fmt::format("{}.key: empty", path));
        region.offset = unsigned_field(object, "offset", path);
        return region;
      });
}

std::vector<CudaRegionStatus> decode_cuda_shared_memory_status(
    std::string_view body, std::optional<std::string_view> only) {
  return decode_region_status<CudaRegionStatus>(
      body, only, [](const json::object& object, const std::string& path) {
        CudaRegionStatus region;
        const auto device = unsigned_field(object, "device_id", path);
        if (device > 1u << 20) corrupt(fmt::format("{}.device_id: {} is no GPU", path, device));
        region.device_id = static_cast<int>(device);
        return region;
      });
}

ServerMetadata decode_server_metadata(std::string_view body) {
  const auto root = parse_json(body, "server metadata");
  const auto& object = as_object(root, "server metadata");
  ServerMetadata metadata;
  metadata.name = string_field(object, "name", "server metadata", true);
  metadata.version = string_field(object, "version", "server metadata", false);
  metadata.extensions = string_list_field(object, "extensions", "server metadata");
  return metadata;
}

ModelMetadata decode_model_metadata(std::string_view body) {
  const auto root = parse_json(body, "model metadata");
  const auto& object = as_object(root, "model metadata");
  ModelMetadata metadata;
  metadata.name = string_field(object, "name", "model metadata", true);
  metadata.versions = string_list_field(object, "versions", "model metadata");
  metadata.platform = string_field(object, "platform", "model metadata", false);
  metadata.inputs = tensor_metadata_list(object, "inputs");
  metadata.outputs = tensor_metadata_list(object, "outputs");
  return metadata;
}

std::vector<RepositoryModel> decode_repository_index(std::string_view body) {
  const auto root = parse_json(body, "repository index");
  const auto& array = as_array(root, "repository index");
  std::vector<RepositoryModel> models;
  for (std::size_t i = 0; i < array.size(); ++i) {
    const auto path = fmt::format("repository index[{}]", i);
    const auto& object = as_object(array[i], path);
    RepositoryModel model;
    model.name = string_field(object, "name", path, true);
    model.version = string_field(object, "version", path, false);
    model.state = string_field(object, "state", path, false);
    model.reason = string_field(object, "reason", path, false);
    models.push_back(std::move(model));
  }
  return models;
}

std::string decode_error_message(std::string_view body) {
  boost::system::error_code ec;
  const auto root = json::parse(body, ec);
  std::string_view text = body;
  if (!ec && root.is_object()) {
    if (const auto* error = root.get_object().if_contains("error"); error && error->is_string()) {
      text = error->get_string();
    }
  }
  std::string out = printable(text);
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

}  // namespace infervisor::client
