#include "bench/e2e/large_tensors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "bench/e2e/daemon_process.hpp"
#include "bench/e2e/region_tensors.hpp"

namespace infervisor::bench::e2e {
namespace {

constexpr std::int64_t kRows = 16384;  // x [16384, 256] FP32: 16 MiB
constexpr std::int64_t kColumns = 256;

double memcpy_bytes_per_second(std::size_t bytes) {
  std::vector<std::byte> from(bytes, std::byte{1});
  std::vector<std::byte> to(bytes);
  std::vector<double> seconds;
  for (int i = 0; i < 21; ++i) {
    const auto start = std::chrono::steady_clock::now();
    std::memcpy(to.data(), from.data(), bytes);
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    from[static_cast<std::size_t>(i)] = to[bytes - 1];  // keep the copies observable
  }
  std::nth_element(seconds.begin(), seconds.begin() + 10, seconds.end());
  return static_cast<double>(bytes) / seconds[10];
}

void print_row(const char* path, const LoadResult& result, std::size_t bytes) {
  fmt::print("  {:<24} {:>8.1f} {:>10.2f} {:>10.2f} {:>12.2f}\n", path, result.requests_per_s,
             result.latency.p50_us / 1000.0, result.latency.p99_us / 1000.0,
             result.requests_per_s * static_cast<double>(2 * bytes) / 1e9);
}

}  // namespace

LargeTensorResults measure_large_tensors(const Options& options, const SocketPeer& sink) {
  LargeTensorResults results;
  results.bytes = static_cast<std::size_t>(kRows * kColumns) * sizeof(float);
  DaemonSettings settings;
  settings.bin_dir = options.bin_dir();
  settings.model = options.build_dir / "models" / "identity.pt";
  settings.model_name = "identity";
  settings.workers = 1;
  settings.model_extra = "    ring_size: 80MiB\n";
  settings.daemon_extra = "client_shared_memory: true\n";
  DaemonProcess daemon(settings);
  daemon.wait_ready(std::chrono::seconds(60));

  const PayloadShape shape{
      "identity", {kRows, kColumns}, static_cast<std::size_t>(kRows * kColumns)};
  LoadPlan plan;
  plan.connections = 1;
  plan.warm_up = options.warm_up;
  plan.measure = options.measure;
  results.socket =
      run_load(daemon.socket(), make_infer_payload(TensorEncoding::kBinary, shape), plan);
  {
    const RegionTensors regions(daemon.socket(), shape);
    results.regions = run_load(daemon.socket(), regions.payload(), plan);
  }
  const auto status = daemon.stop(std::chrono::seconds(60));
  if (!status.success()) {
    throw std::runtime_error(fmt::format("infervisord (identity) {} at SIGTERM; its log ends:\n{}",
                                         status.describe(), daemon.log_tail()));
  }
  results.memcpy_bytes_per_s = memcpy_bytes_per_second(results.bytes);
  results.socket_bulk_bytes_per_s = socket_bulk_bytes_per_second(sink, results.bytes, 20);
  return results;
}

void print_large_tensors(const LargeTensorResults& results) {
  const double mib = static_cast<double>(results.bytes) / (1 << 20);
  fmt::print(
      "\n{:.0f} MiB FP32 tensor in and {:.0f} MiB out (identity model, 1 worker, 1 in flight):\n",
      mib, mib);
  fmt::print("  {:<24} {:>8} {:>10} {:>10} {:>12}\n", "path", "req/s", "p50 ms", "p99 ms",
             "GB/s in+out");
  print_row("socket (binary data)", results.socket, results.bytes);
  print_row("shared-memory regions", results.regions, results.bytes);
  const double bytes = static_cast<double>(results.bytes);
  fmt::print(
      "  floors: memcpy {:.0f} MiB {:.2f} ms ({:.2f} GB/s); Unix socket bulk one way {:.2f} ms "
      "({:.2f} GB/s)\n",
      mib, 1e3 * bytes / results.memcpy_bytes_per_s, results.memcpy_bytes_per_s / 1e9,
      1e3 * bytes / results.socket_bulk_bytes_per_s, results.socket_bulk_bytes_per_s / 1e9);
  if (results.socket.requests_per_s > 0) {
    fmt::print("  regions / socket: {:.2f}x the requests per second, p50 {:.2f} ms less\n",
               results.regions.requests_per_s / results.socket.requests_per_s,
               (results.socket.latency.p50_us - results.regions.latency.p50_us) / 1000.0);
  }
}

}  // namespace infervisor::bench::e2e
