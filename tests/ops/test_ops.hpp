// What the test operator library (test_ops.cpp, built as libinfervisor_test_ops.so) and the test
// models built with it do, for tests that make a worker die, hang or grow on purpose.
//
// Ops, registered as TorchScript ops in namespace `infervisor_test` when the library is loaded
// (the worker's --library, the config's `libraries:`). Each takes a tensor of any dtype and shape
// and, unless it misbehaves, returns a copy of it:
//   infervisor_test::poison(Tensor x) -> Tensor
//       any element == kKillValue (666): raises SIGKILL on its own process;
//       any element == kAbortValue (667): calls abort() (SIGABRT; core dumps off first).
//   infervisor_test::hang(Tensor x) -> Tensor
//       any element == kHangValue (777): never returns (sleeps in a loop until a signal ends the
//       process; SIGTERM does, as no handler is installed).
//   infervisor_test::leak(Tensor x) -> Tensor
//       allocates kLeakMiB (16) MiB, writes every page and keeps it for the life of the process,
//       so the process's anonymous RSS (RssAnon) grows by that much per call, warm-up included.
// Each writes one line to stderr before it kills or hangs ("infervisor_test::poison: ...").
//
// Models, built into the models folder (INFERVISOR_TEST_MODELS_DIR, e.g. build/models) by
// `infervisor-make-example OUT.pt --kind K --library libinfervisor_test_ops.so`:
//   poison.pt  y = 2 * poison(x) + 1
//   hang.pt    y = 2 * hang(x) + 1
//   leak.pt    y = 2 * leak(x) + 1
// one input `x` and one output `y`, FP32, any shape (configure e.g. [-1, 4]); y is exact in FP32
// for small integers, so a test can check every number (x = [1, 2, 3, 4] -> y = [3, 5, 7, 9]).
// The worker's warm-up forward uses zeros, so poison.pt and hang.pt start normally. A model
// needs its library loaded: without it, loading fails with "Unknown builtin op:
// infervisor_test::poison" (or hang, leak).
//
// CMake gives tests the paths: INFERVISOR_TEST_OPS_LIBRARY (the .so) and
// INFERVISOR_TEST_MODELS_DIR / INFERVISOR_MODELS_DIR (the models); see tests/ops/CMakeLists.txt.
#pragma once

namespace infervisor::test_ops {

inline constexpr float kKillValue = 666.0f;
inline constexpr float kAbortValue = 667.0f;
inline constexpr float kHangValue = 777.0f;
inline constexpr int kLeakMiB = 16;

// y of the three models for an input element that triggers nothing.
constexpr float model_output(float x) noexcept {
  return 2.0f * x + 1.0f;
}

}  // namespace infervisor::test_ops
