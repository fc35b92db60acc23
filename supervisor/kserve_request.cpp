#include "supervisor/kserve_request.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <limits>

#include "common/bool_bytes.hpp"
#include "common/dtype_visit.hpp"
#include "common/json_element.hpp"
#include "common/shape.hpp"
#include "shm/ring.hpp"

namespace infervisor::supervisor {
namespace json = boost::json;
namespace {

constexpr unsigned kBadRequest = 400;

const json::object& as_object(const json::value& value, std::string_view what) {
  if (!value.is_object()) fail_request(kBadRequest, "{} must be a JSON object", what);
  return value.get_object();
}

const json::value* find(const json::object& object, std::string_view key) {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &it->value();
}

std::string_view string_field(const json::object& object, std::string_view key,
                              std::string_view what) {
  const auto* value = find(object, key);
  if (!value) fail_request(kBadRequest, "{} has no '{}'", what, key);
  if (!value->is_string()) fail_request(kBadRequest, "{} '{}' must be a string", what, key);
  return value->get_string();
}

std::optional<bool> bool_parameter(const json::object& object, std::string_view name,
                                   std::string_view what) {
  const auto* parameters = find(object, "parameters");
  if (!parameters) return std::nullopt;
  const auto& map = as_object(*parameters, fmt::format("{} parameters", what));
  const auto* value = find(map, name);
  if (!value) return std::nullopt;
  if (!value->is_bool())
    fail_request(kBadRequest, "{} parameter '{}' must be true or false", what, name);
  return value->get_bool();
}

std::optional<std::uint64_t> size_parameter(const json::object& object, std::string_view name,
                                            std::string_view what) {
  const auto* parameters = find(object, "parameters");
  if (!parameters) return std::nullopt;
  const auto& map = as_object(*parameters, fmt::format("{} parameters", what));
  const auto* value = find(map, name);
  if (!value) return std::nullopt;
  if (value->is_uint64()) return value->get_uint64();
  if (value->is_int64() && value->get_int64() >= 0)
    return static_cast<std::uint64_t>(value->get_int64());
  fail_request(kBadRequest, "{} parameter '{}' must be a non-negative integer", what, name);
}

const json::object* parameters_of(const json::object& object, std::string_view what) {
  const auto* parameters = find(object, "parameters");
  return parameters ? &as_object(*parameters, fmt::format("{} parameters", what)) : nullptr;
}

// Triton's shared_memory_region / _byte_size / _offset parameters of an input or output, if it
// has them.
std::optional<RegionSlice> region_parameters(const json::object& object, std::string_view what,
                                             const RegionResolver& regions) {
  const auto* parameters = parameters_of(object, what);
  const auto* name = parameters ? find(*parameters, "shared_memory_region") : nullptr;
  if (!name) {
    if (parameters && (find(*parameters, "shared_memory_byte_size") ||
                       find(*parameters, "shared_memory_offset"))) {
      fail_request(kBadRequest, "{} has shared_memory parameters but no shared_memory_region",
                   what);
    }
    return std::nullopt;
  }
  if (!name->is_string())
    fail_request(kBadRequest, "{} parameter 'shared_memory_region' must be a string", what);
  if (!regions) {
    fail_request(kBadRequest,
                 "{} refers to shared memory region '{}' but client shared memory is off "
                 "(client_shared_memory: true enables it)",
                 what, std::string_view(name->get_string()));
  }
  const auto byte_size = size_parameter(object, "shared_memory_byte_size", what);
  if (!byte_size) fail_request(kBadRequest, "{} has no 'shared_memory_byte_size'", what);
  const auto offset = size_parameter(object, "shared_memory_offset", what).value_or(0);
  RegionSlice slice{regions(name->get_string()), offset, *byte_size};
  if (offset > slice.region->byte_size || *byte_size > slice.region->byte_size - offset) {
    fail_request(kBadRequest, "{} [{}, +{}) leaves shared memory region '{}', which has {} bytes",
                 what, offset, *byte_size, slice.region->name, slice.region->byte_size);
  }
  return slice;
}

// Reads a `data` value (nested arrays flattened, row-major) into `expected` elements of type T
// (common/dtype_visit.hpp) at the end of `out`, by the rules of common/json_element.hpp.
template <class T>
class ElementReader {
 public:
  ElementReader(DType dtype, std::string_view tensor, std::uint64_t expected,
                std::vector<std::byte>& out)
      : dtype_(dtype), tensor_(tensor), expected_(expected), out_(out) {
    out_.resize(expected * sizeof(T));
  }

  void read(const json::value& value, int depth = 0) {
    if (value.is_array()) {
      if (depth > static_cast<int>(kMaxDims)) {
        fail_request(kBadRequest, "input '{}' data is nested deeper than {} levels", tensor_,
                     kMaxDims);
      }
      for (const auto& element : value.get_array())
        read(element, depth + 1);
      return;
    }
    if (read_ >= expected_) {
      fail_request(kBadRequest, "input '{}' data has more than the {} elements its shape gives",
                   tensor_, expected_);
    }
    const auto error = read_json_element<T>(value, out_.data() + read_ * sizeof(T));
    if (error != JsonElementError::kNone) {
      fail_request(kBadRequest, "input '{}' element {} is {}", tensor_, read_,
                   json_element_error_text(dtype_, value, error));
    }
    ++read_;
  }

  void finish() const {
    if (read_ != expected_) {
      fail_request(kBadRequest, "input '{}' data has {} elements but its shape gives {}", tensor_,
                   read_, expected_);
    }
  }

 private:
  DType dtype_;
  std::string_view tensor_;
  std::uint64_t expected_;
  std::uint64_t read_ = 0;
  std::vector<std::byte>& out_;
};

// Binary BOOL data must be 0 or 1 per byte: any other byte is not a valid torch bool.
void check_bool_bytes(std::span<const std::byte> data, std::string_view name) {
  if (const auto i = first_invalid_bool(data)) {
    fail_request(kBadRequest, "input '{}' BOOL byte {} is {} (must be 0 or 1)", name, *i,
                 std::to_integer<unsigned>(data[*i]));
  }
}

std::vector<std::int64_t> parse_shape(const json::object& input, std::string_view name) {
  const auto* shape = find(input, "shape");
  if (!shape || !shape->is_array())
    fail_request(kBadRequest, "input '{}' needs a 'shape' array", name);
  const auto& dims = shape->get_array();
  if (dims.size() > kMaxDims) {
    fail_request(kBadRequest, "input '{}' has {} dimensions; at most {} are supported", name,
                 dims.size(), kMaxDims);
  }
  std::vector<std::int64_t> out;
  for (const auto& dim : dims) {
    if (dim.is_int64() && dim.get_int64() >= 0)
      out.push_back(dim.get_int64());
    else if (dim.is_uint64() && dim.get_uint64() <= static_cast<std::uint64_t>(
                                                        std::numeric_limits<std::int64_t>::max()))
      out.push_back(static_cast<std::int64_t>(dim.get_uint64()));
    else
      fail_request(kBadRequest, "input '{}' shape must hold non-negative integers", name);
  }
  return out;
}

}  // namespace

std::optional<std::size_t> parse_header_length(std::string_view value, std::size_t body_size) {
  std::size_t length = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
  if (ec != std::errc{} || end != value.data() + value.size()) {
    fail_request(kBadRequest, "Inference-Header-Content-Length '{}' is not a number", value);
  }
  if (length > body_size) {
    fail_request(kBadRequest, "Inference-Header-Content-Length {} exceeds the {}-byte body", length,
                 body_size);
  }
  return length;
}

void parse_infer_request(const ModelConfig& model, std::string_view body,
                         std::optional<std::size_t> header_length, InferRequest& out,
                         const RegionResolver& regions) {
  if (header_length && *header_length > body.size()) {
    fail_request(kBadRequest, "Inference-Header-Content-Length {} exceeds the {}-byte body",
                 *header_length, body.size());
  }
  const std::size_t json_bytes = header_length.value_or(body.size());
  json::value document;
  {
    boost::system::error_code ec;
    document = json::parse(body.substr(0, json_bytes), ec);
    if (ec) fail_request(kBadRequest, "request body is not valid JSON: {}", ec.message());
  }
  const auto& root = as_object(document, "the inference request");
  if (const auto* id = find(root, "id")) {
    if (!id->is_string()) fail_request(kBadRequest, "request 'id' must be a string");
    out.id = std::string(id->get_string());
  }
  out.binary_outputs_by_default =
      bool_parameter(root, "binary_data_output", "request").value_or(false);
  // Triton's `priority`: 0 (or none) is the model's default level.
  const auto priority = size_parameter(root, "priority", "request").value_or(0);
  if (priority != 0 && model.priority_levels == 0) {
    fail_request(kBadRequest,
                 "request parameter 'priority' is {} but model '{}' has no priority_levels",
                 priority, model.name);
  }
  if (priority > static_cast<std::uint64_t>(model.priority_levels)) {
    fail_request(kBadRequest, "request parameter 'priority' is {}; model '{}' has levels 1-{}",
                 priority, model.name, model.priority_levels);
  }
  out.priority = priority == 0 ? model.default_priority_level : static_cast<int>(priority);
  // Triton's per-request `timeout`, in microseconds; 0 (or none) means the model's job_timeout.
  if (const auto timeout = size_parameter(root, "timeout", "request"); timeout && *timeout > 0) {
    out.timeout =
        std::chrono::microseconds(std::min<std::uint64_t>(*timeout, std::uint64_t{1} << 50));
  }

  const auto* inputs_value = find(root, "inputs");
  if (!inputs_value || !inputs_value->is_array()) {
    fail_request(kBadRequest, "request needs an 'inputs' array");
  }
  const auto& inputs = inputs_value->get_array();
  std::vector<InputTensor> parsed(model.inputs.size());
  std::vector<bool> seen(model.inputs.size(), false);
  std::size_t binary_offset = json_bytes;

  for (const auto& input_value : inputs) {
    const auto& input = as_object(input_value, "each input");
    const auto name = string_field(input, "name", "input");
    std::size_t index = 0;
    while (index < model.inputs.size() && model.inputs[index].name != name)
      ++index;
    if (index == model.inputs.size()) {
      fail_request(kBadRequest, "model '{}' has no input '{}'", model.name, name);
    }
    if (seen[index]) fail_request(kBadRequest, "input '{}' appears twice", name);
    seen[index] = true;
    const TensorSpec& spec = model.inputs[index];
    InputTensor& tensor = parsed[index];
    tensor.name = spec.name;

    const auto datatype = string_field(input, "datatype", fmt::format("input '{}'", name));
    const auto dtype = dtype_from_kserve(datatype);
    if (!dtype) fail_request(kBadRequest, "input '{}' has unknown datatype '{}'", name, datatype);
    if (*dtype != spec.dtype) {
      fail_request(kBadRequest, "input '{}' has datatype {} but model '{}' expects {}", name,
                   datatype, model.name, kserve_name(spec.dtype));
    }
    tensor.dtype = *dtype;
    tensor.shape = parse_shape(input, name);
    if (!spec.accepts(tensor.shape)) {
      fail_request(kBadRequest, "input '{}' has shape {} but model '{}' expects {} (-1: any size)",
                   name, shape_to_string(tensor.shape), model.name, shape_to_string(spec.dims));
    }
    const auto elements = checked_element_count(tensor.shape);
    const auto bytes = checked_byte_size(tensor.dtype, tensor.shape);
    if (!elements || !bytes)
      fail_request(413, "input '{}' shape {} is too large", name, shape_to_string(tensor.shape));
    auto slice = region_parameters(input, fmt::format("input '{}'", name), regions);
    // The whole job must fit the ring (ModelPool checks that exactly); one tensor that cannot is
    // refused here, before its JSON data is converted into a buffer of that size. (A tensor in
    // a client's region does not pass through the ring.)
    if (const auto limit = shm::max_payload_bytes(model.ring_bytes); !slice && *bytes > limit) {
      fail_request(413,
                   "input '{}' shape {} needs {} bytes but model '{}' takes at most {} bytes per "
                   "job (ring_size {})",
                   name, shape_to_string(tensor.shape), *bytes, model.name, limit,
                   model.ring_bytes);
    }

    if (slice) {
      if (slice->byte_size != *bytes) {
        fail_request(kBadRequest,
                     "input '{}' shared_memory_byte_size is {} but shape {} of {} needs {} bytes",
                     name, slice->byte_size, shape_to_string(tensor.shape), datatype, *bytes);
      }
      if (find(input, "data") ||
          size_parameter(input, "binary_data_size", fmt::format("input '{}'", name))) {
        fail_request(kBadRequest, "input '{}' is in shared memory and must not carry data too",
                     name);
      }
      tensor.region = std::move(slice);
    } else if (const auto binary_size =
                   size_parameter(input, "binary_data_size", fmt::format("input '{}'", name))) {
      if (!header_length) {
        fail_request(kBadRequest,
                     "input '{}' has binary_data_size but the request has no "
                     "Inference-Header-Content-Length header",
                     name);
      }
      if (*binary_size != *bytes) {
        fail_request(kBadRequest,
                     "input '{}' binary_data_size is {} but shape {} of {} needs {} bytes", name,
                     *binary_size, shape_to_string(tensor.shape), datatype, *bytes);
      }
      if (*binary_size > body.size() - binary_offset) {
        fail_request(kBadRequest,
                     "input '{}' binary data runs past the end of the body ({} bytes left)", name,
                     body.size() - binary_offset);
      }
      tensor.data = std::as_bytes(std::span(body.data() + binary_offset, *binary_size));
      if (tensor.dtype == DType::kBool) check_bool_bytes(tensor.data, name);
      binary_offset += *binary_size;
      if (find(input, "data"))
        fail_request(kBadRequest, "input '{}' has both binary data and 'data'", name);
    } else {
      const auto* data = find(input, "data");
      if (!data)
        fail_request(kBadRequest, "input '{}' has neither 'data' nor binary_data_size", name);
      // Each JSON element takes at least one byte, so a shape that claims more elements than the
      // JSON has bytes is refused before anything is allocated for it.
      if (*elements > json_bytes) {
        fail_request(kBadRequest,
                     "input '{}' shape {} needs {} elements but the request's JSON "
                     "has only {} bytes",
                     name, shape_to_string(tensor.shape), *elements, json_bytes);
      }
      visit_dtype(tensor.dtype, [&]<class T>(std::type_identity<T>) {
        ElementReader<T> reader(tensor.dtype, name, *elements, tensor.converted);
        reader.read(*data);  // a scalar tensor may be given as a bare value, too
        reader.finish();
      });
      tensor.data = tensor.converted;
    }
  }
  for (std::size_t i = 0; i < model.inputs.size(); ++i) {
    if (!seen[i])
      fail_request(kBadRequest, "model '{}' needs input '{}', which is missing", model.name,
                   model.inputs[i].name);
  }
  if (header_length && binary_offset != body.size()) {
    fail_request(kBadRequest, "the body has {} bytes of binary data but the inputs claim {}",
                 body.size() - json_bytes, binary_offset - json_bytes);
  }
  out.inputs = std::move(parsed);
  // Spans into `converted` survive the move (vector buffers move), spans into `body` are
  // unaffected.

  if (const auto* outputs_value = find(root, "outputs")) {
    if (!outputs_value->is_array()) fail_request(kBadRequest, "request 'outputs' must be an array");
    for (const auto& output_value : outputs_value->get_array()) {
      const auto& output = as_object(output_value, "each requested output");
      const auto name = string_field(output, "name", "requested output");
      const bool known = std::any_of(model.outputs.begin(), model.outputs.end(),
                                     [&](const TensorSpec& spec) { return spec.name == name; });
      if (!known) fail_request(kBadRequest, "model '{}' has no output '{}'", model.name, name);
      for (const auto& already : out.outputs) {
        if (already.name == name) fail_request(kBadRequest, "output '{}' is requested twice", name);
      }
      const auto what = fmt::format("output '{}'", name);
      const auto binary = bool_parameter(output, "binary_data", what);
      out.outputs.push_back({std::string(name), binary.value_or(out.binary_outputs_by_default),
                             region_parameters(output, what, regions)});
    }
  }
}

}  // namespace infervisor::supervisor
