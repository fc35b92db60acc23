// The large-tensor rows of infervisor-bench-e2e: one 16 MiB FP32 tensor in and one out through the
// identity model (1 worker, 1 job in flight), once over the socket (binary tensor data) and once
// through client shared-memory regions, next to the floors measured in the same run: memcpy of the
// same bytes and a bulk Unix-socket transfer of them.
#pragma once

#include <filesystem>

#include "bench/common/socket_transfer.hpp"
#include "bench/e2e/load_generator.hpp"
#include "bench/e2e/options.hpp"

namespace infervisor::bench::e2e {

struct LargeTensorResults {
  std::size_t bytes = 0;  // per tensor, each way
  LoadResult socket;
  LoadResult regions;
  double memcpy_bytes_per_s = 0;       // one thread, same bytes
  double socket_bulk_bytes_per_s = 0;  // one way, AF_UNIX stream
};

// `sink`: this executable as a socket sink peer (serve_socket_sink()).
LargeTensorResults measure_large_tensors(const Options& options, const SocketPeer& sink);

void print_large_tensors(const LargeTensorResults& results);

}  // namespace infervisor::bench::e2e
