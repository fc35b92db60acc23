// The worker's libtorch translation unit. Built with libtorch's flags (see model_runner.hpp for
// why nothing here may use the project's string-carrying types, fmt or spdlog).
#include "worker/model_runner.hpp"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/StreamGuard.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/version.h>

#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "worker/device_backend.hpp"

namespace infervisor::worker {
namespace {

// c10::Error::what() carries a C++ backtrace too long for an error record; its short form is
// what the model author wrote.
std::string describe(const std::exception& error) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&error)) {
    return torch_error->what_without_backtrace();
  }
  return error.what();
}

// libtorch says "CUDA out of memory. Tried to allocate ..." (inside TorchScript, after the
// interpreter's traceback): the answer starts there, as users and retry logic look for it.
constexpr std::string_view kCudaOutOfMemory = "CUDA out of memory";

std::string out_of_memory_message(const std::string& text) {
  const auto at = text.find(kCudaOutOfMemory);
  if (at == std::string::npos) return text;
  const auto end = text.find('\n', at);
  return text.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// Makes a lane's stream, if it has one (a GPU), current for a scope.
class StreamScope {
 public:
  explicit StreamScope(const std::optional<c10::Stream>& stream) {
    if (stream) guard_.reset_stream(*stream);
  }

 private:
  c10::OptionalStreamGuard guard_;
};

c10::ScalarType to_scalar_type(DType dtype) noexcept {
  switch (dtype) {
    case DType::kBool:
      return at::kBool;
    case DType::kUInt8:
      return at::kByte;
    case DType::kInt8:
      return at::kChar;
    case DType::kInt16:
      return at::kShort;
    case DType::kInt32:
      return at::kInt;
    case DType::kInt64:
      return at::kLong;
    case DType::kFloat16:
      return at::kHalf;
    case DType::kBFloat16:
      return at::kBFloat16;
    case DType::kFloat32:
      return at::kFloat;
    case DType::kFloat64:
      return at::kDouble;
  }
  return at::kFloat;  // unreachable: DType values are validated where they are read
}

// An input in a client's CUDA region, on this GPU. Floating-point data at an aligned address is
// read in place, like ring bytes on a CPU. Otherwise it is first copied, device to device, byte
// for byte (a byte copy runs at any address): a kernel reading a float at an odd address raises
// a sticky misaligned-address error that would end the worker, integers may steer indexing after
// a check while the client rewrites them, and BOOL bytes other than 0 and 1 become 1.
at::Tensor device_input(const InputTensor& input, c10::IntArrayRef sizes,
                        const at::TensorOptions& options) {
  // What cudaMalloc gives, and more than any kernel needs.
  constexpr std::uintptr_t kAlignment = 256;
  auto* data = const_cast<std::byte*>(input.data.data());
  if (is_floating_point(input.dtype) && reinterpret_cast<std::uintptr_t>(data) % kAlignment == 0)
    return at::from_blob(data, sizes, options);
  at::Tensor copy = at::empty(sizes, options);
  if (input.data.empty()) return copy;
  const at::Tensor bytes =
      at::from_blob(data, {static_cast<std::int64_t>(input.data.size())}, options.dtype(at::kByte));
  if (input.dtype == DType::kBool) {
    copy.reshape({-1}).copy_(bytes.ne(0), /*non_blocking=*/true);
  } else {
    copy.reshape({-1}).view(at::kByte).copy_(bytes, /*non_blocking=*/true);
  }
  return copy;
}

std::optional<DType> from_scalar_type(c10::ScalarType type) noexcept {
  switch (type) {
    case at::kBool:
      return DType::kBool;
    case at::kByte:
      return DType::kUInt8;
    case at::kChar:
      return DType::kInt8;
    case at::kShort:
      return DType::kInt16;
    case at::kInt:
      return DType::kInt32;
    case at::kLong:
      return DType::kInt64;
    case at::kHalf:
      return DType::kFloat16;
    case at::kBFloat16:
      return DType::kBFloat16;
    case at::kFloat:
      return DType::kFloat32;
    case at::kDouble:
      return DType::kFloat64;
    default:
      return std::nullopt;
  }
}

}  // namespace

struct Forward::State {
  bool failed = false;
  FailureKind failure = FailureKind::kNone;
  std::string error;
  DeviceLane* lane = nullptr;         // the calling thread's lane on the runner's device
  DeviceBackend* backend = nullptr;   // for the fault check after a failure
  std::optional<c10::Stream> stream;  // the lane's stream, made current around each step
  c10::Device device{c10::kCPU};      // the runner's device
  bool finished = false;
  StageDurations durations;

  void fail(std::string message, FailureKind kind = FailureKind::kModel) {
    failed = true;
    failure = kind;
    error =
        message.empty() ? std::string("(the exception carried no message)") : std::move(message);
  }

  // Sorts a caught exception: out of memory, a device that broke, or the model's own error.
  // Waits for the work already queued first: the caller may release the inputs' memory next.
  void fail_with(const std::exception& caught, const std::string& context) {
    std::string message = context + describe(caught);
    const bool out_of_memory = dynamic_cast<const c10::OutOfMemoryError*>(&caught) != nullptr ||
                               message.find(kCudaOutOfMemory) != std::string::npos;
    try {
      if (lane != nullptr) lane->synchronize();
    } catch (const std::exception&) {
      // The fault check below says what broke.
    }
    if (lane != nullptr) durations = lane->durations();  // the stages it got through
    const std::string fault = backend != nullptr ? backend->fault() : std::string();
    if (!fault.empty()) {
      fail(fault + " (while: " + message + ")", FailureKind::kDeviceFault);
    } else if (out_of_memory) {
      fail(out_of_memory_message(message), FailureKind::kOutOfMemory);
    } else {
      fail(std::move(message), FailureKind::kModel);
    }
    finished = true;
  }

  ReturnKind kind = ReturnKind::kTensor;
  std::vector<at::Tensor> tensors;  // as returned, possibly on the device
  std::vector<at::Tensor> host;     // contiguous CPU copies (or the tensors themselves), by index
  std::vector<std::string> keys;
  std::vector<std::string> dtype_names;
  std::vector<std::vector<std::int64_t>> shapes;
  std::vector<ModelOutput> outputs;  // views into the vectors above, built once they are full

  void add(std::string key, at::Tensor tensor) {
    keys.push_back(std::move(key));
    dtype_names.emplace_back(c10::toString(tensor.scalar_type()));
    shapes.emplace_back(tensor.sizes().begin(), tensor.sizes().end());
    tensors.push_back(std::move(tensor));
  }

  void publish_views() {
    outputs.clear();
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      outputs.push_back(ModelOutput{keys[i], from_scalar_type(tensors[i].scalar_type()),
                                    dtype_names[i], shapes[i]});
    }
    host.resize(tensors.size());
  }

  // Sorts what forward() returned into tensors, or says why it cannot.
  bool collect(const c10::IValue& result) {
    if (result.isTensor()) {
      kind = ReturnKind::kTensor;
      add({}, result.toTensor());
      return true;
    }
    if (result.isTuple() || result.isList()) {
      kind = ReturnKind::kSequence;
      const std::vector<c10::IValue> items =
          result.isTuple() ? result.toTupleRef().elements().vec() : result.toListRef().vec();
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (!items[i].isTensor()) {
          fail("forward() returned a " + std::string(result.isTuple() ? "tuple" : "list") +
               " whose element " + std::to_string(i) + " is a " + items[i].tagKind() +
               ", not a Tensor");
          return false;
        }
        add({}, items[i].toTensor());
      }
      return true;
    }
    if (result.isGenericDict()) {
      kind = ReturnKind::kDict;
      for (const auto& entry : result.toGenericDict()) {
        if (!entry.key().isString() || !entry.value().isTensor()) {
          fail("forward() returned a Dict whose entries are " + entry.key().tagKind() + " -> " +
               entry.value().tagKind() + ", not str -> Tensor");
          return false;
        }
        add(entry.key().toStringRef(), entry.value().toTensor());
      }
      return true;
    }
    fail("forward() returned a " + result.tagKind() +
         "; expected a Tensor, a tuple or list of Tensors, or a Dict[str, Tensor]");
    return false;
  }
};

Forward::Forward() : state_(std::make_unique<State>()) {}
Forward::Forward(Forward&&) noexcept = default;
Forward& Forward::operator=(Forward&&) noexcept = default;
Forward::~Forward() = default;

bool Forward::ok() const noexcept {
  return !state_->failed;
}
std::string_view Forward::error() const noexcept {
  return state_->error;
}
FailureKind Forward::failure() const noexcept {
  return state_->failure;
}
StageDurations Forward::durations() const noexcept {
  return state_->durations;
}
ReturnKind Forward::kind() const noexcept {
  return state_->kind;
}
std::span<const ModelOutput> Forward::outputs() const noexcept {
  return state_->outputs;
}

bool Forward::fetch(std::span<const std::size_t> indices) {
  try {
    c10::InferenceMode inference;
    const StreamScope scope(state_->stream);
    for (const std::size_t index : indices) {
      state_->host.at(index) = state_->tensors.at(index).to(at::kCPU).contiguous();
    }
    return true;
  } catch (const std::exception& error) {
    state_->fail_with(error, "copying outputs to host memory failed: ");
    return false;
  }
}

bool Forward::copy_output(std::size_t index, std::span<std::byte> destination, bool on_device) {
  if (state_->failed) return false;
  try {
    c10::InferenceMode inference;
    const at::Tensor& tensor = state_->tensors.at(index);
    if (static_cast<std::size_t>(tensor.nbytes()) != destination.size()) {
      state_->fail("output " + std::to_string(index) + " has " + std::to_string(tensor.nbytes()) +
                   " bytes but its place holds " + std::to_string(destination.size()));
      return false;
    }
    if (destination.empty()) return true;
    const StreamScope scope(state_->stream);
    if (on_device) {
      // Into a client's CUDA region, at whatever address it named: as bytes, so the copy is a
      // plain memcpy whatever the alignment, from the GPU or (an output the model left on the
      // CPU) from the host.
      const at::Tensor source = tensor.contiguous().reshape({-1}).view(at::kByte);
      at::Tensor place =
          at::from_blob(destination.data(), {static_cast<std::int64_t>(destination.size())},
                        at::TensorOptions().dtype(at::kByte).device(state_->device));
      place.copy_(source, /*non_blocking=*/true);
      return true;
    }
    at::Tensor place = at::from_blob(destination.data(), tensor.sizes(),
                                     at::TensorOptions().dtype(tensor.scalar_type()));
    place.copy_(tensor, /*non_blocking=*/true);
    return true;
  } catch (const std::exception& error) {
    state_->fail_with(error, "copying outputs into the response failed: ");
    return false;
  }
}

bool Forward::finish() {
  State& state = *state_;
  if (state.finished) return !state.failed;
  state.finished = true;
  try {
    if (state.lane != nullptr) {
      state.lane->end(Stage::kOutputCopy);
      state.lane->synchronize();
      state.durations = state.lane->durations();
    }
    return !state.failed;
  } catch (const std::exception& error) {
    state.finished = false;  // fail_with synchronizes once more and says what broke
    state.fail_with(error, "");
    return false;
  }
}

std::span<const std::byte> Forward::host_bytes(std::size_t index) const noexcept {
  const at::Tensor& tensor = state_->host[index];
  if (!tensor.defined() || tensor.numel() == 0) return {};
  return {static_cast<const std::byte*>(tensor.data_ptr()), tensor.nbytes()};
}

// ---------------------------------------------------------------------------------------------
struct ModelRunner::State {
  std::string error;
  torch::jit::Module module;
  c10::Device device = c10::Device(c10::kCPU);
  std::unique_ptr<DeviceBackend> backend;
  std::string message;  // what pin_host_memory(), device_fault() or describe_device() said last

  std::mutex lanes_mutex;
  std::unordered_map<std::thread::id, std::unique_ptr<DeviceLane>> lanes;

  // The calling thread's lane, made on its first job.
  DeviceLane& lane() {
    const std::lock_guard lock(lanes_mutex);
    auto& lane = lanes[std::this_thread::get_id()];
    if (!lane) lane = backend->make_lane();
    return *lane;
  }
};

ModelRunner::ModelRunner() : state_(std::make_unique<State>()) {}
ModelRunner::ModelRunner(ModelRunner&&) noexcept = default;
ModelRunner& ModelRunner::operator=(ModelRunner&&) noexcept = default;
ModelRunner::~ModelRunner() = default;

bool ModelRunner::ok() const noexcept {
  return state_->error.empty();
}
std::string_view ModelRunner::error() const noexcept {
  return state_->error;
}

bool ModelRunner::configure_threads(int intra_op_threads, int inter_op_threads) noexcept {
  try {
    // The supervisor shares the cores out between workers (supervisor/config.hpp, thread_plan):
    // inter-op threads run torch.jit.fork branches, intra-op threads the work inside one op.
    at::set_num_interop_threads(inter_op_threads);
    at::set_num_threads(intra_op_threads);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool ModelRunner::cuda_built() noexcept {
#ifdef INFERVISOR_WITH_CUDA
  return true;
#else
  return false;
#endif
}

std::string_view ModelRunner::torch_version() noexcept {
  return TORCH_VERSION;
}

ModelRunner ModelRunner::load(std::string_view path, std::string_view device_text) {
  ModelRunner runner;
  State& state = *runner.state_;
  const std::string file(path);
  try {
    state.device = c10::Device(std::string(device_text));
  } catch (const std::exception& error) {
    state.error =
        "device '" + std::string(device_text) + "' is not cpu or cuda:N (" + describe(error) + ")";
    return runner;
  }
  if (state.device.is_cuda()) {
    if (!torch::cuda::is_available()) {
      state.error = "device " + state.device.str() +
                    " requested but this libtorch " TORCH_VERSION
                    " has no CUDA support or sees no GPU";
      return runner;
    }
    const auto count = static_cast<int>(torch::cuda::device_count());
    if (!state.device.has_index() || state.device.index() >= count) {
      state.error = "device " + state.device.str() + " requested but only " +
                    std::to_string(count) + " CUDA device(s) are visible";
      return runner;
    }
  } else if (!state.device.is_cpu()) {
    state.error = "device " + state.device.str() + " is not supported (use cpu or cuda:N)";
    return runner;
  }
  if (state.device.is_cuda()) {
#ifdef INFERVISOR_WITH_CUDA
    state.backend = make_cuda_backend(state.device.index());
#else
    state.error = "this worker was built without CUDA support (its libtorch " TORCH_VERSION
                  " has CUDA, but the build found no CUDA toolkit)";
    return runner;
#endif
  } else {
    state.backend = make_cpu_backend();
  }
  try {
    state.module = torch::jit::load(file, state.device);
    state.module.eval();
  } catch (const std::exception& error) {
    state.error = "cannot load it as TorchScript: " + describe(error);
  }
  return runner;
}

Forward ModelRunner::forward(std::span<const InputTensor> inputs) const {
  Forward result;
  Forward::State& out = *result.state_;
  try {
    out.backend = state_->backend.get();
    out.lane = &state_->lane();
    out.stream = out.lane->stream();
    out.device = state_->device;
    c10::InferenceMode inference;
    const StreamScope scope(out.stream);
    out.lane->begin();
    const bool on_cpu = state_->device.is_cpu();
    std::vector<c10::IValue> arguments;
    arguments.reserve(inputs.size());
    for (const InputTensor& input : inputs) {
      const auto options = at::TensorOptions().dtype(to_scalar_type(input.dtype));
      const c10::IntArrayRef sizes(input.shape.data(), input.shape.size());
      // Zero copy on the CPU: the tensor reads the caller's bytes in place. The const_cast is
      // safe because the worker hands TorchScript read-only inputs; a model that writes into its
      // input would write into the request ring, which the worker releases right after the
      // response.
      if (input.on_device) {
        if (on_cpu) throw std::runtime_error("an input in GPU memory reached a CPU model");
        arguments.emplace_back(device_input(input, sizes, options.device(state_->device)));
        continue;
      }
      at::Tensor host =
          input.data.empty()
              ? at::empty(sizes, options)
              : at::from_blob(const_cast<std::byte*>(input.data.data()), sizes, options);
      if (on_cpu) {
        arguments.emplace_back(std::move(host));
        continue;
      }
      at::Tensor on_device = at::empty(sizes, options.device(state_->device));
      if (!input.data.empty()) on_device.copy_(host, /*non_blocking=*/true);
      arguments.emplace_back(std::move(on_device));
    }
    out.lane->end(Stage::kInputCopy);
    // Module is a handle onto shared state; a local copy lets concurrent callers each run it.
    torch::jit::Module module = state_->module;
    const c10::IValue returned = module.forward(std::move(arguments));
    out.lane->end(Stage::kForward);
    if (out.collect(returned)) out.publish_views();
    if (out.failed) {
      out.finished = false;
      const std::string message = out.error;
      out.fail_with(std::runtime_error(message), "");
    }
  } catch (const std::exception& error) {
    out.fail_with(error, "");
  }
  if (out.failed) {
    out.tensors.clear();
    out.outputs.clear();
  }
  return result;
}

std::string_view ModelRunner::pin_host_memory(std::span<std::byte> memory) const {
  state_->message = state_->backend ? state_->backend->pin(memory) : std::string();
  return state_->message;
}

void ModelRunner::unpin_host_memory(std::span<std::byte> memory) const {
  if (state_->backend) state_->backend->unpin(memory);
}

std::string_view ModelRunner::open_ipc_memory(std::span<const std::byte> handle, std::byte** base,
                                              std::uint64_t* size) const {
  try {
    state_->message = state_->backend ? state_->backend->open_ipc(handle, base, size)
                                      : std::string("the model has no device backend");
  } catch (const std::exception& error) {
    state_->message = error.what();
  }
  return state_->message;
}

void ModelRunner::close_ipc_memory(std::byte* base) const {
  if (state_->backend) state_->backend->close_ipc(base);
}

void ModelRunner::release_cached_memory() const {
  try {
    if (state_->backend) state_->backend->release_cached_memory();
  } catch (const std::exception&) {
    // Freeing a cache that cannot be freed leaves it as it was; the next job will tell.
  }
}

std::string_view ModelRunner::device_fault() const {
  state_->message = state_->backend ? state_->backend->fault() : std::string();
  return state_->message;
}

std::uint64_t ModelRunner::device_memory_bytes() const noexcept {
  try {
    return state_->backend ? state_->backend->memory_bytes() : 0;
  } catch (...) {
    return 0;
  }
}

std::string_view ModelRunner::describe_device() const {
  state_->message = state_->backend ? state_->backend->describe() : std::string("cpu");
  return state_->message;
}

}  // namespace infervisor::worker
