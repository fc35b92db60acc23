// Maps one HTTP request to its answer: the health, metadata and repository endpoints answer at
// once; infer parses the request into a Job and hands it to the model's pool, which answers later.
// No I/O of its own, so it is tested without a socket.
#pragma once

#include <sys/types.h>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "supervisor/client_regions.hpp"
#include "supervisor/http_reply.hpp"
#include "supervisor/kserve_response.hpp"
#include "supervisor/model_pool.hpp"

namespace infervisor::supervisor {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

// What the router needs from the daemon, as an interface so tests can stand in for it.
class ServiceState {
 public:
  virtual ~ServiceState() = default;
  virtual bool draining() const = 0;
  virtual bool all_models_ready() const = 0;
  // nullptr if there is no such model.
  virtual ModelPool* find_pool(std::string_view model) = 0;
  virtual std::vector<ModelState> model_states() const = 0;
  virtual std::uint64_t next_job_id() = 0;
  // Repository load/unload over TCP too (`tcp_admin`); TCP has no peer credentials.
  virtual bool tcp_admin() const { return false; }
  // Every model's pool, in config order (the statistics of all models).
  virtual std::vector<const ModelPool*> all_pools() const { return {}; }
  // For /metrics.
  virtual std::size_t connections() const { return 0; }
  virtual double uptime_seconds() const { return 0; }
  // Client shared-memory regions; nullptr while `client_shared_memory` is off.
  virtual ClientRegions* client_regions() { return nullptr; }
};

// Who sent a request and how, as its connection knows it.
struct RequestContext {
  enum class Transport { kUnix, kTcp };
  Transport transport = Transport::kUnix;
  // SO_PEERCRED of a Unix-socket peer; TCP has none.
  std::optional<uid_t> peer_uid;
  std::optional<gid_t> peer_gid;
  std::optional<pid_t> peer_pid;
  bool loopback = false;  // a TCP peer on a loopback address
  // TCP: the uid owning the peer's socket (tcp_peer_owner.hpp)
  std::optional<uid_t> loopback_peer_uid;
  // The request's first byte reached the daemon before the drain began (SIGTERM): it is served
  // normally. Requests that begin later are refused with 503 and the connection closes.
  bool before_drain = true;
};

class Router {
 public:
  using Respond = std::function<void(HttpReply)>;

  explicit Router(ServiceState& state) : state_(state) {}

  // Calls `respond` exactly once, now or when the job finishes. Returns the job when one was
  // queued, so the connection can abandon it if its client goes away (empty otherwise).
  std::weak_ptr<Job> handle(HttpRequest&& request, const RequestContext& context, Respond respond);

 private:
  std::weak_ptr<Job> infer(std::string_view model_name, HttpRequest&& request,
                           const RequestContext& context, Respond respond);
  // /v2/systemsharedmemory/... and /v2/cudasharedmemory/...: `parts` after that word.
  void shared_memory(shm::RegionKind kind, std::span<const std::string_view> parts,
                     const HttpRequest& request, const RequestContext& context,
                     const Respond& respond);
  // The GPUs (DeviceSpec::index) some model places workers on, sorted: where CUDA regions may be.
  std::vector<int> gpus_in_use() const;

  ServiceState& state_;
};

}  // namespace infervisor::supervisor
