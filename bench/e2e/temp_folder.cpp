#include "bench/e2e/temp_folder.hpp"

#include <fmt/format.h>
#include <stdlib.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace infervisor::bench::e2e {

TempFolder::TempFolder(std::string_view stem) {
  // mkdtemp, not a name from our pid: a crashed earlier run may have left its folder behind.
  std::string name =
      (std::filesystem::temp_directory_path() / fmt::format("{}-XXXXXX", stem)).string();
  if (::mkdtemp(name.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), fmt::format("mkdtemp {}", name));
  }
  path_ = name;
}

TempFolder::~TempFolder() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace infervisor::bench::e2e
