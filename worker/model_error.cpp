#include "worker/model_error.hpp"

namespace infervisor::worker {

std::string summarize_model_error(std::string_view message) {
  std::string_view rest = message;
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == ' '))
    rest.remove_suffix(1);
  const auto newline = rest.rfind('\n');
  if (newline == std::string_view::npos) return std::string(message);
  const std::string_view last_line = rest.substr(newline + 1);
  if (last_line.find_first_not_of(' ') == std::string_view::npos) return std::string(message);
  return std::string(last_line) + "\n" + std::string(message);
}

}  // namespace infervisor::worker
