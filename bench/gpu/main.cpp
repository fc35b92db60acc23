// infervisor-bench-gpu: an image model (ResNet-50, scripted at benchmark time by
// bench/gpu/make_resnet50.py) through infervisord's GPU workers, next to in-process libtorch with
// the same model, batch, pinned input and threads, the Unix socket's bulk rate for the same bytes,
// and host-to-device bandwidth from a pinned ring, all in one run, printed as one table.
//
//   infervisor-bench-gpu --model FILE.pt [--build-dir DIR] [--seconds S] [--quick]
//                        [--shared-memory-only] [--b1-rounds N]
//     FILE.pt takes x FP32 [-1, 3, 224, 224] and returns y FP32 [-1, 1000]
//
// The socket sink peer is this executable again, spawned with --socket-sink.
#include <fcntl.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "bench/common/machine.hpp"
#include "bench/common/socket_transfer.hpp"
#include "bench/e2e/daemon_process.hpp"
#include "bench/e2e/in_process_baseline.hpp"
#include "bench/e2e/infer_payload.hpp"
#include "bench/e2e/load_generator.hpp"
#include "bench/e2e/region_tensors.hpp"
#include "bench/gpu/stage_log.hpp"
#ifdef INFERVISOR_BENCH_CUDA
#include "bench/gpu/cuda_region_tensors.hpp"
#endif
#include "common/child_process.hpp"
#include "common/unique_fd.hpp"

namespace infervisor::bench::gpu {
namespace {

using e2e::InProcessBaseline;
using e2e::LoadResult;

constexpr const char* kSinkFlag = "--socket-sink";
constexpr int kBatches[] = {1, 8, 32};
constexpr std::int64_t kImageFloats = 3 * 224 * 224;
constexpr std::int64_t kClasses = 1000;

// Placement. Launching a ResNet-50's kernels is CPU-bound at small batches, and on the VM a
// process's launch thread ran 1.5x faster or slower depending on where the scheduler put it (the
// same in-process run gave 2.3 and 3.9 ms). So the in-process runs and the workers get the same
// CPUs, one physical core each, and the daemon and the load generator cores of their own.
struct Cpus {
  int worker[2] = {-1, -1};  // worker i's CPU, and in-process caller i's
  int daemon = -1;
  int load = -1;
  bool pinned() const { return worker[0] >= 0; }
};

// The first CPU of each physical core this process may use, in order.
std::vector<int> core_cpus() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  std::vector<int> cores;
  if (::sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    std::ifstream siblings(
        fmt::format("/sys/devices/system/cpu/cpu{}/topology/thread_siblings_list", cpu));
    int first = cpu;
    if (siblings >> first && first != cpu) continue;  // a second hyperthread of a core listed
    cores.push_back(cpu);
  }
  return cores;
}

Cpus choose_cpus() {
  const auto cores = core_cpus();
  Cpus cpus;
  if (cores.size() < 5) return cpus;  // too few to keep the parts apart: let the scheduler place
  cpus.worker[0] = cores[1];          // core 0 takes most interrupts
  cpus.worker[1] = cores[2];
  cpus.daemon = cores[3];
  cpus.load = cores[4];
  return cpus;
}

cpu_set_t cpu_set_of(std::initializer_list<int> cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (const int cpu : cpus) {
    if (cpu >= 0) CPU_SET(cpu, &set);
  }
  return set;
}

// Every thread of `pid` onto `set` (threads it starts later inherit it).
void pin_process(pid_t pid, const cpu_set_t& set) {
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
    ::sched_setaffinity(std::stoi(task.path().filename().string()), sizeof(set), &set);
  }
}

// The calling thread on `set` while it lives (children spawned meanwhile inherit it).
class ScopedAffinity {
 public:
  explicit ScopedAffinity(const cpu_set_t& set) {
    CPU_ZERO(&saved_);
    ::sched_getaffinity(0, sizeof(saved_), &saved_);
    ::sched_setaffinity(0, sizeof(set), &set);
  }
  ScopedAffinity(const ScopedAffinity&) = delete;
  ScopedAffinity& operator=(const ScopedAffinity&) = delete;
  ~ScopedAffinity() { ::sched_setaffinity(0, sizeof(saved_), &saved_); }

 private:
  cpu_set_t saved_;
};

struct Options {
  std::filesystem::path self;
  std::filesystem::path build_dir;
  std::filesystem::path model;
  std::chrono::milliseconds warm_up{1000};
  std::chrono::milliseconds measure{4000};
  bool quick = false;
  // Only what issue 10 compares: in-process, the socket and shared-memory regions, 1 worker.
  bool shared_memory_only = false;
  int b1_rounds = 0;  // alternating batch-1 rounds (alternate_b1); 0: none
  Cpus cpus;

  std::filesystem::path bin(const char* name) const { return build_dir / "bin" / name; }
};

template <class... Args>
void progress(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(stderr, "[bench-gpu] {}\n", fmt::format(format, std::forward<Args>(args)...));
}

// A command's standard output (and error), or "" if it cannot run.
std::string output_of(const std::filesystem::path& program, const std::vector<std::string>& args) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return {};
  UniqueFd read_end(ends[0]);
  UniqueFd write_end(ends[1]);
  try {
    SpawnOptions spawn;
    spawn.stdout_fd = write_end.get();
    spawn.stderr_fd = write_end.get();
    ChildProcess child = ChildProcess::spawn(program, args, spawn);
    write_end.reset();
    std::string text;
    char chunk[4096];
    while (true) {
      const ssize_t n = ::read(read_end.get(), chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      text.append(chunk, static_cast<std::size_t>(n));
    }
    child.wait_for(std::chrono::seconds(120));
    return text;
  } catch (const std::exception&) {
    return {};
  }
}

std::string input_spec(int batch) {
  return fmt::format("x:float32:{},3,224,224", batch);
}

std::size_t request_bytes(int batch) {
  return static_cast<std::size_t>(batch * kImageFloats) * sizeof(float);
}

// How a row's tensors travel: over the socket, in the client's shared-memory regions (POSIX
// shm), or in CUDA regions (the client's GPU memory).
enum class Path { kSocket, kRegions, kCudaRegions };

std::string_view path_name(Path path) {
  return path == Path::kCudaRegions ? "cuda" : path == Path::kRegions ? "shm" : "sock";
}

struct LoadRow {
  int workers = 1;
  int batch = 1;
  int inflight = 1;
  std::string note;  // settings that differ from the defaults
  Path path = Path::kSocket;
  LoadResult result;
  StageMeans stages;
  double images_per_s() const { return result.requests_per_s * batch; }
};

LoadRow measure(const e2e::DaemonProcess& daemon, const Options& options, int workers, int batch,
                int inflight, Path path) {
  progress("{} worker(s), b{}, {} in flight, path {}", workers, batch, inflight, path_name(path));
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  e2e::LoadPlan plan;
  plan.connections = inflight;
  plan.warm_up = options.warm_up;
  plan.measure = options.measure;
  plan.window_opened = [&] { from = log_size(daemon.log_path()); };
  plan.window_closed = [&] { to = log_size(daemon.log_path()); };
  e2e::PayloadShape shape{
      "resnet50", {batch, 3, 224, 224}, static_cast<std::size_t>(batch * kClasses)};
  LoadRow row{workers, batch, inflight, "", path, {}, {}};
  if (path == Path::kCudaRegions) {
#ifdef INFERVISOR_BENCH_CUDA
    const CudaRegionTensors tensors(daemon.socket(), shape);
    row.result = e2e::run_load(daemon.socket(), tensors.payload(), plan);
#endif
  } else if (path == Path::kRegions) {
    const e2e::RegionTensors tensors(daemon.socket(), shape);
    row.result = e2e::run_load(daemon.socket(), tensors.payload(), plan);
  } else {
    row.result = e2e::run_load(daemon.socket(),
                               e2e::make_infer_payload(e2e::TensorEncoding::kBinary, shape), plan);
  }
  row.stages = read_stage_means(daemon.log_path(), from, to);
  return row;
}

// One daemon serving the model on cuda:0 (client shared memory on, stage times logged), its
// processes pinned as the in-process callers are.
std::unique_ptr<e2e::DaemonProcess> start_daemon(const Options& options, int workers,
                                                 const std::string& spin,
                                                 const std::string& spin_while_busy) {
  e2e::DaemonSettings settings;
  settings.bin_dir = options.build_dir / "bin";
  settings.model = options.model;
  settings.model_name = "resnet50";
  settings.input = "{name: x, dtype: FP32, shape: [-1, 3, 224, 224]}";
  settings.output = "{name: y, dtype: FP32, shape: [-1, 1000]}";
  settings.device = "cuda:0";
  settings.workers = workers;
  settings.log_level = "debug";  // every answer's stage times (stage_log.hpp)
  settings.spin = spin;
  settings.spin_while_busy = spin_while_busy;
  settings.daemon_extra = "client_shared_memory: true\n";
  progress("starting infervisord with {} worker(s) on cuda:0", workers);
  auto daemon = std::make_unique<e2e::DaemonProcess>(settings);
  daemon->wait_ready(std::chrono::seconds(300));
  if (options.cpus.pinned()) {
    pin_process(daemon->pid(), cpu_set_of({options.cpus.daemon}));
    // The workers get the CPUs the in-process callers had, both of them: a CUDA process runs
    // its driver's threads beside the launching one, and on one CPU of its own a batch-1
    // forward took ~0.8 ms longer than in-process on two (H200 machine, 2026-12-02).
    const auto workers = cpu_set_of({options.cpus.worker[0], options.cpus.worker[1]});
    for (const pid_t pid : daemon->worker_pids())
      pin_process(pid, workers);
  }
  return daemon;
}

// `spin`, `spin_while_busy`: the daemon's settings of those names; empty: their defaults.
std::vector<LoadRow> daemon_rows(const Options& options, int workers,
                                 const std::vector<std::pair<int, int>>& batch_inflight,
                                 const std::string& spin = {},
                                 const std::string& spin_while_busy = {},
                                 Path path = Path::kSocket) {
  const auto started = start_daemon(options, workers, spin, spin_while_busy);
  e2e::DaemonProcess& daemon = *started;
  std::vector<LoadRow> rows;
  for (const auto& [batch, inflight] : batch_inflight) {
    rows.push_back(measure(daemon, options, workers, batch, inflight, path));
  }
  const auto status = daemon.stop(std::chrono::seconds(60));
  if (!status.success()) {
    throw std::runtime_error(fmt::format("infervisord {} at SIGTERM; its log ends:\n{}",
                                         status.describe(), daemon.log_tail()));
  }
  // The workers' READY lines say what they run on: quote them.
  const auto log = daemon.log_tail(1 << 20);
  std::size_t at = 0;
  for (int shown = 0; shown < workers && (at = log.find("ready in", at)) != std::string::npos;
       ++shown) {
    const auto begin = log.rfind('\n', at) + 1;
    const auto end = log.find('\n', at);
    progress("{}", log.substr(begin, end - begin));
    at = end;
  }
  return rows;
}

// Batch 1 at 1 in flight, where what the transport adds (tens of microseconds) hides in the
// forward's spread between runs of the same binary (one run's in-process p50 was 1.99 ms,
// another's 3.31 ms on the same machine). So: `rounds` rounds on one daemon, each an in-process
// run followed at once by the socket, system-region and CUDA-region rows; what a path adds is
// the median over the rounds of its p50 minus that round's in-process p50.
struct B1Round {
  double in_process_us = 0;
  double socket_us = 0;
  double regions_us = 0;
  double cuda_us = 0;  // 0: not built with CUDA
};

std::vector<B1Round> alternate_b1(const Options& options) {
  const auto daemon = start_daemon(options, 1, {}, {});
  Options brief = options;
  brief.warm_up = std::chrono::milliseconds(300);
  brief.measure = std::chrono::milliseconds(options.quick ? 700 : 1500);
  std::vector<B1Round> rounds;
  for (int round = 0; round < options.b1_rounds; ++round) {
    progress("batch-1 round {} of {}", round + 1, options.b1_rounds);
    B1Round row;
    {
      std::optional<ScopedAffinity> pinned;
      if (options.cpus.pinned()) {
        pinned.emplace(cpu_set_of({options.cpus.worker[0], options.cpus.worker[1]}));
      }
      row.in_process_us = e2e::run_in_process_baseline(
                              options.bin("infervisor-reference"), options.model, input_spec(1), 1,
                              options.quick ? 100 : 300, {"--device", "cuda:0"})
                              .p50_us;
    }
    row.socket_us = measure(*daemon, brief, 1, 1, 1, Path::kSocket).result.latency.p50_us;
    row.regions_us = measure(*daemon, brief, 1, 1, 1, Path::kRegions).result.latency.p50_us;
#ifdef INFERVISOR_BENCH_CUDA
    row.cuda_us = measure(*daemon, brief, 1, 1, 1, Path::kCudaRegions).result.latency.p50_us;
#endif
    rounds.push_back(row);
  }
  const auto status = daemon->stop(std::chrono::seconds(60));
  if (!status.success()) {
    throw std::runtime_error(fmt::format("infervisord {} at SIGTERM; its log ends:\n{}",
                                         status.describe(), daemon->log_tail()));
  }
  return rounds;
}

double median_added(const std::vector<B1Round>& rounds, double B1Round::*path) {
  std::vector<double> added;
  for (const auto& round : rounds)
    added.push_back(round.*path - round.in_process_us);
  std::sort(added.begin(), added.end());
  if (added.empty()) return 0;
  const std::size_t middle = added.size() / 2;
  return added.size() % 2 == 1 ? added[middle] : (added[middle - 1] + added[middle]) / 2;
}

const LoadRow* find_row(const std::vector<LoadRow>& rows, int workers, int batch, int inflight,
                        Path path = Path::kSocket) {
  for (const auto& row : rows) {
    if (row.workers == workers && row.batch == batch && row.inflight == inflight &&
        row.path == path && row.note.empty())
      return &row;
  }
  return nullptr;
}

std::string verdict(bool met) {
  return met ? "met" : "MISSED";
}

int run(const Options& options) {
  const auto began = std::chrono::steady_clock::now();
  const auto started_at =
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const std::string load_at_start = load_average();
  const int iterations_scale = options.quick ? 5 : 1;

  const std::string gpu =
      output_of("/usr/bin/nvidia-smi",
                {"--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"});

  // 1. The Unix socket's bulk rate for each batch's request bytes.
  progress("Unix socket bulk transfers");
  std::map<int, double> socket_gb_per_s;
  for (const int batch : kBatches) {
    const std::size_t bytes = request_bytes(batch);
    const int transfers =
        std::clamp(static_cast<int>(4e9 / static_cast<double>(bytes)), 20, 2000) / iterations_scale;
    socket_gb_per_s[batch] =
        socket_bulk_bytes_per_second({options.self, {kSinkFlag}}, bytes, transfers) / 1e9;
  }

  // 2. Host-to-device bandwidth from a pinned ring (its own program: it links CUDA).
  std::string h2d = "(infervisor-bench-h2d not built: no CUDA)\n";
  if (std::filesystem::exists(options.bin("infervisor-bench-h2d"))) {
    progress("host-to-device bandwidth");
    std::vector<std::string> sizes;
    for (const int batch : kBatches)
      sizes.push_back(std::to_string(request_bytes(batch)));
    h2d = output_of(options.bin("infervisor-bench-h2d"), sizes);
  }

  // 3. In-process: the same ModelRunner path as the worker, 1 and 2 caller threads.
  std::map<int, InProcessBaseline> in_process;
  for (const int batch : kBatches) {
    const int iterations = (batch == 1 ? 1000 : batch == 8 ? 500 : 200) / iterations_scale;
    progress("in-process b{}: {} forwards, then 2 threads x {}", batch, iterations, iterations);
    std::optional<ScopedAffinity> pinned;  // the workers' CPUs: the same launch speed
    if (options.cpus.pinned()) {
      pinned.emplace(cpu_set_of({options.cpus.worker[0], options.cpus.worker[1]}));
    }
    in_process[batch] =
        e2e::run_in_process_baseline(options.bin("infervisor-reference"), options.model,
                                     input_spec(batch), 2, iterations, {"--device", "cuda:0"});
  }
  // The GPU workers' default intra-op threads, chosen from these rows.
  std::vector<std::tuple<int, int, InProcessBaseline>> thread_rows;
  for (const int batch : {1, 8}) {
    if (options.shared_memory_only) break;
    for (const int threads : {1, 2, 4}) {
      progress("in-process b{} with {} intra-op threads", batch, threads);
      thread_rows.emplace_back(
          batch, threads,
          e2e::run_in_process_baseline(
              options.bin("infervisor-reference"), options.model, input_spec(batch), 1,
              500 / iterations_scale,
              {"--device", "cuda:0", "--intra-op-threads", std::to_string(threads)}));
    }
  }
  // Inter-op threads take effect: two torch.jit.fork branches (CPU work, one intra-op thread).
  std::vector<std::pair<int, InProcessBaseline>> fork_rows;
  const auto forked = options.build_dir / "models" / "forked.pt";
  for (const int interop : {1, 2}) {
    if (options.shared_memory_only) break;
    progress("forked model with {} inter-op thread(s)", interop);
    fork_rows.emplace_back(
        interop, e2e::run_in_process_baseline(options.bin("infervisor-reference"), forked,
                                              "x:float32:1,256", 1, 100 / iterations_scale,
                                              {"--interop-threads", std::to_string(interop)}));
  }

  // 4. infervisord: 1 worker, then 2 workers on the same GPU.
  std::vector<LoadRow> rows;
  const std::vector<std::pair<int, int>> compared{{1, 1}, {8, 4}, {32, 4}};
  if (options.shared_memory_only) {
    for (auto& row : daemon_rows(options, 1, compared))
      rows.push_back(row);
  } else {
    for (auto& row : daemon_rows(options, 1, {{1, 1}, {1, 4}, {8, 1}, {8, 4}, {32, 1}, {32, 4}})) {
      rows.push_back(row);
    }
    for (auto& row : daemon_rows(options, 2, {{1, 4}, {1, 16}, {8, 4}, {8, 8}, {32, 4}})) {
      rows.push_back(row);
    }
    // What parking costs at batch 1: both sides spin instead (info).
    for (auto& row : daemon_rows(options, 1, {{1, 1}}, "1ms", "10ms")) {
      row.note = "spin 1ms, spin_while_busy 10ms";
      rows.push_back(row);
    }
  }
  // Issue 10: the same jobs with their tensors in client shared-memory regions.
  for (auto& row : daemon_rows(options, 1, compared, {}, {}, Path::kRegions)) {
    rows.push_back(row);
  }
#ifdef INFERVISOR_BENCH_CUDA
  // ... and in CUDA regions: the client's GPU memory, read and written in place by the worker.
  for (auto& row : daemon_rows(options, 1, compared, {}, {}, Path::kCudaRegions)) {
    rows.push_back(row);
  }
#endif
  const std::vector<B1Round> b1_rounds =
      options.b1_rounds > 0 ? alternate_b1(options) : std::vector<B1Round>{};

  // The table.
  const auto& any = in_process.begin()->second;
  fmt::print("infervisor-bench-gpu, {:%Y-%m-%d %H:%M:%S} UTC\n", started_at);
  fmt::print("machine:  {}, load {} at start\n", describe_machine(), load_at_start);
  fmt::print("GPU:      {}", gpu.empty() ? "(nvidia-smi gave nothing)\n" : gpu);
  fmt::print("device:   {} (as the worker's CUDA runtime reports it)\n", any.device_description);
  fmt::print("torch:    {}; model {} (x FP32 [B, 3, 224, 224] -> y FP32 [B, 1000])\n",
             any.torch_version, options.model.string());
  fmt::print("build:    {}; windows {} ms after {} ms warm-up\n", __VERSION__,
             options.measure.count(), options.warm_up.count());
  fmt::print(
      "pinning:  {}\n\n",
      options.cpus.pinned()
          ? fmt::format("workers and in-process callers on CPUs {} and {}, the daemon on {}, "
                        "the load generator on {} (one physical core each)",
                        options.cpus.worker[0], options.cpus.worker[1], options.cpus.daemon,
                        options.cpus.load)
          : std::string("none (fewer than 5 physical cores)"));

  fmt::print(
      "In-process libtorch (infervisor-reference: pinned input, async copies, one wait per "
      "job), 1 intra-op thread\n");
  fmt::print("  {:>5} {:>9} {:>9} {:>11} {:>12} | stages, us: {:>6} {:>8} {:>7}\n", "batch",
             "p50 ms", "p99 ms", "1 thr img/s", "2 thr img/s", "in", "forward", "out");
  for (const auto& [batch, base] : in_process) {
    fmt::print(
        "  {:>5} {:>9.3f} {:>9.3f} {:>11.0f} {:>12.0f} |             {:>6.1f} {:>8.1f} "
        "{:>7.1f}\n",
        batch, base.p50_us / 1e3, base.p99_us / 1e3, batch * 1e6 / base.mean_us,
        batch * base.forwards_per_s, base.input_copy_us, base.forward_us, base.output_copy_us);
  }
  fmt::print("  p50 (forward stage) by intra-op threads:");
  for (const auto& [batch, threads, base] : thread_rows) {
    fmt::print("  b{} {} -> {:.3f} ({:.3f}) ms", batch, threads, base.p50_us / 1e3,
               base.forward_us / 1e3);
  }
  fmt::print("\n  forked model (2 fork branches, CPU) p50 by inter-op threads:");
  for (const auto& [interop, base] : fork_rows) {
    fmt::print("  {} -> {:.2f} ms", interop, base.p50_us / 1e3);
  }
  fmt::print("\n\n");

  fmt::print(
      "infervisord, binary tensors over the Unix socket (or in shared-memory regions: path "
      "'shm'; in CUDA regions: 'cuda'), workers on cuda:0\n");
  fmt::print(
      "  {:>4} {:>7} {:>5} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8} | daemon-measured means, us: "
      "{:>6} {:>7} {:>6} {:>8} {:>6}\n",
      "path", "workers", "batch", "inflight", "req/s", "img/s", "p50 ms", "p99 ms", "vs in-p",
      "queue", "worker", "in", "forward", "out");
  for (const auto& row : rows) {
    const auto& base = in_process.at(row.batch);
    const double reference =
        row.workers == 1 ? row.batch * 1e6 / base.mean_us : row.batch * base.forwards_per_s;
    fmt::print(
        "  {:>4} {:>7} {:>5} {:>8} {:>8.1f} {:>8.0f} {:>9.3f} {:>9.3f} {:>7.2f}x | {:>33.1f} "
        "{:>7.1f} {:>6.1f} {:>8.1f} {:>6.1f}\n",
        path_name(row.path), row.workers, row.batch, row.inflight, row.result.requests_per_s,
        row.images_per_s(), row.result.latency.p50_us / 1e3, row.result.latency.p99_us / 1e3,
        row.images_per_s() / reference, row.stages.queue_us, row.stages.worker_us,
        row.stages.input_copy_us, row.stages.forward_us, row.stages.output_copy_us);
  }
  fmt::print(
      "  (vs in-p: 1 worker against in-process 1 thread, 2 workers against 2 threads; other: "
      "worker time outside the device stages: rings, wake-ups, decode, launch gaps)\n\n");

  fmt::print(
      "The socket: request bytes per second through infervisord vs a bulk Unix-socket "
      "transfer of the same bytes\n");
  fmt::print("  {:>5} {:>12} {:>22} {:>22}\n", "batch", "request MB", "bulk socket GB/s",
             "infervisord GB/s (max)");
  for (const int batch : kBatches) {
    double best = 0;
    for (const auto& row : rows) {
      if (row.batch == batch && row.path == Path::kSocket)
        best = std::max(best, row.result.requests_per_s);
    }
    fmt::print("  {:>5} {:>12.2f} {:>22.2f} {:>22.2f}\n", batch, request_bytes(batch) / 1e6,
               socket_gb_per_s[batch], best * request_bytes(batch) / 1e9);
  }
  fmt::print("\n{}\n", h2d);

  if (!b1_rounds.empty()) {
    fmt::print(
        "Batch 1, 1 in flight, {} alternating rounds on one daemon: p50 ms (each round: "
        "in-process, then the three paths)\n",
        b1_rounds.size());
    fmt::print("  {:>5} {:>10} {:>8} {:>8} {:>8} | added: {:>7} {:>7} {:>7}\n", "round", "in-proc",
               "sock", "shm", "cuda", "sock", "shm", "cuda");
    for (std::size_t i = 0; i < b1_rounds.size(); ++i) {
      const auto& r = b1_rounds[i];
      fmt::print(
          "  {:>5} {:>10.3f} {:>8.3f} {:>8.3f} {:>8.3f} |        {:>7.3f} {:>7.3f} {:>7.3f}\n",
          i + 1, r.in_process_us / 1e3, r.socket_us / 1e3, r.regions_us / 1e3, r.cuda_us / 1e3,
          (r.socket_us - r.in_process_us) / 1e3, (r.regions_us - r.in_process_us) / 1e3,
          (r.cuda_us - r.in_process_us) / 1e3);
    }
    fmt::print("  median added: sock {:.3f} ms, shm {:.3f} ms, cuda {:.3f} ms\n\n",
               median_added(b1_rounds, &B1Round::socket_us) / 1e3,
               median_added(b1_rounds, &B1Round::regions_us) / 1e3,
               median_added(b1_rounds, &B1Round::cuda_us) / 1e3);
  }

  fmt::print("Targets (same run)\n");
  if (!b1_rounds.empty()) {
    const double socket = median_added(b1_rounds, &B1Round::socket_us);
    const double regions = median_added(b1_rounds, &B1Round::regions_us);
    fmt::print(
        "  b1 added latency, alternating rounds, median: socket {:.3f} ms (target <= 0.25 ms): "
        "{}; regions {:.3f} ms (target <= 0.1 ms): {}\n",
        socket / 1e3, verdict(socket <= 250), regions / 1e3, verdict(regions <= 100));
#ifdef INFERVISOR_BENCH_CUDA
    const double cuda = median_added(b1_rounds, &B1Round::cuda_us);
    fmt::print(
        "  b1 added latency through CUDA regions, alternating rounds, median: {:.3f} ms "
        "(target <= 0.1 ms): {}\n",
        cuda / 1e3, verdict(cuda <= 100));
#endif
  }
  // Batch 1 at 1 in flight: what `path` adds to the in-process p50; b32 at 4 in flight: the
  // share of in-process throughput it reaches.
  auto b1_target = [&](const LoadRow* row, std::string_view path, double target_ms) {
    if (row == nullptr) return;
    const double added = row->result.latency.p50_us - in_process.at(1).p50_us;
    fmt::print(
        "  b1{} added latency, 1 in flight: p50 {:.3f} ms - in-process {:.3f} ms = {:.3f} ms "
        "(target <= {} ms): {}\n",
        path, row->result.latency.p50_us / 1e3, in_process.at(1).p50_us / 1e3, added / 1e3,
        target_ms, verdict(added <= target_ms * 1e3));
  };
  auto b32_target = [&](const LoadRow* row, std::string_view path, double target) {
    if (row == nullptr) return;
    const double reference = 32 * 1e6 / in_process.at(32).mean_us;
    fmt::print(
        "  b32{}, 1 worker, 4 in flight: {:.0f} img/s / in-process 1 thread {:.0f} = {:.2f}x "
        "(target >= {}x): {}\n",
        path, row->images_per_s(), reference, row->images_per_s() / reference, target,
        verdict(row->images_per_s() >= target * reference));
  };
  b1_target(find_row(rows, 1, 1, 1), "", 0.25);
  if (const auto* row = find_row(rows, 2, 8, 4)) {
    const double reference = 8 * in_process.at(8).forwards_per_s;
    fmt::print(
        "  b8, 2 workers, 4 in flight: {:.0f} img/s / in-process 2 threads {:.0f} = {:.2f}x "
        "(target >= 1.0x): {}\n",
        row->images_per_s(), reference, row->images_per_s() / reference,
        verdict(row->images_per_s() >= reference));
  }
  b32_target(find_row(rows, 1, 32, 4), "", 0.9);
  b1_target(find_row(rows, 1, 1, 1, Path::kRegions), " through regions", 0.1);
  b32_target(find_row(rows, 1, 32, 4, Path::kRegions), " through regions", 0.95);
  b1_target(find_row(rows, 1, 1, 1, Path::kCudaRegions), " through CUDA regions", 0.1);
  b32_target(find_row(rows, 1, 32, 4, Path::kCudaRegions), " through CUDA regions", 0.95);
  for (const int batch : kBatches) {
    const auto* one = find_row(rows, 1, batch, 4);
    const auto* two = find_row(rows, 2, batch, 4);
    if (one == nullptr || two == nullptr) continue;
    fmt::print(
        "  b{}, 4 in flight: 2 workers {:.0f} img/s / 1 worker {:.0f} = {:.2f}x (target >= "
        "0.95x): {}\n",
        batch, two->images_per_s(), one->images_per_s(), two->images_per_s() / one->images_per_s(),
        verdict(two->images_per_s() >= 0.95 * one->images_per_s()));
  }
  fmt::print("\ntotal run time: {:.1f} s\n",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  return 0;
}

Options parse(std::span<char* const> args) {
  Options options;
  options.self = std::filesystem::read_symlink("/proc/self/exe");
  options.build_dir = options.self.parent_path().parent_path();
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    const bool has_value = i + 1 < args.size();
    if (arg == "--model" && has_value) {
      options.model = args[++i];
    } else if (arg == "--build-dir" && has_value) {
      options.build_dir = args[++i];
    } else if (arg == "--seconds" && has_value) {
      options.measure = std::chrono::milliseconds(std::stoi(args[++i]) * 1000);
    } else if (arg == "--b1-rounds" && has_value) {
      options.b1_rounds = std::stoi(args[++i]);
    } else if (arg == "--shared-memory-only") {
      options.shared_memory_only = true;
    } else if (arg == "--quick") {
      options.quick = true;
      options.measure = std::chrono::milliseconds(1000);
      options.warm_up = std::chrono::milliseconds(500);
    } else {
      throw std::invalid_argument(fmt::format("unexpected argument '{}'", arg));
    }
  }
  if (options.model.empty()) throw std::invalid_argument("--model FILE.pt is required");
  options.cpus = choose_cpus();
  return options;
}

}  // namespace
}  // namespace infervisor::bench::gpu

int main(int argc, char** argv) {
  const std::span<char* const> args(argv + 1, static_cast<std::size_t>(argc - 1));
  if (args.size() == 1 && std::string_view(args[0]) == infervisor::bench::gpu::kSinkFlag) {
    return infervisor::bench::serve_socket_sink();
  }
  try {
    return infervisor::bench::gpu::run(infervisor::bench::gpu::parse(args));
  } catch (const std::invalid_argument& error) {
    fmt::print(stderr,
               "infervisor-bench-gpu: {}\nusage: infervisor-bench-gpu --model FILE.pt "
               "[--build-dir DIR] [--seconds S] [--quick] [--shared-memory-only] "
               "[--b1-rounds N]\n",
               error.what());
    return 2;
  } catch (const std::exception& error) {
    fmt::print(stderr, "infervisor-bench-gpu: {}\n", error.what());
    return 1;
  }
}
