// Fuzzes the KServe infer request decoder (supervisor/kserve_request.hpp): JSON tensors and the
// binary tensor data extension, as a client's HTTP body reaches it.
//
// Input: a line "DATATYPE[ HEADER_LENGTH]", then the body. DATATYPE picks one of ten fixed models,
// the one whose input "x" has that datatype, so that every element converter can be reached;
// HEADER_LENGTH, if there, is the Inference-Header-Content-Length header's text and goes through
// parse_header_length as the connection's does. Inputs of another form are rejected (-1).
//
// HttpError is the decoder's documented answer to a bad request; anything else escaping, a
// sanitizer report or a decoded request that breaks the invariants checked below is a finding.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/shape.hpp"
#include "supervisor/kserve_request.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/kserve_models.hpp"

namespace infervisor::supervisor {
namespace {

const ModelConfig& model_named(DType dtype) {
  static const auto models = [] {
    std::vector<ModelConfig> all;
    for (const DType each : kAllDTypes)
      all.push_back(fuzz::model_for(each));
    return all;
  }();
  for (const auto& model : models) {
    if (model.inputs[0].dtype == dtype) return model;
  }
  std::abort();
}

// What the rest of the daemon relies on once a request is accepted: every model input present,
// in order, with the declared dtype, an accepted shape and exactly the bytes that shape needs,
// lying in the body or in its own converted buffer.
void check_request(const ModelConfig& model, std::string_view body, const InferRequest& request) {
  fuzz_check(request.inputs.size() == model.inputs.size());
  for (std::size_t i = 0; i < model.inputs.size(); ++i) {
    const auto& tensor = request.inputs[i];
    fuzz_check(tensor.name == model.inputs[i].name && tensor.dtype == model.inputs[i].dtype);
    fuzz_check(model.inputs[i].accepts(tensor.shape));
    fuzz_check(checked_byte_size(tensor.dtype, tensor.shape) == tensor.data.size());
    const auto* data = reinterpret_cast<const char*>(tensor.data.data());
    const bool in_body =
        data >= body.data() && data + tensor.data.size() <= body.data() + body.size();
    const bool converted = tensor.data.data() == tensor.converted.data() &&
                           tensor.data.size() == tensor.converted.size();
    fuzz_check(tensor.data.empty() || in_body || converted);
  }
  for (const auto& output : request.outputs) {
    fuzz_check(std::any_of(model.outputs.begin(), model.outputs.end(),
                           [&](const TensorSpec& spec) { return spec.name == output.name; }));
  }
}

}  // namespace
}  // namespace infervisor::supervisor

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace infervisor;
  using namespace infervisor::supervisor;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  if (newline == std::string_view::npos) return -1;  // not in the input format: not in the corpus
  const std::string_view first_line = input.substr(0, newline);
  const std::string_view body = input.substr(newline + 1);
  const auto space = first_line.find(' ');
  const auto dtype = dtype_from_kserve(first_line.substr(0, space));
  if (!dtype) return -1;
  const ModelConfig& model = model_named(*dtype);
  try {
    std::optional<std::size_t> header_length;
    if (space != std::string_view::npos) {
      header_length = parse_header_length(first_line.substr(space + 1), body.size());
    }
    InferRequest request;
    parse_infer_request(model, body, header_length, request);
    check_request(model, body, request);
  } catch (const HttpError& error) {
    fuzz_check(error.status() == 400 || error.status() == 413);
  }
  return 0;
}
