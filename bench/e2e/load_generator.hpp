// The load: one thread, one io_context, `connections` keep-alive HTTP/1.1 connections to the
// daemon's Unix socket, each sending the prebuilt request again as soon as its reply is read, so
// exactly `connections` requests are in flight at every moment (closed loop). Each reply is read
// in full and checked (status, body size); any bad reply or broken connection fails the run.
//
// Time: a warm-up (workers and connections reach steady state; nothing is recorded), then a
// measurement window. A request counts if it completes inside the window; its latency is
// recorded if it also started inside it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>

#include "bench/e2e/infer_payload.hpp"
#include "bench/e2e/latency.hpp"

namespace infervisor::bench::e2e {

struct LoadPlan {
  int connections = 1;
  std::chrono::milliseconds warm_up{1000};
  std::chrono::milliseconds measure{5000};
  // Called on the load thread right after the window opens and right after it closes, to sample
  // counters (CPU time) over exactly the window.
  std::function<void()> window_opened;
  std::function<void()> window_closed;
};

struct LoadResult {
  int connections = 0;
  std::uint64_t completed = 0;  // inside the window
  double seconds = 0;           // the window's length
  double requests_per_s = 0;
  LatencySummary latency;
};

// Throws std::runtime_error with the first problem if any reply was wrong or a connection failed.
LoadResult run_load(const std::filesystem::path& socket, const InferPayload& payload,
                    const LoadPlan& plan);

}  // namespace infervisor::bench::e2e
