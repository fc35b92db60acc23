// Statistics bodies for the client tests, as infervisord's GET .../stats answers them.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace infervisor::testing {

// {"model_stats":[...]} with one model `name` (version "1") that has answered `requests`
// requests, one inference and execution each, 100 µs queueing and 1 ms computing each, and has
// one READY worker; without the "infervisor" object when `triton`.
inline std::string stats_body(std::string_view name, std::uint64_t requests, bool triton = false) {
  const auto duration = [](std::uint64_t count, std::uint64_t ns_each) {
    return fmt::format(R"({{"count":{},"ns":{}}})", count, count * ns_each);
  };
  const std::string extras =
      triton ? ""
             : R"(,"infervisor":{"failures":{"timeout":0},"pending":0,)"
               R"("latency_us":{"p50":1200.0,"p99":1500.0},)"
               R"("workers":[{"instance":0,"state":"READY","restarts":0,"pid":42}]})";
  return fmt::format(
      R"({{"model_stats":[{{"name":"{}","version":"1","last_inference":0,)"
      R"("inference_count":{},"execution_count":{},"inference_stats":{{"success":{},)"
      R"("fail":{},"queue":{},"compute_input":{},"compute_infer":{},"compute_output":{},)"
      R"("cache_hit":{},"cache_miss":{}}},"batch_stats":[]{}}}]}})",
      name, requests, requests, duration(requests, 1'200'000), duration(0, 0),
      duration(requests, 100'000), duration(requests, 0), duration(requests, 1'000'000),
      duration(requests, 0), duration(0, 0), duration(0, 0), extras);
}

}  // namespace infervisor::testing
