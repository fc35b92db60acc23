#include "supervisor/kserve_response.hpp"

#include <boost/json.hpp>
#include <iterator>

#include "common/dtype_visit.hpp"
#include "common/json_element.hpp"
#include "common/shape.hpp"
#include "common/utf8.hpp"

namespace infervisor::supervisor {
namespace json = boost::json;
namespace {

constexpr unsigned kWorkerFault = 500;

// Appends the tensor's elements as a flat, row-major JSON array (common/json_element.hpp: NaN
// and infinity, which a model may well produce, go out as null).
void append_data(std::string& out, const shm::TensorView& tensor) {
  out += '[';
  visit_dtype(tensor.dtype, [&]<class T>(std::type_identity<T>) {
    const std::size_t count = tensor.data.size() / sizeof(T);
    const std::byte* at = tensor.data.data();
    for (std::size_t i = 0; i < count; ++i, at += sizeof(T)) {
      if (i) out += ',';
      append_json_element(out, load_element<T>(at));
    }
  });
  out += ']';
}

void append_shape(std::string& out, std::span<const std::int64_t> shape) {
  out += '[';
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ',';
    fmt::format_to(std::back_inserter(out), "{}", shape[i]);
  }
  out += ']';
}

const shm::TensorView& find_output(const shm::FrameView& frame, std::string_view name,
                                   const ModelConfig& model) {
  for (const auto& tensor : frame.tensors) {
    if (tensor.name == name) return tensor;
  }
  fail_request(kWorkerFault, "the worker for model '{}' returned no output '{}'", model.name, name);
}

// An output the worker put into a client's region must be where the request asked, and one the
// request wanted in the answer must be in the frame: anything else is a worker fault.
void check_placement(const ModelConfig& model, const shm::FrameView& frame,
                     const shm::TensorView& tensor, const RegionSlice* wanted) {
  if (!wanted) {
    if (tensor.region != 0) {
      fail_request(kWorkerFault,
                   "the worker for model '{}' put output '{}' into a region the request did not "
                   "name",
                   model.name, tensor.name);
    }
    return;
  }
  const bool where_asked = tensor.region != 0 && tensor.region <= frame.regions.size() &&
                           frame.regions[tensor.region - 1].token == wanted->region->token &&
                           tensor.region_offset == wanted->offset &&
                           tensor.byte_size <= wanted->byte_size;
  if (!where_asked) {
    fail_request(kWorkerFault,
                 "the worker for model '{}' did not put output '{}' into shared memory region "
                 "'{}' as asked",
                 model.name, tensor.name, wanted->region->name);
  }
}

json::array tensor_metadata(const std::vector<TensorSpec>& specs) {
  json::array out;
  for (const auto& spec : specs) {
    json::array shape;
    for (const auto dim : spec.dims)
      shape.emplace_back(dim);
    out.emplace_back(json::object{
        {"name", spec.name}, {"datatype", kserve_name(spec.dtype)}, {"shape", std::move(shape)}});
  }
  return out;
}

}  // namespace

HttpReply encode_infer_response(const ModelConfig& model, const InferRequest& request,
                                const shm::FrameView& frame) {
  struct Selected {
    const shm::TensorView* tensor;
    bool binary;
    const RegionSlice* region;  // where the request asked the worker to put it
  };
  std::vector<Selected> selected;
  if (request.outputs.empty()) {
    for (const auto& spec : model.outputs) {
      selected.push_back(
          {&find_output(frame, spec.name, model), request.binary_outputs_by_default, nullptr});
    }
  } else {
    for (const auto& wanted : request.outputs) {
      selected.push_back({&find_output(frame, wanted.name, model), wanted.binary,
                          wanted.region ? &*wanted.region : nullptr});
    }
  }

  HttpReply reply;
  std::string& out = reply.body;
  std::size_t binary_bytes = 0;
  out += "{\"model_name\":";
  out += json::serialize(json::string(model.name));
  out += ",\"model_version\":";
  out += json::serialize(json::string(model.version));
  if (request.id) {
    out += ",\"id\":";
    out += json::serialize(json::string(*request.id));
  }
  out += ",\"outputs\":[";
  for (std::size_t i = 0; i < selected.size(); ++i) {
    const auto& tensor = *selected[i].tensor;
    const auto* spec = [&]() -> const TensorSpec* {
      for (const auto& each : model.outputs) {
        if (each.name == tensor.name) return &each;
      }
      return nullptr;
    }();
    if (!spec || spec->dtype != tensor.dtype || !spec->accepts(tensor.shape())) {
      fail_request(kWorkerFault,
                   "the worker for model '{}' returned output '{}' as {} {}, which the model's "
                   "declaration does not allow",
                   model.name, tensor.name, kserve_name(tensor.dtype),
                   shape_to_string(tensor.shape()));
    }
    check_placement(model, frame, tensor, selected[i].region);
    if (i) out += ',';
    out += "{\"name\":";
    out += json::serialize(json::string(tensor.name));
    out += ",\"datatype\":\"";
    out += kserve_name(tensor.dtype);
    out += "\",\"shape\":";
    append_shape(out, tensor.shape());
    if (const RegionSlice* region = selected[i].region) {
      // In the client's region already: Triton's shape of such an output, without data.
      out += ",\"parameters\":{\"shared_memory_region\":";
      out += json::serialize(json::string(region->region->name));
      fmt::format_to(std::back_inserter(out),
                     ",\"shared_memory_byte_size\":{},\"shared_memory_offset\":{}}}}}",
                     tensor.byte_size, region->offset);
      selected[i].binary = false;
    } else if (selected[i].binary) {
      fmt::format_to(std::back_inserter(out), ",\"parameters\":{{\"binary_data_size\":{}}}}}",
                     tensor.data.size());
      binary_bytes += tensor.data.size();
    } else {
      out += ",\"data\":";
      append_data(out, tensor);
      out += '}';
    }
  }
  out += "]}";
  if (binary_bytes > 0 ||
      std::any_of(selected.begin(), selected.end(), [](const Selected& s) { return s.binary; })) {
    reply.inference_header_length = out.size();
    reply.content_type = "application/octet-stream";
    out.reserve(out.size() + binary_bytes);
    for (const auto& each : selected) {
      if (!each.binary) continue;
      out.append(reinterpret_cast<const char*>(each.tensor->data.data()), each.tensor->data.size());
    }
  }
  return reply;
}

std::string server_metadata_json(std::string_view version, bool system_shared_memory,
                                 bool cuda_shared_memory) {
  json::array extensions{"binary_tensor_data", "model_repository"};
  if (system_shared_memory) extensions.emplace_back("system_shared_memory");
  if (cuda_shared_memory) extensions.emplace_back("cuda_shared_memory");
  return json::serialize(json::object{
      {"name", "infervisor"},
      {"version", version},
      {"extensions", std::move(extensions)},
  });
}

std::string model_metadata_json(const ModelConfig& model, const ModelState* state) {
  json::object metadata{
      {"name", model.name},
      {"versions", json::array{json::string(model.version)}},
      {"platform", "pytorch_libtorch"},
      {"inputs", tensor_metadata(model.inputs)},
      {"outputs", tensor_metadata(model.outputs)},
  };
  if (state) {
    // Not in KServe's schema, which clients ignore: why a model does not serve, where they look.
    metadata["state"] = state->state;
    if (!state->reason.empty()) metadata["reason"] = state->reason;
  }
  return json::serialize(metadata);
}

std::string repository_index_json(std::span<const ModelState> models) {
  json::array out;
  for (const auto& state : models) {
    json::object entry{
        {"name", state.model->name}, {"version", state.model->version}, {"state", state.state}};
    if (!state.reason.empty()) entry["reason"] = state.reason;
    out.emplace_back(std::move(entry));
  }
  return json::serialize(out);
}

HttpReply error_reply(unsigned status, std::string_view message) {
  HttpReply reply;
  reply.status = status;
  // Messages quote what the client sent (paths, header values, tensor names, cut to a length in
  // bytes): the serializer would copy invalid UTF-8 into the reply as it is.
  reply.body = json::serialize(json::object{{"error", to_valid_utf8(message)}});
  return reply;
}

}  // namespace infervisor::supervisor
