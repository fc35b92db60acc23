#include "client/ctl_commands.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/interrupt_watch.hpp"
#include "client/kserve_response.hpp"
#include "client/output_size.hpp"
#include "client/shared_memory_region.hpp"
#include "client/stats_table.hpp"
#include "client/tensor_summary.hpp"
#include "common/error.hpp"
#include "common/half.hpp"
#include "common/npy.hpp"
#include "common/shape.hpp"
#include "common/socket_path.hpp"

namespace infervisor::client {
namespace {

std::string_view yes_no(bool value) {
  return value ? "yes" : "no";
}

int health(Client& client, std::ostream& out) {
  const bool live = client.server_live();
  const bool ready = client.server_ready();
  fmt::print(out, "live: {}\nready: {}\n", yes_no(live), yes_no(ready));
  return ready ? 0 : 1;
}

int models(Client& client, std::ostream& out) {
  const auto index = client.repository_index();
  const auto dash = [](const std::string& text) { return text.empty() ? std::string("-") : text; };
  std::size_t name_width = 4, version_width = 7;
  for (const auto& model : index) {
    name_width = std::max(name_width, model.name.size());
    version_width = std::max(version_width, dash(model.version).size());
  }
  for (const auto& model : index) {
    std::string line = fmt::format("{:<{}}  {:<{}}  {}", model.name, name_width,
                                   dash(model.version), version_width, dash(model.state));
    if (!model.reason.empty()) line += fmt::format("  ({})", model.reason);
    fmt::print(out, "{}\n", line);
  }
  return 0;
}

int metadata(Client& client, const CtlArgs& args, std::ostream& out) {
  const auto metadata = client.model_metadata(args.model);
  fmt::print(out, "name: {}\n", metadata.name);
  fmt::print(
      out, "versions: {}\n",
      metadata.versions.empty() ? "-" : fmt::format("{}", fmt::join(metadata.versions, ", ")));
  fmt::print(out, "platform: {}\n", metadata.platform.empty() ? "-" : metadata.platform);
  const auto print_tensors = [&](std::string_view title, const std::vector<TensorMetadata>& list) {
    fmt::print(out, "{}:\n", title);
    for (const auto& tensor : list) {
      fmt::print(out, "  {} {} {}\n", tensor.name, tensor.datatype, shape_to_string(tensor.shape));
    }
  };
  print_tensors("inputs", metadata.inputs);
  print_tensors("outputs", metadata.outputs);
  return 0;
}

// A server names the outputs; writing DIR/NAME.npy must not let a name like "../x" escape DIR.
void check_file_name(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    throw InfervisorError(
        ErrorCode::kCorrupt,
        fmt::format("output name '{}' is not a safe file name; not writing it", name));
  }
}

void write_output(const Tensor& output, const std::filesystem::path& dir, std::ostream& err) {
  check_file_name(output.name);
  const auto path = dir / (output.name + ".npy");
  if (output.dtype != DType::kBFloat16) {
    write_npy(path, output.dtype, output.shape, output.data);
    return;
  }
  // .npy has no bfloat16; float32 holds every bfloat16 value exactly.
  std::vector<float> widened(output.data.size() / 2);
  for (std::size_t i = 0; i < widened.size(); ++i) {
    std::uint16_t bits = 0;
    std::memcpy(&bits, output.data.data() + 2 * i, 2);
    widened[i] = bfloat16_to_float(bits);
  }
  fmt::print(err, "note: output '{}' is BF16, which .npy cannot hold; wrote it as float32\n",
             output.name);
  write_npy(path, DType::kFloat32, output.shape, std::as_bytes(std::span(widened)));
}

// A region registered with the server for one command. The destructor unregisters it quietly
// (a note on `err`), so an error on the way does not leave it registered; the success path calls
// unregister() and sees its errors. Declare it after the SystemRegion it names, so it goes first.
class Registration {
 public:
  Registration(Client& client, const SystemRegion& region, std::ostream& err)
      : client_(client), err_(err) {
    client.register_system_shared_memory(region.object_name(), region.key(), region.byte_size());
    name_ = region.object_name();
  }
  ~Registration() {
    if (name_.empty()) return;
    try {
      client_.unregister_system_shared_memory(name_);
    } catch (const std::exception& error) {
      fmt::print(err_, "note: could not unregister shared-memory region '{}': {}\n", name_,
                 error.what());
    }
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

  void unregister() { client_.unregister_system_shared_memory(std::exchange(name_, {})); }

 private:
  Client& client_;
  std::ostream& err_;
  std::string name_;  // empty: nothing to unregister
};

// What --shm puts in shared memory for one call: a region for the inputs, one for the outputs
// whose size is known in advance, each registered while the call needs it.
struct SharedTensors {
  std::optional<SystemRegion> inputs, outputs;
  std::optional<Registration> inputs_registered, outputs_registered;  // destroyed first

  void unregister() {
    if (outputs_registered) outputs_registered->unregister();
    if (inputs_registered) inputs_registered->unregister();
  }
};

// Offsets for tensors of `sizes` bytes, each on a kRegionAlignment boundary; the last element is
// the room they need in all.
std::vector<std::uint64_t> layout(const std::vector<std::uint64_t>& sizes) {
  std::vector<std::uint64_t> offsets;
  std::uint64_t end = 0;
  for (const auto size : sizes) {
    offsets.push_back(end);
    const auto next =
        size > UINT64_MAX - end ? std::nullopt : checked_align_up(end + size, kRegionAlignment);
    if (!next || *next > SIZE_MAX) {
      throw InfervisorError(ErrorCode::kTooLarge, "--shm: the tensors do not fit in memory");
    }
    end = *next;
  }
  offsets.push_back(end);
  return offsets;
}

// Copies every non-empty input into one new region and sends it as a reference there.
void place_inputs(Client& client, InferRequest& request, SharedTensors& shared, std::ostream& err) {
  std::vector<Tensor*> inputs;
  std::vector<std::uint64_t> sizes;
  for (auto& input : request.inputs) {
    if (input.data.empty()) continue;  // nothing to share; it goes in the body
    inputs.push_back(&input);
    sizes.push_back(input.data.size());
  }
  if (inputs.empty()) return;
  const auto offsets = layout(sizes);
  auto& region = shared.inputs.emplace(static_cast<std::size_t>(offsets.back()));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Tensor& input = *inputs[i];
    std::memcpy(region.bytes().data() + offsets[i], input.data.data(), input.data.size());
    input.region = RegionRef{std::string(region.object_name()), offsets[i], sizes[i]};
    std::vector<std::byte>().swap(input.data);
  }
  shared.inputs_registered.emplace(client, region, err);
}

// Asks every requested output whose size the model metadata fixes into one new region; the
// others come in the reply, with a note for those of a size not known in advance.
void place_outputs(Client& client, InferRequest& request, const ModelMetadata& metadata,
                   SharedTensors& shared, std::ostream& err) {
  const auto batch = batch_size(metadata, request.inputs);
  std::vector<std::string> outputs;
  std::vector<std::uint64_t> sizes;
  for (const auto& name : request.outputs) {
    const auto declared =
        std::find_if(metadata.outputs.begin(), metadata.outputs.end(),
                     [&](const TensorMetadata& output) { return output.name == name; });
    if (declared == metadata.outputs.end()) continue;  // the server will say it has no such output
    const auto bytes = predicted_output_bytes(*declared, batch);
    if (!bytes) {
      fmt::print(err,
                 "note: output '{}' is {} {} in the model metadata, a size not known before the "
                 "call; it comes in the reply, not through shared memory\n",
                 name, declared->datatype, shape_to_string(declared->shape));
      continue;
    }
    if (*bytes == 0) continue;
    outputs.push_back(name);
    sizes.push_back(*bytes);
  }
  if (outputs.empty()) return;
  const auto offsets = layout(sizes);
  auto& region = shared.outputs.emplace(static_cast<std::size_t>(offsets.back()));
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    request.output_regions[outputs[i]] =
        RegionRef{std::string(region.object_name()), offsets[i], sizes[i]};
  }
  shared.outputs_registered.emplace(client, region, err);
}

void place_in_shared_memory(Client& client, InferRequest& request, SharedTensors& shared,
                            std::ostream& err) {
  const auto server = client.server_metadata();
  if (std::find(server.extensions.begin(), server.extensions.end(), "system_shared_memory") ==
      server.extensions.end()) {
    throw InfervisorError(ErrorCode::kInvalidArgument,
                          "--shm: the server does not offer system shared memory (GET /v2 lists "
                          "no 'system_shared_memory' extension)");
  }
  const auto metadata = client.model_metadata(request.model, request.model_version);
  // An output goes to a region only when it is named; with none named, name every output.
  if (request.outputs.empty()) {
    for (const auto& output : metadata.outputs)
      request.outputs.push_back(output.name);
  }
  place_inputs(client, request, shared, err);
  place_outputs(client, request, metadata, shared, err);
}

std::vector<Tensor> read_inputs(const CtlArgs& args) {
  std::vector<Tensor> inputs;
  for (const auto& input : args.inputs) {
    NpyArray array;
    try {
      array = read_npy(input.file);
    } catch (const InfervisorError& error) {
      throw InfervisorError(error.code(), fmt::format("input '{}': {}", input.name, error.what()));
    }
    inputs.push_back(
        Tensor{input.name, array.dtype, std::move(array.shape), std::move(array.data)});
  }
  return inputs;
}

int infer(Client& client, const CtlArgs& args, std::ostream& out, std::ostream& err) {
  InferRequest request;
  request.model = args.model;
  request.binary = !args.json;
  request.priority = args.priority;
  request.outputs = args.outputs;
  request.inputs = read_inputs(args);
  SharedTensors shared;  // unregistered and unlinked on every way out of here
  if (args.shm) place_in_shared_memory(client, request, shared, err);
  auto result = client.infer(request);
  for (auto& output : result.outputs) {
    // Only outputs in request.output_regions come back with a region: `shared.outputs` holds it.
    if (output.region) read_region_output(output, shared.outputs->bytes());
  }
  for (const auto& output : result.outputs)
    fmt::print(out, "{}\n", summarize_tensor(output));
  if (args.out_dir) {
    std::error_code ec;
    std::filesystem::create_directories(*args.out_dir, ec);
    if (ec) {
      throw InfervisorError(ErrorCode::kSystem, fmt::format("cannot create {}: {}",
                                                            args.out_dir->string(), ec.message()));
    }
    for (const auto& output : result.outputs)
      write_output(output, *args.out_dir, err);
    fmt::print(err, "wrote {} output(s) to {}\n", result.outputs.size(), args.out_dir->string());
  }
  shared.unregister();
  return 0;
}

int stats(Client& client, const CtlArgs& args, std::ostream& out) {
  fmt::print(out, "{}", format_statistics(client.model_statistics(args.model)));
  return 0;
}

// Samples the statistics every interval and prints what changed since the previous sample,
// timed by the clock (not the nominal interval), so a slow reply does not inflate the rates.
int top(Client& client, const CtlArgs& args, std::ostream& out, bool out_is_terminal) {
  using clock = std::chrono::steady_clock;
  constexpr std::string_view kClearScreen = "\x1b[H\x1b[2J";  // cursor home, erase the screen
  const auto interval = std::chrono::duration_cast<clock::duration>(
      std::chrono::duration<double>(args.interval_seconds));
  InterruptWatch interrupt;
  auto before = client.model_statistics(args.model);
  auto sampled = clock::now();
  for (std::int64_t refresh = 0; !args.count || refresh < *args.count; ++refresh) {
    if (!interrupt.sleep_for(sampled + interval - clock::now())) break;
    auto after = client.model_statistics(args.model);
    const auto now = clock::now();
    if (out_is_terminal) {
      out << kClearScreen;
    } else if (refresh > 0) {
      out << '\n';
    }
    out << format_top(before, after, now - sampled) << std::flush;
    before = std::move(after);
    sampled = now;
  }
  return 0;
}

}  // namespace

ClientOptions ctl_client_options(const CtlArgs& args) {
  ClientOptions options;
  if (args.url) {
    options.endpoint = parse_url(*args.url);
  } else {
    options.endpoint = UnixEndpoint{args.socket ? *args.socket : default_socket_path()};
  }
  if (args.timeout_seconds) {
    const auto timeout = std::chrono::milliseconds(
        static_cast<std::int64_t>(std::ceil(*args.timeout_seconds * 1000)));
    options.connect_timeout = timeout;
    options.request_timeout = timeout;
  }
  return options;
}

int run_ctl_command(const CtlArgs& args, std::ostream& out, std::ostream& err,
                    bool out_is_terminal) {
  Client client(ctl_client_options(args));
  switch (args.command) {
    case CtlCommand::kHealth:
      return health(client, out);
    case CtlCommand::kModels:
      return models(client, out);
    case CtlCommand::kMetadata:
      return metadata(client, args, out);
    case CtlCommand::kInfer:
      return infer(client, args, out, err);
    case CtlCommand::kLoad:
      client.load_model(args.model);
      fmt::print(out, "{}: loaded\n", args.model);
      return 0;
    case CtlCommand::kUnload:
      client.unload_model(args.model);
      fmt::print(out, "{}: unloaded\n", args.model);
      return 0;
    case CtlCommand::kStats:
      return stats(client, args, out);
    case CtlCommand::kTop:
      return top(client, args, out, out_is_terminal);
    case CtlCommand::kHelp:
      break;
  }
  return 0;
}

}  // namespace infervisor::client
