#include "supervisor/router.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>

#include "common/base64.hpp"
#include "supervisor/job_placement.hpp"
#include "supervisor/kserve_request.hpp"
#include "supervisor/kserve_response.hpp"
#include "supervisor/metrics_text.hpp"
#include "supervisor/statistics_json.hpp"

namespace infervisor::supervisor {
namespace http = boost::beast::http;
namespace {

constexpr std::string_view kVersion = "0.1.0";

HttpReply json_reply(std::string body, unsigned status = 200) {
  HttpReply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

// An endpoint that answers at once: no job for the connection to keep.
std::weak_ptr<Job> answer(const Router::Respond& respond, HttpReply reply) {
  respond(std::move(reply));
  return {};
}

// "/v2/models/mlp/versions/1/infer" -> {"v2", "models", "mlp", "versions", "1", "infer"}.
std::vector<std::string_view> split_path(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string_view> parts;
  while (!target.empty()) {
    const auto slash = target.find('/');
    const auto part = target.substr(0, slash);
    if (!part.empty()) parts.push_back(part);
    if (slash == std::string_view::npos) break;
    target.remove_prefix(slash + 1);
  }
  return parts;
}

void require_method(const HttpRequest& request, http::verb verb) {
  if (request.method() != verb) {
    fail_request(405, "{} is not allowed here; use {}", std::string_view(request.method_string()),
                 std::string_view(http::to_string(verb)));
  }
}

// The repository index body is optional; {"ready": true} asks for the ready models only.
bool ready_only_requested(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return false;
  boost::system::error_code ec;
  const auto document = boost::json::parse(body, ec);
  if (ec || !document.is_object())
    fail_request(400, "the repository index body must be a JSON object");
  const auto* ready = document.get_object().if_contains("ready");
  if (!ready) return false;
  if (!ready->is_bool()) fail_request(400, "repository index 'ready' must be true or false");
  return ready->get_bool();
}

// Region names are per uid: who is asking. A Unix peer's SO_PEERCRED, or the owner of a loopback
// TCP peer's socket; nobody else may use client shared memory.
uid_t region_caller(const RequestContext& context) {
  if (context.transport == RequestContext::Transport::kUnix) {
    if (context.peer_uid) return *context.peer_uid;
    fail_request(403, "the kernel did not say who is at the other end of this connection");
  }
  if (!context.loopback) {
    fail_request(403,
                 "shared memory is offered only to local clients (this TCP peer is not on a "
                 "loopback address)");
  }
  if (!context.loopback_peer_uid) {
    fail_request(403, "no local user owns this TCP connection's other end (/proc/net/tcp)");
  }
  // A loopback connection owned by root is as likely a port forwarder (kubectl port-forward,
  // socat) carrying someone else's traffic as root itself: it gets no root powers over regions.
  if (*context.loopback_peer_uid == 0) {
    fail_request(403,
                 "a TCP connection owned by root (perhaps a port forwarder) may not use shared "
                 "memory; root clients use the Unix socket");
  }
  return *context.loopback_peer_uid;
}

std::uint64_t register_field(const boost::json::object& body, std::string_view key, bool required) {
  const auto* value = body.if_contains(key);
  if (!value) {
    if (required) fail_request(400, "the register body needs '{}'", key);
    return 0;
  }
  if (value->is_uint64()) return value->get_uint64();
  if (value->is_int64() && value->get_int64() >= 0)
    return static_cast<std::uint64_t>(value->get_int64());
  fail_request(400, "register '{}' must be a non-negative integer", key);
}

// Triton's shapes: system regions [{"name","key","offset","byte_size"}], CUDA regions
// [{"name","device_id","byte_size"}].
std::string region_status_json(std::span<const ClientRegionPtr> regions) {
  boost::json::array out;
  for (const auto& region : regions) {
    if (region->kind == shm::RegionKind::kCuda) {
      out.emplace_back(boost::json::object{{"name", region->name},
                                           {"device_id", region->device_id},
                                           {"byte_size", region->byte_size}});
      continue;
    }
    out.emplace_back(boost::json::object{{"name", region->name},
                                         {"key", region->key},
                                         {"offset", region->offset},
                                         {"byte_size", region->byte_size}});
  }
  return boost::json::serialize(out);
}

// {"raw_handle": {"b64": BASE64}}: the handle's bytes.
std::string raw_handle_field(const boost::json::object& body) {
  const auto* raw = body.if_contains("raw_handle");
  const auto* b64 = raw && raw->is_object() ? raw->get_object().if_contains("b64") : nullptr;
  if (!b64 || !b64->is_string())
    fail_request(400, "the register body needs 'raw_handle': {{\"b64\": <base64 string>}}");
  auto bytes = decode_base64(b64->get_string());
  if (!bytes) fail_request(400, "raw_handle.b64 is not base64");
  return std::move(*bytes);
}

}  // namespace

std::vector<int> Router::gpus_in_use() const {
  std::vector<const ModelConfig*> models;
  for (const ModelPool* pool : state_.all_pools())
    models.push_back(&pool->model());
  return gpus_with_workers(models);
}

void Router::shared_memory(shm::RegionKind kind, std::span<const std::string_view> parts,
                           const HttpRequest& request, const RequestContext& context,
                           const Respond& respond) {
  ClientRegions* regions = state_.client_regions();
  if (!regions) {
    fail_request(404,
                 "client shared memory is off (client_shared_memory: true in the daemon's config "
                 "enables it)");
  }
  const uid_t uid = region_caller(context);
  std::optional<std::string_view> name;
  std::string_view action;
  if (parts.size() == 1) {
    action = parts[0];
  } else if (parts.size() == 3 && parts[0] == "region") {
    name = parts[1];
    action = parts[2];
  } else {
    fail_request(404, "no endpoint at '{}'", std::string_view(request.target()));
  }
  if (action == "status") {
    require_method(request, http::verb::get);
    respond(json_reply(region_status_json(regions->status(uid, kind, name))));
  } else if (action == "unregister") {
    require_method(request, http::verb::post);
    regions->unregister(uid, kind, name, respond);
  } else if (action == "register" && name) {
    require_method(request, http::verb::post);
    boost::system::error_code ec;
    const auto document = boost::json::parse(request.body(), ec);
    if (ec || !document.is_object()) fail_request(400, "the register body must be a JSON object");
    const auto& body = document.get_object();
    if (kind == shm::RegionKind::kCuda) {
      const std::string handle = raw_handle_field(body);
      const auto device = register_field(body, "device_id", true);
      const auto gpus = gpus_in_use();
      if (std::find(gpus.begin(), gpus.end(), static_cast<std::int64_t>(device)) == gpus.end()) {
        fail_request(400, "device_id {}: no model has workers on that GPU (GPUs with workers: {})",
                     device, gpus.empty() ? "none" : fmt::format("{}", fmt::join(gpus, ", ")));
      }
      const auto byte_size = register_field(body, "byte_size", true);
      regions->register_cuda_region(uid, *name, handle, static_cast<int>(device), byte_size);
      spdlog::info("uid {} registered CUDA shared memory region '{}' ({} bytes on GPU {})", uid,
                   *name, byte_size, device);
      respond(json_reply("{}"));
      return;
    }
    const auto* key = body.if_contains("key");
    if (!key || !key->is_string()) fail_request(400, "the register body needs a string 'key'");
    regions->register_region(uid, *name, key->get_string(), register_field(body, "offset", false),
                             register_field(body, "byte_size", true));
    spdlog::info("uid {} registered shared memory region '{}' ({}, {} bytes at {})", uid, *name,
                 std::string_view(key->get_string()), register_field(body, "byte_size", true),
                 register_field(body, "offset", false));
    respond(json_reply("{}"));
  } else {
    fail_request(404, "no endpoint at '{}'", std::string_view(request.target()));
  }
}

std::weak_ptr<Job> Router::handle(HttpRequest&& request, const RequestContext& context,
                                  Respond respond) {
  try {
    const auto parts = split_path(request.target());
    if (parts.size() == 1 && parts[0] == "metrics") {
      require_method(request, http::verb::get);
      const auto pools = state_.all_pools();
      auto text = metrics_text(pools, {state_.connections(), state_.uptime_seconds()});
      if (!text) {
        fail_request(501,
                     "infervisord was built without prometheus-cpp: no /metrics (install "
                     "prometheus-cpp-dev and build again)");
      }
      HttpReply reply;
      reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
      reply.body = std::move(*text);
      return answer(respond, std::move(reply));
    }
    if (parts.empty() || parts[0] != "v2")
      fail_request(404, "no endpoint at '{}'", std::string_view(request.target()));
    if (parts.size() == 1) {
      require_method(request, http::verb::get);
      const bool regions = state_.client_regions() != nullptr;
      return answer(respond, json_reply(server_metadata_json(kVersion, regions,
                                                             regions && !gpus_in_use().empty())));
    }
    if (parts[1] == "health" && parts.size() == 3) {
      require_method(request, http::verb::get);
      if (parts[2] == "live") return answer(respond, json_reply(R"({"live":true})"));
      if (parts[2] == "ready") {
        const bool ready = state_.all_models_ready() && !state_.draining();
        return answer(respond, json_reply(ready ? R"({"ready":true})" : R"({"ready":false})",
                                          ready ? 200 : 503));
      }
    }
    if (parts[1] == "repository" && parts.size() == 3 && parts[2] == "index") {
      require_method(request, http::verb::post);
      auto states = state_.model_states();
      if (ready_only_requested(request.body())) {
        std::erase_if(states, [](const ModelState& state) { return !state.ready; });
      }
      return answer(respond, json_reply(repository_index_json(states)));
    }
    if (parts[1] == "repository" && parts.size() == 5 && parts[2] == "models" &&
        (parts[4] == "load" || parts[4] == "unload")) {
      require_method(request, http::verb::post);
      if (context.transport == RequestContext::Transport::kTcp && !state_.tcp_admin()) {
        fail_request(403, "repository {} is allowed on the Unix socket only (tcp_admin: false)",
                     parts[4]);
      }
      ModelPool* pool = state_.find_pool(parts[3]);
      if (!pool) fail_request(404, "no model named '{}'", parts[3]);
      if (state_.draining()) fail_request(503, "the daemon is shutting down");
      spdlog::info("repository {} of model '{}' requested", parts[4], parts[3]);
      if (parts[4] == "load")
        pool->load(respond);
      else
        pool->unload(respond);
      return {};
    }
    if (parts[1] == "cudasharedmemory") {
      if (state_.client_regions() && gpus_in_use().empty()) {
        fail_request(404,
                     "no model has GPU workers, so infervisord offers no cuda_shared_memory (GET "
                     "/v2 lists what it offers); system_shared_memory carries host tensors");
      }
      shared_memory(shm::RegionKind::kCuda, std::span(parts).subspan(2), request, context, respond);
      return {};
    }
    if (parts[1] == "systemsharedmemory") {
      shared_memory(shm::RegionKind::kSystem, std::span(parts).subspan(2), request, context,
                    respond);
      return {};
    }
    if (parts[1] == "models" && parts.size() == 3 && parts[2] == "stats") {
      require_method(request, http::verb::get);
      const auto pools = state_.all_pools();
      return answer(respond, json_reply(statistics_json(pools)));
    }
    if (parts[1] == "models" && parts.size() >= 3) {
      ModelPool* pool = state_.find_pool(parts[2]);
      if (!pool) fail_request(404, "no model named '{}'", parts[2]);
      std::size_t next = 3;
      if (parts.size() >= 5 && parts[3] == "versions") {
        if (parts[4] != pool->model().version) {
          fail_request(404, "model '{}' has no version '{}' (it serves version '{}')", parts[2],
                       parts[4], pool->model().version);
        }
        next = 5;
      }
      if (parts.size() == next) {
        require_method(request, http::verb::get);
        const ModelState state{&pool->model(), pool->ready(),
                               ModelPool::status_name(pool->status()), pool->failure()};
        return answer(respond, json_reply(model_metadata_json(pool->model(), &state)));
      }
      if (parts.size() == next + 1 && parts[next] == "ready") {
        require_method(request, http::verb::get);
        const bool ready = pool->ready() && !state_.draining();
        return answer(respond, json_reply(ready ? R"({"ready":true})" : R"({"ready":false})",
                                          ready ? 200 : 503));
      }
      if (parts.size() == next + 1 && parts[next] == "stats") {
        require_method(request, http::verb::get);
        const ModelPool* one[] = {pool};
        return answer(respond, json_reply(statistics_json(one)));
      }
      if (parts.size() == next + 1 && parts[next] == "infer") {
        require_method(request, http::verb::post);
        return infer(parts[2], std::move(request), context, std::move(respond));
      }
    }
    fail_request(404, "no endpoint at '{}'", std::string_view(request.target()));
  } catch (const HttpError& error) {
    respond(error_reply(error.status(), error.what()));
  } catch (const std::exception& error) {
    // One request must never take the daemon down (e.g. bad_alloc on a huge body).
    spdlog::error("{} {}: {}", std::string_view(request.method_string()),
                  std::string_view(request.target()), error.what());
    respond(error_reply(500, fmt::format("internal error: {}", error.what())));
  }
  return {};
}

std::weak_ptr<Job> Router::infer(std::string_view model_name, HttpRequest&& request,
                                 const RequestContext& context, Respond respond) {
  ModelPool* pool = state_.find_pool(model_name);
  JobPtr job;
  try {
    if (state_.draining() && !context.before_drain)
      fail_request(503, "the daemon is shutting down");
    std::optional<std::size_t> header_length;
    const auto header = request.find("Inference-Header-Content-Length");
    if (header != request.end()) {
      header_length = parse_header_length(header->value(), request.body().size());
    }
    job = std::make_shared<Job>(state_.next_job_id(), pool->model(), std::move(request.body()),
                                std::move(respond));
    job->set_observer([statistics = pool->statistics()](const Job& done, const HttpReply& reply) {
      statistics->record(done, reply.status);
    });
    RegionResolver resolve;
    if (ClientRegions* regions = state_.client_regions()) {
      resolve = [regions, &context](std::string_view name) {
        return regions->find(region_caller(context), name);
      };
    }
    parse_infer_request(pool->model(), job->body(), header_length, job->request(), resolve);
    pool->submit(job);
    return job;
  } catch (const HttpError& error) {
    spdlog::debug("model '{}' job {}: refused with {}: {}", model_name, job ? job->id() : 0,
                  error.status(), error.what());
    if (job)
      job->complete(error_reply(error.status(), error.what()));
    else
      respond(error_reply(error.status(), error.what()));
  } catch (const std::exception& error) {
    spdlog::error("model '{}' job {}: {}", model_name, job ? job->id() : 0, error.what());
    auto reply = error_reply(500, fmt::format("internal error: {}", error.what()));
    if (job)
      job->complete(std::move(reply));
    else
      respond(std::move(reply));
  }
  return {};
}

}  // namespace infervisor::supervisor
