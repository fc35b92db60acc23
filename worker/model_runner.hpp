// One TorchScript model loaded in this process, behind a header that does not include libtorch.
//
// model_runner.cpp is the worker's only translation unit that includes libtorch (each one costs
// about 35 s to compile). It is also an ABI firewall: it is built with libtorch's compile flags,
// which may select the pre-C++11 libstdc++ ABI (-D_GLIBCXX_USE_CXX11_ABI=0, older pip wheels),
// while the rest of the project uses the default. So only types whose layout does not depend on
// that ABI cross this header: string_view, span, vector of trivial types, unique_ptr, and
// common/dtype.hpp's enum. Never std::string, never a type that holds one (TensorSpec, Error).
// Messages come back as string_views into storage the object owns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "common/dtype.hpp"

namespace infervisor::worker {

// A tensor handed to the model: bytes in this process's memory (often the request ring), which
// the model only reads. `data` holds exactly element_count(shape) * dtype_size(dtype) bytes.
// `on_device`: the bytes are in the worker's GPU's memory (a client's CUDA region, opened with
// open_ipc_memory), used in place without a copy.
struct InputTensor {
  DType dtype = DType::kFloat32;
  std::span<const std::int64_t> shape;
  std::span<const std::byte> data;
  bool on_device = false;
};

// The shapes a model's forward() may return that the worker understands.
enum class ReturnKind { kTensor, kSequence, kDict };

// What one job spent on the device, in nanoseconds: inputs copied to it, forward(), outputs
// copied into place. Measured by the device (CUDA events) or the clock (CPU).
struct StageDurations {
  std::uint64_t input_copy_ns = 0;
  std::uint64_t forward_ns = 0;
  std::uint64_t output_copy_ns = 0;
};

// Why a forward (or its output copies) failed.
enum class FailureKind {
  kNone,
  kModel,        // forward() raised, or returned what the worker cannot answer with
  kOutOfMemory,  // the device ran out of memory: error() begins "CUDA out of memory"
  kDeviceFault,  // a sticky device error: the device is unusable, the process must go
};

// One tensor a forward call returned, described before its bytes are fetched.
struct ModelOutput {
  std::string_view key;          // the Dict key; empty for a bare tensor or a tuple/list element
  std::optional<DType> dtype;    // nullopt: a torch dtype the protocol cannot carry
  std::string_view torch_dtype;  // torch's own name for the dtype, for messages
  std::span<const std::int64_t> shape;
};

// The outcome of one forward call. Owns the output tensors; every view it hands out stays valid
// until it is destroyed. Not thread-safe; each caller owns its own.
class Forward {
 public:
  Forward();
  Forward(Forward&&) noexcept;
  Forward& operator=(Forward&&) noexcept;
  Forward(const Forward&) = delete;
  Forward& operator=(const Forward&) = delete;
  ~Forward();

  // False if forward() raised or returned something other than a Tensor, a tuple or list of
  // Tensors, or a Dict[str, Tensor], or a copy failed; error() says what, failure() how bad.
  bool ok() const noexcept;
  std::string_view error() const noexcept;
  FailureKind failure() const noexcept;

  ReturnKind kind() const noexcept;
  std::span<const ModelOutput> outputs() const noexcept;

  // Makes the listed outputs contiguous host memory (a copy from the device, or none at all when
  // the tensor already is: an output may then alias an input's bytes). False, with error(), if
  // the copy fails.
  bool fetch(std::span<const std::size_t> indices);
  // Output `index`'s bytes in C order; only for indices fetched successfully.
  std::span<const std::byte> host_bytes(std::size_t index) const noexcept;

  // The job path: queues a copy of output `index` in C order into `destination` (exactly its
  // bytes, e.g. a reserved response record): asynchronous from a GPU (DMA when `destination` is
  // pinned), a plain copy on the CPU. Then finish() marks the end of the copies and waits, once,
  // for all of this job's device work; only then are the bytes in place, the inputs no longer
  // read, and durations() final. Both return false with error() and failure() on failure.
  // `on_device`: `destination` is GPU memory (a client's CUDA region): a device-to-device copy.
  bool copy_output(std::size_t index, std::span<std::byte> destination, bool on_device = false);
  bool finish();
  StageDurations durations() const noexcept;

  struct State;

 private:
  friend class ModelRunner;
  std::unique_ptr<State> state_;
};

class ModelRunner {
 public:
  // Sizes libtorch's thread pools. Call once, before any other torch work in the process: the
  // inter-op pool can be sized only before it starts. False if libtorch refused.
  static bool configure_threads(int intra_op_threads, int inter_op_threads) noexcept;
  // Whether this binary can run models on CUDA devices.
  static bool cuda_built() noexcept;
  // "2.11.0": the libtorch this binary was built against.
  static std::string_view torch_version() noexcept;

  // Loads the TorchScript file onto `device` ("cpu" or "cuda:N") and puts it in eval mode.
  // Check ok(); on failure error() says what went wrong (callers name the file).
  static ModelRunner load(std::string_view path, std::string_view device);

  ModelRunner(ModelRunner&&) noexcept;
  ModelRunner& operator=(ModelRunner&&) noexcept;
  ModelRunner(const ModelRunner&) = delete;
  ModelRunner& operator=(const ModelRunner&) = delete;
  ~ModelRunner();

  bool ok() const noexcept;
  std::string_view error() const noexcept;

  // Runs forward() in inference mode with `inputs` as positional arguments. On the CPU the
  // model reads the caller's bytes in place; on a GPU they are copied to the device first,
  // asynchronously on the calling thread's own stream (DMA when the bytes are pinned). The result
  // may still be computing: use fetch(), or copy_output() and finish(). Safe to call from several
  // threads at once: each call gets its own Forward, each thread its own stream.
  Forward forward(std::span<const InputTensor> inputs) const;

  // Page-locks `memory` (the channel's mapping) for the runner's lifetime, so that copies between
  // it and the device need no staging. Empty: done (nothing to do on a CPU); else why not.
  std::string_view pin_host_memory(std::span<std::byte> memory) const;
  void unpin_host_memory(std::span<std::byte> memory) const;
  // Opens GPU memory another process exported (a cudaIpcMemHandle_t of `handle.size()` bytes) on
  // this runner's device: its base and the size of the allocation it names. Empty: opened; else
  // why not (on a CPU: always). Each successful open needs one close_ipc_memory(base).
  std::string_view open_ipc_memory(std::span<const std::byte> handle, std::byte** base,
                                   std::uint64_t* size) const;
  void close_ipc_memory(std::byte* base) const;
  // After FailureKind::kOutOfMemory: hands the allocator's cached blocks back to the device.
  void release_cached_memory() const;
  // After a failure: empty if the device still works, else the sticky error that breaks it.
  std::string_view device_fault() const;
  // For READY: the device's name, UUID and memory in use, or "cpu".
  std::string_view describe_device() const;
  // Device memory the model's allocator holds now, bytes; 0 on a CPU.
  std::uint64_t device_memory_bytes() const noexcept;

  struct State;

 private:
  ModelRunner();
  std::unique_ptr<State> state_;
};

}  // namespace infervisor::worker
