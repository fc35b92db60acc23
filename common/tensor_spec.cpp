#include "common/tensor_spec.hpp"

#include <charconv>

#include "common/error.hpp"
#include "common/shape.hpp"

namespace infervisor {

bool TensorSpec::accepts(std::span<const std::int64_t> shape) const noexcept {
  if (shape.size() != dims.size()) return false;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (shape[i] < 0) return false;
    if (dims[i] != kFreeDim && dims[i] != shape[i]) return false;
  }
  return true;
}

std::vector<std::int64_t> TensorSpec::concrete_dims(std::int64_t free_value) const {
  std::vector<std::int64_t> out(dims);
  for (auto& dim : out) {
    if (dim == kFreeDim) dim = free_value;
  }
  return out;
}

TensorSpec parse_tensor_spec(std::string_view text) {
  // Split at the last two colons: DTYPE and DIMS never hold one, but a name may ("input:0").
  const auto second = text.rfind(':');
  const auto first = second == 0 || second == std::string_view::npos ? std::string_view::npos
                                                                     : text.rfind(':', second - 1);
  if (first == std::string_view::npos) {
    throw InfervisorError(ErrorCode::kInvalidArgument,
                          fmt::format("tensor spec '{}' is not NAME:DTYPE:DIMS", text));
  }
  TensorSpec spec;
  spec.name = std::string(text.substr(0, first));
  if (spec.name.empty()) {
    throw InfervisorError(ErrorCode::kInvalidArgument,
                          fmt::format("tensor spec '{}' has an empty name", text));
  }
  const auto dtype_text = text.substr(first + 1, second - first - 1);
  const auto dtype = dtype_from_name(dtype_text);
  if (!dtype) {
    throw InfervisorError(ErrorCode::kInvalidArgument,
                          fmt::format("tensor spec '{}' has unknown dtype '{}'", text, dtype_text));
  }
  spec.dtype = *dtype;
  std::string_view rest = text.substr(second + 1);
  // An empty DIMS means a scalar; otherwise every comma must be followed by a dimension.
  for (bool more = !rest.empty(); more;) {
    const auto comma = rest.find(',');
    const auto item = rest.substr(0, comma);
    std::int64_t dim = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), dim);
    if (ec != std::errc{} || end != item.data() + item.size() || dim < kFreeDim) {
      throw InfervisorError(ErrorCode::kInvalidArgument,
                            fmt::format("tensor spec '{}' has bad dimension '{}'", text, item));
    }
    spec.dims.push_back(dim);
    more = comma != std::string_view::npos;
    if (more) rest = rest.substr(comma + 1);
  }
  if (spec.dims.size() > kMaxDims) {
    throw InfervisorError(
        ErrorCode::kInvalidArgument,
        fmt::format("tensor spec '{}' has more than {} dimensions", text, kMaxDims));
  }
  return spec;
}

std::string format_tensor_spec(const TensorSpec& spec) {
  std::string dims;
  for (std::size_t i = 0; i < spec.dims.size(); ++i) {
    if (i) dims += ',';
    dims += std::to_string(spec.dims[i]);
  }
  return fmt::format("{}:{}:{}", spec.name, dtype_name(spec.dtype), dims);
}

}  // namespace infervisor
