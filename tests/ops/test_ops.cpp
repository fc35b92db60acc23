// The test operator library: TorchScript ops that kill, hang or leak on purpose.
//   infervisor_test::poison(x)  SIGKILLs its process if any element is 666, abort()s on 667
//   infervisor_test::hang(x)    never returns if any element is 777
//   infervisor_test::leak(x)    keeps 16 MiB (every page written) per call
// each otherwise returning a copy of x. Models (build/models): poison.pt, hang.pt, leak.pt, each
// y = 2 * op(x) + 1 with x and y FP32 of any shape. The details and the constants for tests are
// in test_ops.hpp.
//
// One translation unit on purpose: each one that includes libtorch costs half a minute to build.
#include "tests/ops/test_ops.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <torch/library.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace infervisor::test_ops {
namespace {

bool holds(const at::Tensor& x, float value) {
  return x.numel() > 0 && x.eq(value).any().item<bool>();
}

void say(const char* op, const char* what) {
  std::fprintf(stderr, "infervisor_test::%s (pid %d): %s\n", op, static_cast<int>(::getpid()),
               what);
  std::fflush(stderr);
}

at::Tensor poison(const at::Tensor& x) {
  if (holds(x, kKillValue)) {
    say("poison", "the input holds 666: raising SIGKILL");
    ::raise(SIGKILL);
  }
  if (holds(x, kAbortValue)) {
    say("poison", "the input holds 667: calling abort()");
    const rlimit no_core{0, 0};  // a test run must not fill the disk with cores
    ::setrlimit(RLIMIT_CORE, &no_core);
    std::abort();
  }
  return x.clone();
}

at::Tensor hang(const at::Tensor& x) {
  if (holds(x, kHangValue)) {
    say("hang", "the input holds 777: never returning");
    while (true)
      std::this_thread::sleep_for(std::chrono::hours(1));
  }
  return x.clone();
}

at::Tensor leak(const at::Tensor& x) {
  // Kept, not lost: the memory stays reachable, so leak checkers stay quiet while RSS grows.
  static std::mutex mutex;
  static std::vector<std::unique_ptr<char[]>> kept;
  constexpr std::size_t kBytes = std::size_t{kLeakMiB} << 20;
  auto block = std::make_unique_for_overwrite<char[]>(kBytes);
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  for (std::size_t offset = 0; offset < kBytes; offset += page)
    block[offset] = 0x5a;  // a page counts in RSS once written
  const std::lock_guard lock(mutex);
  kept.push_back(std::move(block));
  return x.clone();
}

}  // namespace
}  // namespace infervisor::test_ops

TORCH_LIBRARY(infervisor_test, m) {
  m.def("poison(Tensor x) -> Tensor", &infervisor::test_ops::poison);
  m.def("hang(Tensor x) -> Tensor", &infervisor::test_ops::hang);
  m.def("leak(Tensor x) -> Tensor", &infervisor::test_ops::leak);
}
