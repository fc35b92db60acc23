// infervisor-bench-batching: batch-1 traffic through infervisord with dynamic batching off and on
// (a few max_queue_delay values), at 1, 16 and 64 requests in flight, next to in-process
// forward() at batch 1 and at batch 32, all in one run, printed as one table (bench/README.md,
// "Dynamic batching").
//
//   infervisor-bench-batching [--build-dir DIR] [--seconds S] [--quick] [--workers N]
//                             [--gpu MODEL.pt] [--delays LIST] [--max-batch N]
//     default     the example MLP (x FP32 [1, 256]) on CPU workers (default 1)
//     --gpu       an image model (x FP32 [1, 3, 224, 224] -> y [1, 1000], e.g. ResNet-50 scripted
//                 by bench/gpu/make_resnet50.py) on cuda:0
//     --delays    max_queue_delay values to try, e.g. "0,200us,1ms" (the default; GPU "0,1ms,2ms")
//     --max-batch max_batch_size (default 32, the in-process batch it is compared with)
//     --max-inflight  the model's max_inflight (default: the daemon's; batches when batching)
//     --threads   intra-op threads of each worker and of the in-process forward (default 1), so
//                 that both sides run the same forward: the daemon's own default would give one
//                 worker on two cores two threads, which then spin on the core the daemon needs
//
// The average batch of each row is the daemon's own count over the window (GET .../stats:
// inferences / executions), not an estimate.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bench/common/machine.hpp"
#include "bench/e2e/daemon_process.hpp"
#include "bench/e2e/in_process_baseline.hpp"
#include "bench/e2e/infer_payload.hpp"
#include "bench/e2e/load_generator.hpp"
#include "client/client.hpp"
#include "common/cli_args.hpp"

namespace infervisor::bench::e2e {
namespace {

constexpr int kInflight[] = {1, 16, 64};

struct BatchingOptions {
  std::filesystem::path build_dir;
  std::filesystem::path gpu_model;  // empty: the MLP on CPU workers
  std::chrono::milliseconds warm_up{1000};
  std::chrono::milliseconds measure{3000};
  int baseline_iterations = 3000;
  int workers = 1;
  int max_batch = 32;
  int threads = 1;  // the workers' `threads` and the in-process forward's intra-op threads
  std::optional<int> max_inflight;  // the model's max_inflight; nullopt: the default
  std::vector<std::string> delays;

  bool gpu() const { return !gpu_model.empty(); }
  std::filesystem::path bin(const char* name) const { return build_dir / "bin" / name; }
  std::filesystem::path model() const {
    return gpu() ? gpu_model : build_dir / "models" / "mlp.pt";
  }
};

template <class... Args>
void progress(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(stderr, "[bench-batching] {}\n", fmt::format(format, std::forward<Args>(args)...));
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  while (!text.empty()) {
    const auto comma = text.find(',');
    items.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return items;
}

BatchingOptions parse(std::span<char* const> args) {
  BatchingOptions options;
  options.build_dir = std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path();
  std::optional<double> seconds;
  bool quick = false;
  std::string delays;
  constexpr std::array<std::string_view, 1> kSwitches{"--quick"};
  for (const CliArg& arg : split_cli(args, kSwitches)) {
    if (arg.flag == "--quick") {
      quick = true;
    } else if (arg.flag == "--build-dir") {
      options.build_dir = std::filesystem::absolute(arg.value);
    } else if (arg.flag == "--seconds") {
      seconds = parse_number_flag(arg, 0.1, 600);
    } else if (arg.flag == "--workers") {
      options.workers = static_cast<int>(parse_int_flag(arg, 1, 64));
    } else if (arg.flag == "--gpu") {
      options.gpu_model = std::filesystem::absolute(arg.value);
    } else if (arg.flag == "--delays") {
      delays = arg.value;
    } else if (arg.flag == "--max-inflight") {
      options.max_inflight = static_cast<int>(parse_int_flag(arg, 1, 1024));
    } else if (arg.flag == "--threads") {
      options.threads = static_cast<int>(parse_int_flag(arg, 1, 256));
    } else if (arg.flag == "--max-batch") {
      options.max_batch = static_cast<int>(parse_int_flag(arg, 2, 4096));
    } else {
      throw UsageError(
          fmt::format("unexpected argument '{}'", arg.flag.empty() ? arg.value : arg.flag));
    }
  }
  if (quick) {
    options.warm_up = std::chrono::milliseconds(300);
    options.measure = std::chrono::milliseconds(1000);
    options.baseline_iterations = 500;
  }
  if (seconds) options.measure = std::chrono::milliseconds(static_cast<long>(*seconds * 1000));
  options.delays = split_list(delays.empty() ? (options.gpu() ? "0,1ms,2ms" : "0,200us,1ms")
                                             : std::string_view(delays));
  for (const auto& needed : {options.bin("infervisord"), options.bin("infervisor-worker"),
                             options.bin("infervisor-reference"), options.model()}) {
    if (!std::filesystem::exists(needed)) {
      throw std::invalid_argument(fmt::format(
          "{} is missing: build infervisor-bench-batching (it builds what it runs) or pass "
          "--build-dir",
          needed.string()));
    }
  }
  return options;
}

struct Row {
  std::string batching;  // "off", or the max_queue_delay
  int inflight = 0;
  LoadResult load;
  double average_batch = 0;
};

std::pair<std::uint64_t, std::uint64_t> inferences_and_executions(client::Client& client,
                                                                  const std::string& model) {
  const auto stats = client.model_statistics(model);
  return {stats.at(0).inference_count, stats.at(0).execution_count};
}

std::vector<Row> daemon_rows(const BatchingOptions& options, const PayloadShape& shape,
                             const std::optional<std::string>& delay) {
  DaemonSettings settings;
  settings.bin_dir = options.build_dir / "bin";
  settings.model = options.model();
  settings.model_name = shape.model;
  settings.workers = options.workers;
  settings.max_inflight = options.max_inflight;
  if (options.gpu()) {
    settings.input = "{name: x, dtype: FP32, shape: [-1, 3, 224, 224]}";
    settings.output = "{name: y, dtype: FP32, shape: [-1, 1000]}";
    settings.device = "cuda:0";
  }
  settings.model_extra = fmt::format("    threads: {}\n", options.threads);
  if (delay) {
    settings.model_extra +=
        fmt::format("    dynamic_batching: {{max_batch_size: {}, max_queue_delay: {}}}\n",
                    options.max_batch, *delay);
  }
  progress("infervisord, {} worker(s), batching {}", options.workers, delay ? *delay : "off");
  DaemonProcess daemon(settings);
  daemon.wait_ready(std::chrono::seconds(120));
  client::ClientOptions client_options;
  client_options.endpoint = client::UnixEndpoint{daemon.socket()};
  client::Client client(client_options);
  std::vector<Row> rows;
  for (const int inflight : kInflight) {
    Row row{delay ? *delay : "off", inflight, {}, 0};
    std::pair<std::uint64_t, std::uint64_t> before, after;
    LoadPlan plan;
    plan.connections = inflight;
    plan.warm_up = options.warm_up;
    plan.measure = options.measure;
    // (Sampled from the load thread at the window's edges: the requests in flight then make
    // the count off by at most `inflight` jobs in thousands.)
    plan.window_opened = [&] { before = inferences_and_executions(client, shape.model); };
    plan.window_closed = [&] { after = inferences_and_executions(client, shape.model); };
    row.load = run_load(daemon.socket(), make_infer_payload(TensorEncoding::kBinary, shape), plan);
    const auto executions = after.second - before.second;
    row.average_batch =
        executions ? static_cast<double>(after.first - before.first) / executions : 0;
    rows.push_back(row);
  }
  const auto status = daemon.stop(std::chrono::seconds(60));
  if (!status.success()) {
    throw std::runtime_error(fmt::format("infervisord did not exit 0 ({}); its log ends:\n{}",
                                         status.describe(), daemon.log_tail()));
  }
  return rows;
}

int run(const BatchingOptions& options) {
  const auto began = std::chrono::steady_clock::now();
  const auto started_at =
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  PayloadShape shape;  // the MLP, batch 1
  std::string row_spec = "256";
  if (options.gpu()) {
    shape = {"resnet50", {1, 3, 224, 224}, 1000};
    row_spec = "3,224,224";
  }
  std::vector<std::string> device{"--intra-op-threads", std::to_string(options.threads)};
  if (options.gpu()) device.insert(device.end(), {"--device", "cuda:0"});
  progress("in-process batch 1 and batch {}", options.max_batch);
  const auto b1 =
      run_in_process_baseline(options.bin("infervisor-reference"), options.model(),
                              "x:float32:1," + row_spec, 1, options.baseline_iterations, device);
  const auto bmax = run_in_process_baseline(
      options.bin("infervisor-reference"), options.model(),
      fmt::format("x:float32:{},{}", options.max_batch, row_spec), 1,
      std::max(50, options.baseline_iterations / options.max_batch * 4), device);
  const double b1_rows_per_s = 1e6 / b1.mean_us;
  const double bmax_rows_per_s = 1e6 / bmax.mean_us * options.max_batch;

  std::vector<Row> rows = daemon_rows(options, shape, std::nullopt);
  for (const auto& delay : options.delays) {
    auto more = daemon_rows(options, shape, delay);
    rows.insert(rows.end(), more.begin(), more.end());
  }

  fmt::print("infervisor-bench-batching, {:%Y-%m-%d %H:%M:%S} UTC\n", started_at);
  fmt::print("machine:  {}\n", describe_machine());
  fmt::print("model:    {} (x FP32 [1, {}] per request), torch {}, {}\n", options.model().string(),
             row_spec, b1.torch_version, options.gpu() ? b1.device_description : "CPU");
  fmt::print(
      "daemon:   {} worker(s) on {} with {} intra-op thread(s), max_batch_size {}, max_inflight "
      "{}; "
      "windows {} ms after {} ms warm-up\n\n",
      options.workers, options.gpu() ? "cuda:0" : "cpu", options.threads, options.max_batch,
      options.max_inflight ? std::to_string(*options.max_inflight) : "default",
      options.measure.count(), options.warm_up.count());
  fmt::print("| {:<36} | {:>9} | {:>10} | {:>10} | {:>9} |\n", "what", "rows/s", "p50 ms", "p99 ms",
             "avg batch");
  fmt::print("|{:-<38}|{:->11}|{:->12}|{:->12}|{:->11}|\n", "", "", "", "", "");
  const std::string threads =
      fmt::format("{} thread{}", options.threads, options.threads > 1 ? "s" : "");
  fmt::print("| {:<36} | {:>9.0f} | {:>10.3f} | {:>10.3f} | {:>9} |\n",
             fmt::format("in-process b1, {}", threads), b1_rows_per_s, b1.p50_us / 1e3,
             b1.p99_us / 1e3, 1);
  fmt::print("| {:<36} | {:>9.0f} | {:>10.3f} | {:>10.3f} | {:>9} |\n",
             fmt::format("in-process b{}, {}", options.max_batch, threads), bmax_rows_per_s,
             bmax.p50_us / 1e3, bmax.p99_us / 1e3, options.max_batch);
  for (const auto& row : rows) {
    fmt::print("| {:<36} | {:>9.0f} | {:>10.3f} | {:>10.3f} | {:>9.2f} |\n",
               fmt::format("batching {}, {} in flight", row.batching, row.inflight),
               row.load.requests_per_s, row.load.latency.p50_us / 1e3,
               row.load.latency.p99_us / 1e3, row.average_batch);
  }
  // The targets, at the most in flight.
  const int most = kInflight[std::size(kInflight) - 1];
  const Row* off = nullptr;
  const Row* best = nullptr;
  for (const auto& row : rows) {
    if (row.inflight != most) continue;
    if (row.batching == "off")
      off = &row;
    else if (!best || row.load.requests_per_s > best->load.requests_per_s)
      best = &row;
  }
  fmt::print("\nat {} in flight:\n", most);
  if (off && best) {
    fmt::print("  batching {} vs off: {:.2f}x ({:.0f} vs {:.0f} rows/s)\n", best->batching,
               best->load.requests_per_s / off->load.requests_per_s, best->load.requests_per_s,
               off->load.requests_per_s);
    fmt::print(
        "  batching {} vs in-process b{}: {:.2f}x; its p99 {:.3f} ms vs 2 x in-process "
        "b{} p99 + delay\n",
        best->batching, options.max_batch, best->load.requests_per_s / bmax_rows_per_s,
        best->load.latency.p99_us / 1e3, options.max_batch);
  }
  fmt::print("total run time: {:.1f} s\n",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  return 0;
}

}  // namespace
}  // namespace infervisor::bench::e2e

int main(int argc, char** argv) {
  namespace e2e = infervisor::bench::e2e;
  const std::span<char* const> args(argv + 1, static_cast<std::size_t>(argc - 1));
  try {
    return e2e::run(e2e::parse(args));
  } catch (const infervisor::UsageError& error) {
    fmt::print(stderr, "infervisor-bench-batching: {}\n", error.what());
    return 2;
  } catch (const std::exception& error) {
    fmt::print(stderr, "infervisor-bench-batching: {}\n", error.what());
    return 1;
  }
}
