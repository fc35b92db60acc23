// Reading the JSON a server sends, trusting none of it: each helper checks the type (and range)
// it expects and otherwise throws InfervisorError(kCorrupt) naming the field ("outputs[1].name").
// Shared by the response decoders; pure, no I/O.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace infervisor::client::checked_json {

[[noreturn]] void corrupt(std::string message);

// Server text made safe to print: at most 500 bytes, control characters escaped (they could
// rewrite the user's terminal). Printable ASCII and UTF-8 pass.
std::string printable(std::string_view text);

// `text` parsed; kCorrupt "<what> is not valid JSON: ..." otherwise.
boost::json::value parse_json(std::string_view text, std::string_view what);

const boost::json::object& as_object(const boost::json::value& value, std::string_view path);
const boost::json::array& as_array(const boost::json::value& value, std::string_view path);

// The string at `key`; an absent key gives "" unless `required`.
std::string string_field(const boost::json::object& object, std::string_view key,
                         std::string_view path, bool required);

// A JSON integer from 0 to 2^64 - 1 (a fraction, a negative or a larger number is refused).
std::uint64_t unsigned_value(const boost::json::value& value, std::string_view field);
// The same at `key`, which must be there.
std::uint64_t unsigned_field(const boost::json::object& object, std::string_view key,
                             std::string_view path);

}  // namespace infervisor::client::checked_json
