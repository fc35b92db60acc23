#include "supervisor/gpu_inventory.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/child_process.hpp"
#include "common/unique_fd.hpp"

namespace infervisor::supervisor {
namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A real GPU UUID: "GPU-" and hex digits with dashes. A lost GPU may show "GPU-????????...".
bool valid_uuid(std::string_view uuid) {
  if (!uuid.starts_with("GPU-") || uuid.size() < 12) return false;
  return std::all_of(uuid.begin() + 4, uuid.end(),
                     [](unsigned char c) { return std::isxdigit(c) || c == '-'; });
}

// One folder's `information` file: "Key: <tabs> value" lines.
GpuInfo read_information(const std::filesystem::path& folder) {
  GpuInfo gpu;
  gpu.pci_bus_id = lower(folder.filename().string());
  std::ifstream in(folder / "information");
  if (!in) {
    gpu.problem = fmt::format("{} cannot be read", (folder / "information").string());
    return gpu;
  }
  std::string uuid;
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto key = trim(std::string_view(line).substr(0, colon));
    const auto value = trim(std::string_view(line).substr(colon + 1));
    if (key == "Model") gpu.model = value;
    if (key == "GPU UUID") uuid = value;
  }
  if (valid_uuid(uuid)) {
    gpu.uuid = uuid;
  } else {
    gpu.problem = uuid.empty()
                      ? fmt::format("{} has no GPU UUID", (folder / "information").string())
                      : fmt::format("its UUID reads '{}' (the GPU is lost)", uuid);
  }
  return gpu;
}

std::optional<std::filesystem::path> find_on_path(std::string_view program) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "/usr/bin:/bin";
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    const auto dir = rest.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    if (dir.empty()) continue;
    auto candidate = std::filesystem::path(dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

// `nvidia-smi -L`'s standard output and error, or nullopt if it is missing or fails.
std::optional<std::string> run_nvidia_smi() {
  const auto program = find_on_path("nvidia-smi");
  if (!program) return std::nullopt;
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return std::nullopt;
  UniqueFd read_end(ends[0]);
  UniqueFd write_end(ends[1]);
  try {
    SpawnOptions options;
    options.stdout_fd = write_end.get();
    options.stderr_fd = write_end.get();  // "Unable to determine the device handle" goes there
    ChildProcess child = ChildProcess::spawn(*program, {"-L"}, options);
    write_end.reset();
    std::string text;
    char chunk[4096];
    while (true) {
      const ssize_t n = ::read(read_end.get(), chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      text.append(chunk, static_cast<std::size_t>(n));
    }
    const auto status = child.wait_for(std::chrono::seconds(10));
    if (!status) return std::nullopt;  // ~ChildProcess kills it
    return text;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::vector<GpuInfo> read_proc_gpus(const std::filesystem::path& folder) {
  std::vector<GpuInfo> gpus;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    if (entry.is_directory(ec)) gpus.push_back(read_information(entry.path()));
  }
  // Bus ids are fixed-width hex ("0000:18:00.0"), so text order is bus order: nvidia-smi's.
  std::sort(gpus.begin(), gpus.end(),
            [](const GpuInfo& a, const GpuInfo& b) { return a.pci_bus_id < b.pci_bus_id; });
  return gpus;
}

std::vector<GpuInfo> parse_nvidia_smi_list(std::string_view text) {
  std::vector<GpuInfo> gpus;
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);) {
    const std::string_view view(line);
    constexpr std::string_view kLost = "Unable to determine the device handle for GPU";
    if (view.starts_with(kLost)) {
      GpuInfo gpu;
      auto rest = trim(view.substr(kLost.size()));
      const auto colon = rest.find(": ");
      gpu.pci_bus_id = lower(trim(rest.substr(0, colon)));
      gpu.problem = colon == std::string_view::npos ? std::string("nvidia-smi cannot reach it")
                                                    : std::string(trim(rest.substr(colon + 2)));
      gpus.push_back(std::move(gpu));
      continue;
    }
    if (!view.starts_with("GPU ")) continue;  // MIG devices are indented; other text is noise
    const auto colon = view.find(": ");
    if (colon == std::string_view::npos) continue;
    GpuInfo gpu;
    auto rest = view.substr(colon + 2);
    constexpr std::string_view kUuid = "(UUID: ";
    const auto open = rest.rfind(kUuid);
    if (open != std::string_view::npos) {
      const auto close = rest.find(')', open);
      const auto uuid = rest.substr(open + kUuid.size(), close == std::string_view::npos
                                                             ? std::string_view::npos
                                                             : close - open - kUuid.size());
      if (valid_uuid(uuid)) {
        gpu.uuid = uuid;
      } else {
        gpu.problem = fmt::format("nvidia-smi gives its UUID as '{}'", uuid);
      }
      rest = rest.substr(0, open);
    } else {
      gpu.problem = "nvidia-smi gives no UUID for it";
    }
    gpu.model = trim(rest);
    gpus.push_back(std::move(gpu));
  }
  return gpus;
}

std::vector<GpuInfo> visible_gpus(const std::vector<GpuInfo>& gpus,
                                  std::optional<std::string_view> cuda_visible_devices,
                                  std::string* ignored) {
  if (!cuda_visible_devices) return gpus;  // unusable ones keep their place (and index)
  std::vector<GpuInfo> out;
  std::vector<std::size_t> taken;
  std::string_view rest = *cuda_visible_devices;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto entry = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    std::optional<std::size_t> match;
    std::string why;
    std::size_t index = 0;
    const auto [end, ec] = std::from_chars(entry.data(), entry.data() + entry.size(), index);
    if (!entry.empty() && ec == std::errc{} && end == entry.data() + entry.size()) {
      if (index < gpus.size()) {
        match = index;
      } else {
        why = fmt::format("there are {} GPUs", gpus.size());
      }
    } else if (entry.starts_with("GPU-")) {
      for (std::size_t i = 0; i < gpus.size(); ++i) {
        if (gpus[i].usable() && std::string_view(gpus[i].uuid).starts_with(entry)) {
          if (match) {
            why = "more than one GPU's UUID starts so";
            match.reset();
            break;
          }
          match = i;
        }
      }
      if (!match && why.empty()) why = "no GPU has that UUID";
    } else {
      why = "neither an index nor a GPU UUID";
    }
    if (match && std::find(taken.begin(), taken.end(), *match) != taken.end()) {
      why = "that GPU is already listed";
      match.reset();
    }
    if (match && !gpus[*match].usable()) {
      why = fmt::format("that GPU is unusable: {}", gpus[*match].problem);
      match.reset();
    }
    if (!match) {
      if (ignored) {
        *ignored = fmt::format(
            "CUDA_VISIBLE_DEVICES='{}': '{}' and what follows it are ignored ({}), as CUDA does",
            *cuda_visible_devices, entry, why);
      }
      break;
    }
    taken.push_back(*match);
    out.push_back(gpus[*match]);
  }
  return out;
}

GpuInventory discover_gpus() {
  GpuInventory inventory;
  std::vector<GpuInfo> all = read_proc_gpus(kProcGpuFolder);
  inventory.source = kProcGpuFolder;
  if (all.empty()) {
    if (const auto text = run_nvidia_smi()) {
      all = parse_nvidia_smi_list(*text);
      inventory.source = "nvidia-smi -L";
    } else {
      inventory.source = fmt::format("{} (absent) and nvidia-smi (not found)", kProcGpuFolder);
    }
  }
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  std::string ignored;
  inventory.gpus = visible_gpus(
      all, visible ? std::optional<std::string_view>(visible) : std::nullopt, &ignored);
  if (visible) inventory.source += fmt::format(", CUDA_VISIBLE_DEVICES='{}'", visible);
  if (!ignored.empty()) inventory.source += "; " + ignored;
  for (const auto& gpu : all) {
    if (!gpu.usable()) {
      inventory.source += fmt::format("; GPU {} is unusable: {}", gpu.pci_bus_id, gpu.problem);
    }
  }
  return inventory;
}

}  // namespace infervisor::supervisor
