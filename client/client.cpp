#include "client/client.hpp"

#include <fmt/format.h>

#include "client/http_transport.hpp"
#include "client/kserve_request.hpp"
#include "client/kserve_response.hpp"
#include "client/model_statistics.hpp"

namespace infervisor::client {
namespace {

HttpRequest get(std::string target) {
  return HttpRequest{"GET", std::move(target), {}, {}, {}};
}

HttpRequest post_json(std::string target, std::string body) {
  return HttpRequest{
      "POST", std::move(target), {{"Content-Type", "application/json"}}, std::move(body), {}};
}

bool is_success(const HttpResponse& response) {
  return response.status >= 200 && response.status < 300;
}

// Refusals become HttpError; a reply we cannot decode gets the request named in front.
template <class Decode>
auto decode_success(const HttpRequest& request, const HttpResponse& response, Decode&& decode) {
  if (!is_success(response)) {
    throw HttpError(request.describe(), response.status, response.reason,
                    decode_error_message(response.body));
  }
  try {
    return decode();
  } catch (const InfervisorError& error) {
    throw InfervisorError(error.code(),
                          fmt::format("{}: bad response: {}", request.describe(), error.what()));
  }
}

}  // namespace

Client::Client(ClientOptions options)
    : transport_(std::make_unique<HttpTransport>(
          TransportOptions{std::move(options.endpoint), options.connect_timeout,
                           options.request_timeout, options.max_response_bytes})) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const Endpoint& Client::endpoint() const noexcept {
  return transport_->endpoint();
}

bool Client::server_live() {
  return transport_->exchange(get("/v2/health/live")).status == 200;
}

bool Client::server_ready() {
  return transport_->exchange(get("/v2/health/ready")).status == 200;
}

bool Client::model_ready(std::string_view model, std::string_view version) {
  return transport_->exchange(get(model_target(model, version) + "/ready")).status == 200;
}

ServerMetadata Client::server_metadata() {
  const auto request = get("/v2");
  const auto response = transport_->exchange(request);
  return decode_success(request, response, [&] { return decode_server_metadata(response.body); });
}

ModelMetadata Client::model_metadata(std::string_view model, std::string_view version) {
  const auto request = get(model_target(model, version));
  const auto response = transport_->exchange(request);
  return decode_success(request, response, [&] { return decode_model_metadata(response.body); });
}

std::vector<RepositoryModel> Client::repository_index(bool ready_only) {
  const auto request = post_json("/v2/repository/index", ready_only ? R"({"ready":true})" : "{}");
  const auto response = transport_->exchange(request);
  return decode_success(request, response, [&] { return decode_repository_index(response.body); });
}

std::vector<ModelStatistics> Client::model_statistics(std::string_view model,
                                                      std::string_view version) {
  const auto request = get(model_statistics_target(model, version));
  const auto response = transport_->exchange(request);
  return decode_success(request, response,
                        [&] { return decode_model_statistics(response.body, model, version); });
}

void Client::load_model(std::string_view model) {
  post_expecting_success(repository_model_target(model) + "/load", "{}");
}

void Client::unload_model(std::string_view model) {
  post_expecting_success(repository_model_target(model) + "/unload", "{}");
}

void Client::register_system_shared_memory(std::string_view name, std::string_view key,
                                           std::uint64_t byte_size, std::uint64_t offset) {
  post_expecting_success(system_shared_memory_target(name) + "/register",
                         encode_system_shared_memory_register(key, byte_size, offset));
}

void Client::unregister_system_shared_memory(std::optional<std::string_view> name) {
  post_expecting_success(system_shared_memory_target(name) + "/unregister", "{}");
}

std::vector<SystemRegionStatus> Client::system_shared_memory_status(
    std::optional<std::string_view> name) {
  const auto request = get(system_shared_memory_target(name) + "/status");
  const auto response = transport_->exchange(request);
  return decode_success(request, response,
                        [&] { return decode_system_shared_memory_status(response.body, name); });
}

void Client::register_cuda_shared_memory(std::string_view name,
                                         std::span<const std::byte> raw_handle, int device_id,
                                         std::uint64_t byte_size) {
  post_expecting_success(cuda_shared_memory_target(name) + "/register",
                         encode_cuda_shared_memory_register(raw_handle, device_id, byte_size));
}

void Client::unregister_cuda_shared_memory(std::optional<std::string_view> name) {
  post_expecting_success(cuda_shared_memory_target(name) + "/unregister", "{}");
}

std::vector<CudaRegionStatus> Client::cuda_shared_memory_status(
    std::optional<std::string_view> name) {
  const auto request = get(cuda_shared_memory_target(name) + "/status");
  const auto response = transport_->exchange(request);
  return decode_success(request, response,
                        [&] { return decode_cuda_shared_memory_status(response.body, name); });
}

void Client::post_expecting_success(std::string target, std::string body) {
  const auto request = post_json(std::move(target), std::move(body));
  const auto response = transport_->exchange(request);
  decode_success(request, response, [] { return 0; });
}

InferResult Client::infer(const InferRequest& infer_request) {
  auto encoded = encode_infer_request(infer_request);
  HttpRequest request{"POST",
                      model_target(infer_request.model, infer_request.model_version) + "/infer",
                      {},
                      std::move(encoded.json),
                      std::move(encoded.binary_parts)};
  if (encoded.binary) {
    request.headers = {{"Content-Type", "application/octet-stream"},
                       {"Inference-Header-Content-Length", std::to_string(request.body.size())}};
  } else {
    request.headers = {{"Content-Type", "application/json"}};
  }
  const auto response = transport_->exchange(request);
  return decode_success(request, response, [&] {
    return decode_infer_response(response.body, response.header("Inference-Header-Content-Length"),
                                 infer_request.outputs, infer_request.output_regions);
  });
}

}  // namespace infervisor::client
