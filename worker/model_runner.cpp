// The worker's libtorch translation unit. Built with libtorch's flags (see model_runner.hpp for
// why nothing here may use the project's string-carrying types, fmt or spdlog).
#include "worker/model_runner.hpp"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/version.h>

#include <exception>
#include <string>
#include <utility>
#include <vector>

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
  std::string error;

  void fail(std::string message) {
    failed = true;
    error =
        message.empty() ? std::string("(the exception carried no message)") : std::move(message);
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
ReturnKind Forward::kind() const noexcept {
  return state_->kind;
}
std::span<const ModelOutput> Forward::outputs() const noexcept {
  return state_->outputs;
}

bool Forward::fetch(std::span<const std::size_t> indices) {
  try {
    c10::InferenceMode inference;
    for (const std::size_t index : indices) {
      state_->host.at(index) = state_->tensors.at(index).to(at::kCPU).contiguous();
    }
    return true;
  } catch (const std::exception& error) {
    state_->fail("copying outputs to host memory failed: " + describe(error));
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

bool ModelRunner::configure_threads(int intra_op_threads) noexcept {
  try {
    // Workers are isolated processes, several per host: one inter-op thread each keeps them
    // from oversubscribing the cores the supervisor shares out through intra-op threads.
    at::set_num_interop_threads(1);
    at::set_num_threads(intra_op_threads);
    return true;
  } catch (const std::exception&) {
    return false;
  }
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
    c10::InferenceMode inference;
    std::vector<c10::IValue> arguments;
    arguments.reserve(inputs.size());
    for (const InputTensor& input : inputs) {
      const auto options = at::TensorOptions().dtype(to_scalar_type(input.dtype));
      const c10::IntArrayRef sizes(input.shape.data(), input.shape.size());
      // Zero copy: the tensor reads the caller's bytes in place. The const_cast is safe because
      // the worker hands TorchScript read-only inputs; a model that writes into its input would
      // write into the request ring, which the worker releases right after the response.
      at::Tensor tensor =
          input.data.empty()
              ? at::empty(sizes, options)
              : at::from_blob(const_cast<std::byte*>(input.data.data()), sizes, options);
      arguments.emplace_back(state_->device.is_cpu() ? std::move(tensor)
                                                     : tensor.to(state_->device));
    }
    // Module is a handle onto shared state; a local copy lets concurrent callers each run it.
    torch::jit::Module module = state_->module;
    const c10::IValue returned = module.forward(std::move(arguments));
    if (out.collect(returned)) out.publish_views();
  } catch (const std::exception& error) {
    out.fail(describe(error));
  }
  if (out.failed) {
    out.tensors.clear();
    out.outputs.clear();
  }
  return result;
}

}  // namespace infervisor::worker
