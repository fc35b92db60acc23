// infervisor-reference: runs a model in this process, without supervisor or channel.
//
//   infervisor-reference --model FILE.pt --input NAME=FILE.npy... --out DIR
//       [--output SPEC...] [--threads N] [--device D]
//     writes DIR/<output>.npy for each output (see reference_run.hpp); --threads: intra-op threads
//
//   infervisor-reference --model FILE.pt --bench --input-spec SPEC... [--iterations N]
//       [--threads T] [--device D] [--intra-op-threads N] [--interop-threads N]
//     prints JSON with in-process latency and throughput (see reference_bench.hpp); --threads:
//     concurrent caller threads, each with libtorch's intra-op threads (default 1). The BLAS under
//     Debian's libtorch takes its threads from OMP_NUM_THREADS, not from these: set it to match.
//
// Both take --library FILE.so (repeatable): custom operator libraries loaded before the model, as
// the worker does.
#include <fmt/format.h>

#include <array>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/cli_args.hpp"
#include "common/error.hpp"
#include "worker/model_runner.hpp"
#include "worker/op_libraries.hpp"
#include "worker/reference_bench.hpp"
#include "worker/reference_run.hpp"

namespace infervisor::worker {
namespace {

ReferenceInput parse_input(std::string_view text) {
  const auto equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0 || equals + 1 == text.size()) {
    throw InfervisorError(ErrorCode::kInvalidArgument,
                          fmt::format("--input '{}' is not NAME=FILE.npy", text));
  }
  return {std::string(text.substr(0, equals)), std::string(text.substr(equals + 1))};
}

int run(std::span<char* const> args) {
  constexpr std::array<std::string_view, 1> kSwitches{"--bench"};
  bool bench = false;
  std::optional<int> threads;
  ReferenceRequest reference;
  BenchRequest benchmark;
  std::vector<std::string> libraries;
  for (const CliArg& arg : split_cli(args, kSwitches)) {
    if (arg.flag == "--bench") {
      bench = true;
    } else if (arg.flag == "--model") {
      reference.model_path = benchmark.model_path = arg.value;
    } else if (arg.flag == "--device") {
      reference.device = benchmark.device = arg.value;
    } else if (arg.flag == "--threads") {
      threads = static_cast<int>(parse_int_flag(arg, 1, 1024));
    } else if (arg.flag == "--input") {
      reference.inputs.push_back(parse_input(arg.value));
    } else if (arg.flag == "--output") {
      reference.outputs.push_back(parse_tensor_spec(arg.value));
    } else if (arg.flag == "--out") {
      reference.out_dir = arg.value;
    } else if (arg.flag == "--input-spec") {
      benchmark.inputs.push_back(parse_tensor_spec(arg.value));
    } else if (arg.flag == "--intra-op-threads") {
      benchmark.intra_op_threads = static_cast<int>(parse_int_flag(arg, 1, 1024));
    } else if (arg.flag == "--interop-threads") {
      benchmark.interop_threads = static_cast<int>(parse_int_flag(arg, 1, 1024));
    } else if (arg.flag == "--iterations") {
      benchmark.iterations = static_cast<int>(parse_int_flag(arg, 1, 100'000'000));
    } else if (arg.flag == "--library") {
      libraries.emplace_back(arg.value);
    } else {
      throw InfervisorError(ErrorCode::kInvalidArgument,
                            fmt::format("unexpected argument '{}{}'", arg.flag, arg.value));
    }
  }
  if (reference.model_path.empty()) {
    throw InfervisorError(ErrorCode::kInvalidArgument, "--model FILE.pt is required");
  }
  if (auto loaded = load_op_libraries(libraries); !loaded) throw InfervisorError(loaded.error());
  if (bench) {
    if (benchmark.inputs.empty()) {
      throw InfervisorError(ErrorCode::kInvalidArgument, "--bench needs at least one --input-spec");
    }
    benchmark.threads = threads.value_or(benchmark.threads);
    if (!ModelRunner::configure_threads(benchmark.intra_op_threads, benchmark.interop_threads)) {
      throw InfervisorError(ErrorCode::kSystem,
                            fmt::format("libtorch refused {} intra-op and {} inter-op threads",
                                        benchmark.intra_op_threads, benchmark.interop_threads));
    }
    std::cout << run_bench(benchmark) << "\n";
    return 0;
  }
  if (reference.inputs.empty() || reference.out_dir.empty()) {
    throw InfervisorError(ErrorCode::kInvalidArgument,
                          "--input NAME=FILE.npy (at least one) and --out DIR are required");
  }
  if (!ModelRunner::configure_threads(threads.value_or(1), 1)) {
    throw InfervisorError(ErrorCode::kSystem,
                          fmt::format("libtorch refused {} intra-op threads", threads.value_or(1)));
  }
  for (const auto& path : run_reference(reference))
    std::cout << path.string() << "\n";
  return 0;
}

}  // namespace
}  // namespace infervisor::worker

int main(int argc, char** argv) {
  try {
    return infervisor::worker::run(
        std::span<char* const>(argv + 1, static_cast<std::size_t>(argc - 1)));
  } catch (const std::exception& error) {
    std::cerr << "infervisor-reference: " << error.what() << "\n";
    return 1;
  }
}
