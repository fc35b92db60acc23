// The command line a worker is started with: the one contract between infervisord and
// infervisor-worker besides the segment layout.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/config.hpp"

namespace infervisor::supervisor {

struct WorkerIdentity;

class WorkerCommand {
 public:
  WorkerCommand(const DaemonConfig& config, const ModelConfig& model,
                const WorkerIdentity& identity, std::string_view segment_name, int wakeup_fd);

  const std::filesystem::path& executable() const noexcept { return executable_; }
  const std::vector<std::string>& arguments() const noexcept { return arguments_; }
  // NAME=VALUE entries that differ from the daemon's environment: CUDA_VISIBLE_DEVICES=<its GPU's
  // UUID> for a GPU worker (which then sees that GPU as cuda:0), and an empty one for a CPU
  // worker, which must not create a CUDA context on some GPU by accident; OMP_NUM_THREADS and
  // OPENBLAS_NUM_THREADS set to its intra-op threads, so the BLAS under libtorch uses no more.
  const std::vector<std::string>& environment() const noexcept { return environment_; }

 private:
  std::filesystem::path executable_;
  std::vector<std::string> arguments_;
  std::vector<std::string> environment_;
};

// config.worker_path if set, else infervisor-worker beside the running infervisord.
std::filesystem::path worker_executable(const DaemonConfig& config);

}  // namespace infervisor::supervisor
