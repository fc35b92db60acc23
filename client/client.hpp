// The infervisor client: health, metadata, the repository index, statistics and inference against
// infervisord, over the KServe v2 / Open Inference Protocol REST API (HTTP/1.1 on the daemon's
// Unix socket, or TCP). Synchronous; one connection, kept alive between calls; not thread-safe.
//
// Every call throws InfervisorError when it cannot give an answer: HttpError (with the status and
// the server's message) when the server refused, kCorrupt when the server's reply does not make
// sense (it is checked in full and never trusted), kTimeout/kPeerGone/kSystem for the transport.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/endpoint.hpp"
#include "client/http_error.hpp"
#include "client/kserve_types.hpp"
#include "common/socket_path.hpp"

namespace infervisor::client {

class HttpTransport;

struct ClientOptions {
  Endpoint endpoint = UnixEndpoint{default_socket_path()};
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds request_timeout{60'000};
  std::uint64_t max_response_bytes = std::uint64_t{4} << 30;  // refuse larger replies
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  // GET /v2/health/live and /v2/health/ready: true on 200, false on any other status.
  bool server_live();
  bool server_ready();
  // GET /v2/models/{model}[/versions/{version}]/ready: true on 200, false on any other status.
  bool model_ready(std::string_view model, std::string_view version = {});

  ServerMetadata server_metadata();                                                     // GET /v2
  ModelMetadata model_metadata(std::string_view model, std::string_view version = {});  // GET
  // POST /v2/repository/index; `ready_only` asks for only the models ready to serve.
  std::vector<RepositoryModel> repository_index(bool ready_only = false);
  // Triton's repository extension; each returns once the daemon has done it (throws HttpError).
  void load_model(std::string_view model);
  void unload_model(std::string_view model);

  // Triton's statistics extension: GET /v2/models/stats (every model),
  // /v2/models/{model}/stats (each version of it) or /v2/models/{model}/versions/{version}/stats.
  // HttpError 404 for an unknown model; kCorrupt if an entry is not the model asked for.
  std::vector<ModelStatistics> model_statistics(std::string_view model = {},
                                                std::string_view version = {});

  // POST /v2/models/{model}[/versions/{version}]/infer, binary or JSON as request.binary says.
  // Outputs in request.output_regions come back with `region` set and no data: the server wrote
  // them there (read_region_output copies them out of a SystemRegion's bytes()).
  InferResult infer(const InferRequest& request);

  // Triton's system shared-memory extension (the server lists "system_shared_memory" in
  // ServerMetadata::extensions). Register: POSIX shm object `key` ("/name", e.g. a
  // SystemRegion's key()) from `offset`, `byte_size` bytes, as region `name`, which inputs and
  // outputs then reference. Unregister: region `name`, or with nullopt all of the caller's
  // regions. Status: the caller's regions, or the one named (HttpError 400/404 if unknown).
  void register_system_shared_memory(std::string_view name, std::string_view key,
                                     std::uint64_t byte_size, std::uint64_t offset = 0);
  void unregister_system_shared_memory(std::optional<std::string_view> name = std::nullopt);
  std::vector<SystemRegionStatus> system_shared_memory_status(
      std::optional<std::string_view> name = std::nullopt);

  // Triton's CUDA shared-memory extension ("cuda_shared_memory"): GPU memory this process
  // exported with cudaIpcGetMemHandle (`raw_handle`, the 64 bytes of a cudaIpcMemHandle_t, which
  // names the base of a cudaMalloc block) on GPU `device_id` (the daemon's numbering, as in
  // `cuda:N`), `byte_size` bytes from the block's base. Inputs are read and outputs written there
  // in place by a worker on that GPU.
  void register_cuda_shared_memory(std::string_view name, std::span<const std::byte> raw_handle,
                                   int device_id, std::uint64_t byte_size);
  void unregister_cuda_shared_memory(std::optional<std::string_view> name = std::nullopt);
  std::vector<CudaRegionStatus> cuda_shared_memory_status(
      std::optional<std::string_view> name = std::nullopt);

  const Endpoint& endpoint() const noexcept;

 private:
  // POST `body` (JSON) to `target`; throws HttpError unless the answer is 2xx.
  void post_expecting_success(std::string target, std::string body);

  std::unique_ptr<HttpTransport> transport_;
};

}  // namespace infervisor::client
