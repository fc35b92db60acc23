#include "client/checked_json.hpp"

#include <fmt/format.h>

#include <boost/json/parse.hpp>

#include "common/error.hpp"

namespace infervisor::client::checked_json {
namespace json = boost::json;

void corrupt(std::string message) {
  throw InfervisorError(ErrorCode::kCorrupt, std::move(message));
}

std::string printable(std::string_view text) {
  constexpr std::size_t kMaxShown = 500;
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  return out;
}

json::value parse_json(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) corrupt(fmt::format("{} is not valid JSON: {}", what, ec.message()));
  return value;
}

const json::object& as_object(const json::value& value, std::string_view path) {
  if (!value.is_object()) corrupt(fmt::format("{}: expected a JSON object", path));
  return value.get_object();
}

const json::array& as_array(const json::value& value, std::string_view path) {
  if (!value.is_array()) corrupt(fmt::format("{}: expected a JSON array", path));
  return value.get_array();
}

std::string string_field(const json::object& object, std::string_view key, std::string_view path,
                         bool required) {
  const auto* value = object.if_contains(key);
  if (value == nullptr) {
    if (required) corrupt(fmt::format("{}.{}: missing", path, key));
    return {};
  }
  if (!value->is_string()) corrupt(fmt::format("{}.{}: expected a string", path, key));
  return std::string(value->get_string());
}

std::uint64_t unsigned_value(const json::value& value, std::string_view field) {
  if (value.is_uint64()) return value.get_uint64();
  if (value.is_int64() && value.get_int64() >= 0)
    return static_cast<std::uint64_t>(value.get_int64());
  corrupt(fmt::format("{}: expected a non-negative integer", field));
}

std::uint64_t unsigned_field(const json::object& object, std::string_view key,
                             std::string_view path) {
  const auto* value = object.if_contains(key);
  if (value == nullptr) corrupt(fmt::format("{}.{}: missing", path, key));
  return unsigned_value(*value, fmt::format("{}.{}", path, key));
}

}  // namespace infervisor::client::checked_json
