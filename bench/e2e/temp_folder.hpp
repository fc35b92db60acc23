// A private temporary folder (config, socket, daemon log), removed with everything in it when the
// object goes.
#pragma once

#include <filesystem>
#include <string_view>

namespace infervisor::bench::e2e {

class TempFolder {
 public:
  // /tmp/<stem>-XXXXXX, created with mode 0700. Throws std::system_error.
  explicit TempFolder(std::string_view stem);
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  ~TempFolder();

  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace infervisor::bench::e2e
