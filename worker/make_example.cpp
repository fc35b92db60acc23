// infervisor-make-example OUT.pt [--kind KIND] [--seed N] [--library FILE.so...]
//
// Writes a small TorchScript model built with libtorch's C++ API, so that neither the build nor
// the tests need Python. `mlp` is the example model the documentation and benchmarks use; the
// others exist to exercise the worker:
//   mlp       x FP32 [-1,256] -> y FP32 [-1,256]: Linear(256,256) -> ReLU -> Linear(256,256)
//   identity  returns its input unchanged (any dtype, any shape)
//   tuple     returns (x * 2, x + 1)
//   dict      returns {"twice": x * 2, "plus_one": x + 1}
//   faulty    raises (a failed assert) when the input's first element is negative, else returns
//             x * 3
//   slow      runs N rounds of a 128x128 matrix product and tanh, where N is the input's first
//             element, then returns x: a job that lasts as long as a test needs (a round takes
//             0.1-2 ms on one core, depending on the host and its BLAS; no TorchScript op reads
//             the clock, so "N ms" cannot be promised)
//   forked    returns x after 16 rounds of slow's work in each of two branches, started with
//             torch.jit.fork and joined with wait: with 2 inter-op threads the branches run at
//             once, with 1 one after the other (a benchmark row shows which)
//   allocate  allocates N GiB of zeros on the input's device (N = the input's first element),
//             then returns x: N = 0 succeeds, a large N runs out of memory
//   gather    returns x * 0 + x.flatten()[i] with i = the input's first element, through
//             index_select: an index past the end raises on a CPU and is a sticky device-side
//             assert on a GPU
//   poison, hang, leak
//             y = 2 * infervisor_test::<kind>(x) + 1: they call the ops of the test operator
//             library, so they need --library libinfervisor_test_ops.so (tests/ops/test_ops.hpp
//             says what each op does)
//
// --library loads a custom operator library (dlopen, as the worker does) before the model is
// defined, so that its TorchScript code may call the library's ops.
//
// Built with libtorch's flags like model_runner.cpp, so it uses only libtorch, the standard
// library and the ABI-neutral common/cli_args.hpp (see model_runner.hpp on the ABI).
#include <dlfcn.h>
#include <torch/csrc/jit/frontend/resolver.h>
#include <torch/csrc/jit/frontend/sugared_value.h>
#include <torch/script.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <span>
#include <string>
#include <string_view>

#include "common/cli_args.hpp"

namespace {

constexpr std::int64_t kWidth = 256;
constexpr std::int64_t kSlowWidth = 128;

// splitmix64: weights must be the same on every host and every libtorch version, which torch's
// own generators do not promise.
class WeightStream {
 public:
  explicit WeightStream(std::uint64_t seed) : state_(seed) {}

  // Uniform in [-bound, bound), like torch.nn.Linear's default initialisation.
  float next(float bound) {
    state_ += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    const double unit = static_cast<double>(z >> 11) * 0x1.0p-53;
    return static_cast<float>((2.0 * unit - 1.0) * bound);
  }

  torch::Tensor tensor(std::initializer_list<std::int64_t> shape, float bound) {
    torch::Tensor out = torch::empty(shape, torch::kFloat32);
    float* data = out.data_ptr<float>();
    for (std::int64_t i = 0; i < out.numel(); ++i)
      data[i] = next(bound);
    return out;
  }

 private:
  std::uint64_t state_;
};

// Module::define() resolves only `torch.*` names by itself; this adds `ops.NAMESPACE.OP`, how
// TorchScript spells a custom op (torch.ops.NAMESPACE.OP in Python), so that a model may call the
// ops of a library loaded with --library.
class CustomOpNamespaces : public torch::jit::SugaredValue {
 public:
  std::string kind() const override { return "custom op namespaces"; }
  std::shared_ptr<torch::jit::SugaredValue> attr(const torch::jit::SourceRange& /*loc*/,
                                                 torch::jit::GraphFunction& /*m*/,
                                                 const std::string& field) override {
    return std::make_shared<torch::jit::BuiltinModule>(field);
  }
};

// TorchScript compiled from C++ knows `torch.*` only. This resolver adds `ops.NAMESPACE.OP` and
// `fork`, a special form that Python's resolver supplies (torch.jit.fork).
class ModelResolver : public torch::jit::NativeResolver {
 public:
  std::shared_ptr<torch::jit::SugaredValue> resolveValue(
      const std::string& name, torch::jit::GraphFunction& m,
      const torch::jit::SourceRange& loc) override {
    if (name == "ops") return std::make_shared<CustomOpNamespaces>();
    if (name == "fork") return torch::jit::SpecialFormValue::create(c10::prim::fork);
    return NativeResolver::resolveValue(name, m, loc);
  }
};

void add_linear(torch::jit::Module& module, WeightStream& weights, const std::string& suffix) {
  const float bound = 1.0f / std::sqrt(static_cast<float>(kWidth));
  module.register_parameter("weight" + suffix, weights.tensor({kWidth, kWidth}, bound), false);
  module.register_parameter("bias" + suffix, weights.tensor({kWidth}, bound), false);
}

torch::jit::Module build(std::string_view kind, std::uint64_t seed) {
  torch::jit::Module module("infervisor_" + std::string(kind));
  WeightStream weights(seed);
  if (kind == "mlp") {
    add_linear(module, weights, "1");
    add_linear(module, weights, "2");
    module.define(R"(
def forward(self, x):
    hidden = torch.relu(torch.linear(x, self.weight1, self.bias1))
    return torch.linear(hidden, self.weight2, self.bias2)
)");
  } else if (kind == "identity") {
    module.define(R"(
def forward(self, x):
    return x
)");
  } else if (kind == "tuple") {
    module.define(R"(
def forward(self, x):
    return x * 2, x + 1
)");
  } else if (kind == "dict") {
    module.define(R"(
def forward(self, x):
    return {"twice": x * 2, "plus_one": x + 1}
)");
  } else if (kind == "faulty") {
    module.define(R"(
def forward(self, x):
    assert bool(x.flatten()[0] >= 0), "faulty model: the first input element is negative"
    return x * 3
)");
  } else if (kind == "slow") {
    module.register_buffer("work", weights.tensor({kSlowWidth, kSlowWidth}, 1.0f / kSlowWidth));
    module.define(R"(
def forward(self, x):
    rounds = int(x.flatten()[0])
    acc = self.work
    for _ in range(rounds):
        acc = torch.tanh(torch.mm(acc, self.work))
    return x + acc.sum() * 0
)");
  } else if (kind == "forked") {
    module.register_buffer("work", weights.tensor({kSlowWidth, kSlowWidth}, 1.0f / kSlowWidth));
    module.define(R"(
def branch(self, x):
    acc = self.work
    for _ in range(16):
        acc = torch.tanh(torch.mm(acc, self.work))
    return x + acc.sum() * 0

def forward(self, x):
    first = fork(self.branch, x)
    second = fork(self.branch, x)
    return torch.wait(first) + torch.wait(second) - x
)",
                  std::make_shared<ModelResolver>());
  } else if (kind == "allocate") {
    module.define(R"(
def forward(self, x):
    gib = int(x.flatten()[0])
    block = x.new_zeros([gib * 268435456])
    return x + block.sum()
)");
  } else if (kind == "gather") {
    module.define(R"(
def forward(self, x):
    index = x.flatten()[:1].long()
    return x * 0 + torch.index_select(x.flatten(), 0, index).sum()
)");
  } else if (kind == "poison" || kind == "hang" || kind == "leak") {
    module.define("def forward(self, x):\n    return 2 * ops.infervisor_test." + std::string(kind) +
                      "(x) + 1\n",
                  std::make_shared<ModelResolver>());
  } else {
    throw std::invalid_argument("unknown --kind '" + std::string(kind) +
                                "' (expected mlp, identity, tuple, dict, faulty, slow, forked, "
                                "allocate, gather, poison, hang or leak)");
  }
  module.eval();
  return module;
}

int usage(std::string_view problem) {
  std::cerr << "infervisor-make-example: " << problem << "\n"
            << "usage: infervisor-make-example OUT.pt [--kind mlp|identity|tuple|dict|faulty|slow|"
               "forked|allocate|gather|poison|hang|leak] [--seed N] [--library FILE.so...]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out;
  std::string kind = "mlp";
  std::uint64_t seed = 1;
  try {
    const std::span<char* const> args(argv + 1, static_cast<std::size_t>(argc - 1));
    for (const infervisor::CliArg& arg : infervisor::split_cli(args)) {
      if (arg.flag == "--kind") {
        kind = std::string(arg.value);
      } else if (arg.flag == "--seed") {
        seed = static_cast<std::uint64_t>(
            infervisor::parse_int_flag(arg, 0, std::numeric_limits<std::int64_t>::max()));
      } else if (arg.flag == "--library") {
        const std::string library(arg.value);
        if (::dlopen(library.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
          std::cerr << "infervisor-make-example: cannot load the operator library " << library
                    << ": " << ::dlerror() << "\n";
          return 1;
        }
      } else if (arg.flag.empty() && out.empty()) {
        out = std::string(arg.value);
      } else {
        return usage("unexpected argument '" +
                     std::string(arg.flag.empty() ? arg.value : arg.flag) + "'");
      }
    }
  } catch (const std::exception& error) {  // a UsageError, read through what(): see cli_args.hpp
    return usage(error.what());
  }
  if (out.empty()) return usage("no output file given");
  try {
    build(kind, seed).save(out);
  } catch (const c10::Error& error) {
    std::cerr << "infervisor-make-example: cannot build the " << kind
              << " model: " << error.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "infervisor-make-example: cannot build the " << kind << " model into " << out
              << ": " << error.what() << "\n";
    return 1;
  }
  return 0;
}
