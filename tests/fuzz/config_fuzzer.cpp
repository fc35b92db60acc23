// Fuzzes the config loader (supervisor/config.hpp, parse_config) with YAML text, as
// `infervisord --config` reads a file. InfervisorError ("file:line: key: reason") is its
// documented answer to a bad config; any other exception escaping (yaml-cpp's own included), a
// crash, a sanitizer report or a hang is a finding.
//
// Model and library paths must name existing files relative to the config's folder: a folder
// with model.pt, libops.so and models/mlp.pt is made once, so that valid configs are reachable.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/error.hpp"
#include "supervisor/config.hpp"

namespace {

std::filesystem::path& folder() {
  static std::filesystem::path path;
  return path;
}

void remove_folder() {
  std::error_code ignored;
  std::filesystem::remove_all(folder(), ignored);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  folder() = std::filesystem::temp_directory_path() /
             ("infervisor-config-fuzz-" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder() / "models");
  for (const char* file : {"model.pt", "libops.so", "models/mlp.pt"})
    std::ofstream(folder() / file) << "not really a model\n";
  std::atexit(remove_folder);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace infervisor;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto config = supervisor::parse_config(text, folder() / "fuzz.yaml");
    // What the daemon computes from a config it accepted.
    for (const auto& model : config.models) {
      for (const auto& group : model.instance_groups)
        (void)supervisor::thread_plan(config, model, group.device.kind, 2);
    }
  } catch (const InfervisorError&) {
  }
  return 0;
}
