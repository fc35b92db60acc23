#include "supervisor/worker_command.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "common/blas_threads.hpp"
#include "supervisor/worker_process.hpp"

namespace infervisor::supervisor {

std::filesystem::path worker_executable(const DaemonConfig& config) {
  if (!config.worker_path.empty()) return config.worker_path;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path("infervisor-worker") : self.parent_path() / "infervisor-worker";
}

WorkerCommand::WorkerCommand(const DaemonConfig& config, const ModelConfig& model,
                             const WorkerIdentity& identity, std::string_view segment_name,
                             int wakeup_fd)
    : executable_(worker_executable(config)) {
  auto add = [this](std::string flag, std::string value) {
    arguments_.push_back(std::move(flag));
    arguments_.push_back(std::move(value));
  };
  add("--segment", std::string(segment_name));
  add("--generation", std::to_string(identity.generation));
  add("--supervisor-pid", std::to_string(::getpid()));
  add("--wakeup-fd", std::to_string(wakeup_fd));
  add("--model-name", model.name);
  add("--model-path", model.path.string());
  const bool gpu = identity.device.kind == DeviceSpec::Kind::kCuda;
  // The worker sees only its own GPU, as cuda:0. (An unplaced cuda:N, as in tests that build
  // identities by hand, keeps the daemon's view and index.)
  add("--device", gpu && !identity.device.gpu_uuid.empty() ? std::string("cuda:0")
                                                           : identity.device.to_string());
  add("--threads", std::to_string(identity.threads));
  add("--interop-threads", std::to_string(identity.interop_threads));
  add("--instance", std::to_string(identity.instance));
  add("--spin-us", std::to_string(config.spin.count()));
  add("--log-level", std::string(spdlog::level::to_string_view(config.log_level).data(),
                                 spdlog::level::to_string_view(config.log_level).size()));
  for (const auto& input : model.inputs)
    add("--input", format_tensor_spec(input));
  for (const auto& output : model.outputs)
    add("--output", format_tensor_spec(output));
  for (const auto& library : model.libraries)
    add("--library", library.string());
  environment_ = blas_thread_environment(identity.threads);
  if (!gpu) {
    environment_.push_back("CUDA_VISIBLE_DEVICES=");
  } else if (!identity.device.gpu_uuid.empty()) {
    environment_.push_back("CUDA_VISIBLE_DEVICES=" + identity.device.gpu_uuid);
  }
}

}  // namespace infervisor::supervisor
