#include "client/ctl_commands.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <cmath>
#include <cstring>

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

int infer(Client& client, const CtlArgs& args, std::ostream& out, std::ostream& err) {
  InferRequest request;
  request.model = args.model;
  request.binary = !args.json;
  request.outputs = args.outputs;
  for (const auto& input : args.inputs) {
    NpyArray array;
    try {
      array = read_npy(input.file);
    } catch (const InfervisorError& error) {
      throw InfervisorError(error.code(), fmt::format("input '{}': {}", input.name, error.what()));
    }
    request.inputs.push_back(
        Tensor{input.name, array.dtype, std::move(array.shape), std::move(array.data)});
  }
  const auto result = client.infer(request);
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

int run_ctl_command(const CtlArgs& args, std::ostream& out, std::ostream& err) {
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
    case CtlCommand::kHelp:
      break;
  }
  return 0;
}

}  // namespace infervisor::client
