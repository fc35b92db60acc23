#include "worker/reference_bench.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>
#include <chrono>
#include <thread>

#include "common/dtype.hpp"
#include "common/error.hpp"
#include "worker/model_runner.hpp"
#include "worker/owned_tensor.hpp"

namespace infervisor::worker {
namespace {

using Clock = std::chrono::steady_clock;

// One caller's pinned output buffers, sized on its first forward (the shapes do not change).
struct OutputPlaces {
  std::vector<std::vector<std::byte>> buffers;
};

// One forward() plus the copy of every output into the caller's pinned buffers, as the worker
// copies them into its response record; throws if anything fails.
StageDurations forward_once(const ModelRunner& runner, std::span<const InputTensor> inputs,
                            OutputPlaces& places) {
  Forward forward = runner.forward(inputs);
  if (forward.ok()) {
    const auto outputs = forward.outputs();
    if (places.buffers.empty()) {
      for (const auto& output : outputs) {
        if (!output.dtype) {
          throw InfervisorError(ErrorCode::kModel, fmt::format("output dtype {} is not supported",
                                                               output.torch_dtype));
        }
        std::size_t elements = 1;
        for (const auto dim : output.shape)
          elements *= static_cast<std::size_t>(dim);
        auto& buffer = places.buffers.emplace_back(elements * dtype_size(*output.dtype));
        (void)runner.pin_host_memory(buffer);  // unpinned only costs speed
      }
    }
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      if (!forward.copy_output(i, places.buffers[i])) break;
    }
    if (forward.finish()) return forward.durations();
  }
  throw InfervisorError(ErrorCode::kModel, fmt::format("forward() failed: {}", forward.error()));
}

std::string json_quoted(std::string_view text) {
  return boost::json::serialize(boost::json::string_view(text.data(), text.size()));
}

double percentile(const std::vector<double>& sorted, double fraction) {
  const auto rank =
      static_cast<std::size_t>(fraction * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(rank, sorted.size() - 1)];
}

}  // namespace

std::string run_bench(const BenchRequest& request) {
  if (request.iterations < 1 || request.threads < 1) {
    throw InfervisorError(ErrorCode::kInvalidArgument, "iterations and threads must be at least 1");
  }
  const ModelRunner runner = ModelRunner::load(request.model_path, request.device);
  if (!runner.ok()) {
    throw InfervisorError(ErrorCode::kModel,
                          fmt::format("model {}: {}", request.model_path, runner.error()));
  }
  std::vector<OwnedTensor> tensors;
  for (const auto& spec : request.inputs)
    tensors.push_back(zeros_for(spec, 1));
  for (auto& tensor : tensors)
    (void)runner.pin_host_memory(tensor.data);  // as the worker pins its rings
  const std::vector<InputTensor> inputs = views_of(tensors);

  // Warm-up: the TorchScript profiling executor specialises the graph over the first calls, and
  // a GPU raises its clocks only after some busy time: at least 20 calls and one second.
  OutputPlaces places;
  const auto warm_until = Clock::now() + std::chrono::seconds(1);
  for (int i = 0; i < 20 || Clock::now() < warm_until; ++i)
    forward_once(runner, inputs, places);

  std::vector<double> latencies_us;
  latencies_us.reserve(static_cast<std::size_t>(request.iterations));
  double stage_ns[3] = {0, 0, 0};
  for (int i = 0; i < request.iterations; ++i) {
    const auto begin = Clock::now();
    const StageDurations stages = forward_once(runner, inputs, places);
    latencies_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - begin).count());
    stage_ns[0] += static_cast<double>(stages.input_copy_ns);
    stage_ns[1] += static_cast<double>(stages.forward_ns);
    stage_ns[2] += static_cast<double>(stages.output_copy_ns);
  }
  std::sort(latencies_us.begin(), latencies_us.end());
  double sum = 0;
  for (const double latency : latencies_us)
    sum += latency;

  // Each thread records its first failure; the others finish their loops.
  std::atomic<bool> failed{false};
  std::vector<std::string> failures(static_cast<std::size_t>(request.threads));
  const auto begin = Clock::now();
  {
    std::vector<std::jthread> callers;
    for (int t = 0; t < request.threads; ++t) {
      callers.emplace_back([&, t] {
        try {
          OutputPlaces own;
          for (int i = 0; i < request.iterations && !failed.load(std::memory_order_relaxed); ++i) {
            forward_once(runner, inputs, own);
          }
        } catch (const std::exception& error) {
          failures[static_cast<std::size_t>(t)] = error.what();
          failed.store(true);
        }
      });
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  for (const auto& failure : failures) {
    if (!failure.empty()) throw InfervisorError(ErrorCode::kModel, failure);
  }

  // Formatted by hand: Boost.JSON writes doubles as "7.7022E1", which is valid but hard to read.
  std::string specs;
  for (const auto& spec : request.inputs) {
    specs += fmt::format("{}{}", specs.empty() ? "" : ", ", json_quoted(format_tensor_spec(spec)));
  }
  const double forwards = static_cast<double>(request.iterations) * request.threads;
  const double per_job_us = 1e-3 / static_cast<double>(request.iterations);
  return fmt::format(
      R"({{"model": {}, "device": {}, "device_description": {}, "torch": {}, "inputs": [{}], )"
      R"("intra_op_threads": {}, "interop_threads": {}, )"
      R"("latency_us": {{"iterations": {}, "p50": {:.1f}, "p99": {:.1f}, "mean": {:.1f}}}, )"
      R"("stages_us": {{"input_copy": {:.1f}, "forward": {:.1f}, "output_copy": {:.1f}}}, )"
      R"("throughput": {{"threads": {}, "forwards": {}, "seconds": {:.3f}, )"
      R"("forwards_per_s": {:.1f}}}}})",
      json_quoted(request.model_path), json_quoted(request.device),
      json_quoted(runner.describe_device()), json_quoted(ModelRunner::torch_version()), specs,
      request.intra_op_threads, request.interop_threads, request.iterations,
      percentile(latencies_us, 0.50), percentile(latencies_us, 0.99),
      sum / static_cast<double>(latencies_us.size()), stage_ns[0] * per_job_us,
      stage_ns[1] * per_job_us, stage_ns[2] * per_job_us, request.threads, forwards, seconds,
      forwards / seconds);
}

}  // namespace infervisor::worker
