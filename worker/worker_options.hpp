// The worker's command line, as the supervisor writes it:
//
//   infervisor-worker --segment NAME --generation N --supervisor-pid PID --wakeup-fd FD
//       --model-name NAME --model-path FILE.pt --device cpu|cuda:N --threads N
//       --input SPEC... --output SPEC... [--interop-threads N] [--library FILE.so...]
//       [--spin-us N] [--log-level info] [--instance K]
//
// A GPU worker is started with CUDA_VISIBLE_DEVICES set to its one GPU, so --device is cuda:0.
//
// SPEC is "name:dtype:d0,d1" with -1 for a free dimension (common/tensor_spec.hpp); inputs are
// listed in forward() argument order, outputs in output order. Each --library is a custom
// operator library the worker dlopen()s, in the order given, before it loads the model.
//
// Problems come in two groups. Without a usable channel (segment, generation, supervisor pid,
// wake-up fd) and logging options, the worker can only log and exit. Everything else is a model
// problem, which it reports as a start-up ERROR through the ring once the channel is open: the
// supervisor then shows the user what was wrong.
#pragma once

#include <spdlog/common.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/tensor_spec.hpp"

namespace infervisor::worker {

struct ChannelOptions {
  std::string segment;
  std::uint64_t generation = 0;
  pid_t supervisor_pid = 0;
  int wakeup_fd = -1;  // -1: the supervisor sleeps on futexes
  std::chrono::microseconds spin{50};
  spdlog::level::level_enum log_level = spdlog::level::info;
  int instance = 0;
};

struct ModelOptions {
  std::string name;
  std::string path;
  std::string device;
  int threads = 1;          // intra-op
  int interop_threads = 1;  // inter-op: torch.jit.fork branches
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  std::vector<std::string> libraries;
};

struct WorkerOptions {
  ChannelOptions channel;
  ModelOptions model;
  std::vector<std::string> channel_problems;  // non-empty: exit without reporting through the ring
  std::vector<std::string> model_problems;    // non-empty: report a start-up ERROR, then exit
};

// Never throws for a bad command line: every problem lands in one of the two lists.
WorkerOptions parse_worker_options(std::span<char* const> args);

}  // namespace infervisor::worker
