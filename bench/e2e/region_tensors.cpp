#include "bench/e2e/region_tensors.hpp"

#include <cstring>

#include "client/client.hpp"

namespace infervisor::bench::e2e {
namespace {

std::size_t input_bytes_of(const PayloadShape& shape) {
  std::size_t elements = 1;
  for (const auto dim : shape.shape)
    elements *= static_cast<std::size_t>(dim);
  return elements * sizeof(float);
}

client::Client client_for(const std::filesystem::path& socket) {
  client::ClientOptions options;
  options.endpoint = client::UnixEndpoint{socket};
  return client::Client(options);
}

}  // namespace

RegionTensors::RegionTensors(const std::filesystem::path& socket, const PayloadShape& shape)
    : socket_(socket),
      input_(input_bytes_of(shape), "ivbench"),
      output_(shape.output_elements * sizeof(float), "ivbench"),
      payload_(make_region_payload(shape, input_.object_name(), output_.object_name())) {
  const auto bytes = input_bytes(shape.shape);
  std::memcpy(input_.bytes().data(), bytes.data(), bytes.size());
  auto client = client_for(socket_);
  client.register_system_shared_memory(input_.object_name(), input_.key(), input_.byte_size());
  client.register_system_shared_memory(output_.object_name(), output_.key(), output_.byte_size());
}

RegionTensors::~RegionTensors() {
  try {
    auto client = client_for(socket_);
    client.unregister_system_shared_memory(input_.object_name());
    client.unregister_system_shared_memory(output_.object_name());
  } catch (const std::exception&) {
    // The daemon is gone already: its regions went with it.
  }
}

}  // namespace infervisor::bench::e2e
