// The machine's NVIDIA GPUs as the daemon sees them, without initializing CUDA (the daemon never
// links it, and a CUDA context in the daemon would cost every worker's GPU memory):
//   1. /proc/driver/nvidia/gpus/<PCI bus id>/information, one folder per GPU the driver knows;
//   2. else the text of `nvidia-smi -L`.
// Both give the GPUs in nvidia-smi order (by PCI bus id), with their UUIDs. A GPU whose UUID
// cannot be read (it fell off the bus: the folder has no readable information, or nvidia-smi
// says it is lost) keeps its place, so the other GPUs keep the indexes nvidia-smi gives them; it
// just cannot be used. The daemon's own CUDA_VISIBLE_DEVICES, if set, then restricts the list.
//
// Every reader takes its input as an argument (a folder, a text, a variable's value), so tests
// feed it made-up machines.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace infervisor::supervisor {

struct GpuInfo {
  std::string pci_bus_id;  // "0000:18:00.0" (lower-case), or "" if nvidia-smi did not say
  std::string model;       // "NVIDIA H200"
  std::string uuid;        // "GPU-5a8f3c1e-..."; empty: the GPU is there but unusable (lost)
  std::string problem;     // why it is unusable, for messages

  bool usable() const noexcept { return !uuid.empty(); }
};

inline constexpr const char* kProcGpuFolder = "/proc/driver/nvidia/gpus";

// The GPUs under `folder` (one sub-folder per PCI bus id), sorted by bus id. Empty if the folder
// does not exist (no NVIDIA driver loaded).
std::vector<GpuInfo> read_proc_gpus(const std::filesystem::path& folder);

// The GPUs in the output of `nvidia-smi -L`, in its order:
//   GPU 0: NVIDIA H200 (UUID: GPU-...)
//   Unable to determine the device handle for GPU 0000:3B:00.0: GPU is lost...
// MIG lines (indented) belong to the GPU above them and are skipped.
std::vector<GpuInfo> parse_nvidia_smi_list(std::string_view text);

// The GPUs a process with this CUDA_VISIBLE_DEVICES may use, in the variable's order (nullopt:
// unset, all of `gpus`, unusable ones included so that every GPU keeps its nvidia-smi index).
// Entries are nvidia-smi indexes into `gpus` or UUIDs (a unique prefix such as "GPU-5a8f" will
// do). As CUDA does, the list ends at the first entry that names no GPU, a GPU already listed or
// an unusable one; `ignored` (if given) then says what was dropped.
std::vector<GpuInfo> visible_gpus(const std::vector<GpuInfo>& gpus,
                                  std::optional<std::string_view> cuda_visible_devices,
                                  std::string* ignored = nullptr);

struct GpuInventory {
  std::vector<GpuInfo> gpus;  // visible to the daemon, in nvidia-smi order: index = cuda:N
  std::string source;         // where the list came from, for messages
};

// This machine's GPUs: the /proc folder, else `nvidia-smi -L` (if it is on the PATH), restricted
// by the daemon's CUDA_VISIBLE_DEVICES. Never throws; no GPUs is an empty list.
GpuInventory discover_gpus();

}  // namespace infervisor::supervisor
