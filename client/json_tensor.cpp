#include "client/json_tensor.hpp"

#include <fmt/format.h>

#include "common/bool_bytes.hpp"
#include "common/dtype_visit.hpp"
#include "common/error.hpp"
#include "common/json_element.hpp"
#include "common/shape.hpp"

namespace infervisor::client {
namespace json = boost::json;
namespace {

// At most one array level per dimension, plus the flat form's single level.
constexpr std::size_t kMaxNesting = kMaxDims;

[[noreturn]] void corrupt(std::string_view what, std::string message) {
  throw InfervisorError(ErrorCode::kCorrupt, fmt::format("{}: {}", what, message));
}

// Collects the leaves of `data` in row-major order, refusing more than `limit` of them (so a
// hostile array cannot make us collect more than the shape allows).
void flatten(const json::value& data, std::size_t depth, std::uint64_t limit,
             std::vector<const json::value*>& leaves, std::string_view what) {
  if (!data.is_array()) {
    if (depth == 0)
      corrupt(what, fmt::format("'data' is {}, expected an array", json_value_excerpt(data)));
    leaves.push_back(&data);
    if (leaves.size() > limit) corrupt(what, fmt::format("'data' has more than {} values", limit));
    return;
  }
  if (depth >= kMaxNesting) corrupt(what, "'data' is nested deeper than the shape allows");
  for (const auto& item : data.get_array())
    flatten(item, depth + 1, limit, leaves, what);
}

}  // namespace

json::array tensor_data_to_json(DType dtype, std::span<const std::byte> data,
                                std::string_view what) {
  if (dtype == DType::kBool) {
    if (const auto i = first_invalid_bool(data)) {
      throw InfervisorError(ErrorCode::kInvalidArgument,
                            fmt::format("{}: BOOL element {} is {}, expected 0 or 1", what, *i,
                                        std::to_integer<unsigned>(data[*i])));
    }
  }
  return visit_dtype(dtype, [&]<class T>(std::type_identity<T>) {
    const std::size_t count = data.size() / sizeof(T);
    json::array out;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      const auto element = load_element<T>(data.data() + i * sizeof(T));
      auto value = json_element_value(element);
      // JSON has neither NaN nor infinity. null would arrive as NaN (an infinity changed, and
      // not every server takes null); binary data carries both exactly.
      if (value.is_null()) {
        throw InfervisorError(
            ErrorCode::kInvalidArgument,
            fmt::format("{}: element {} is {}, which JSON cannot carry; send it in binary mode",
                        what, i, element_value(element)));
      }
      out.push_back(std::move(value));
    }
    return out;
  });
}

std::vector<std::byte> tensor_data_from_json(DType dtype, const json::value& data,
                                             std::uint64_t element_count, std::string_view what) {
  std::vector<const json::value*> leaves;
  flatten(data, 0, element_count, leaves, what);
  if (leaves.size() != element_count) {
    corrupt(what,
            fmt::format("'data' has {} values, the shape needs {}", leaves.size(), element_count));
  }
  // The leaves exist, so this many bytes are bounded by the response we already hold.
  std::vector<std::byte> out(leaves.size() * dtype_size(dtype));
  visit_dtype(dtype, [&]<class T>(std::type_identity<T>) {
    for (std::size_t i = 0; i < leaves.size(); ++i) {
      const auto error = read_json_element<T>(*leaves[i], out.data() + i * sizeof(T));
      if (error != JsonElementError::kNone) {
        corrupt(what, fmt::format("'data' element {} is {}", i,
                                  json_element_error_text(dtype, *leaves[i], error)));
      }
    }
  });
  return out;
}

}  // namespace infervisor::client
