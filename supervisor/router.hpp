// Maps one HTTP request to its answer: the health, metadata and repository endpoints answer at
// once; infer parses the request into a Job and hands it to the model's pool, which answers later.
// No I/O of its own, so it is tested without a socket.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <map>
#include <string>

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
};

class Router {
 public:
  using Respond = std::function<void(HttpReply)>;

  explicit Router(ServiceState& state) : state_(state) {}

  // Calls `respond` exactly once, now or when the job finishes.
  void handle(HttpRequest&& request, Respond respond);

 private:
  void infer(std::string_view model_name, HttpRequest&& request, Respond respond);

  ServiceState& state_;
};

}  // namespace infervisor::supervisor
