// One inference job, from the parsed HTTP request to the reply. Owned by a shared_ptr: the
// connection, the model's queue and the worker's in-flight table all refer to it, and whichever
// finishes it calls complete() exactly once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/dtype.hpp"
#include "shm/frame.hpp"
#include "supervisor/client_regions.hpp"
#include "supervisor/http_reply.hpp"

namespace infervisor::supervisor {

struct ModelConfig;

// A byte range of a client's registered shared-memory region (client_regions.hpp). Holding the
// region keeps its unregistration waiting until the job is done.
struct RegionSlice {
  ClientRegionPtr region;
  std::uint64_t offset = 0;  // from the start of the registered range
  std::uint64_t byte_size = 0;
};

struct InputTensor {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<std::int64_t> shape;
  // Into Job::body (binary) or into `converted` (JSON); empty when the tensor is in `region`.
  std::span<const std::byte> data;
  std::vector<std::byte> converted;
  std::optional<RegionSlice> region;
};

struct RequestedOutput {
  std::string name;
  bool binary = false;
  std::optional<RegionSlice> region;  // the worker writes the output here, not into the answer
};

struct InferRequest {
  std::optional<std::string> id;         // echoed in the response
  std::vector<InputTensor> inputs;       // in the model's input order
  std::vector<RequestedOutput> outputs;  // empty: every output
  bool binary_outputs_by_default = false;
  // The client's own deadline (KServe parameter `timeout`), counted from the job's arrival.
  std::optional<std::chrono::microseconds> timeout;
  // Triton's `priority`, resolved against the model: 1 is the most urgent; 0 when the model has
  // no priority levels.
  int priority = 0;
};

// Where one job's time went, for the statistics (Triton's queue, compute_input, compute_infer,
// compute_output). The daemon measures the first two; the worker the stages, on its device.
struct JobTimes {
  std::chrono::nanoseconds queue{0};   // accepted -> written into a worker's request ring
  std::chrono::nanoseconds worker{0};  // written -> its answer read: the stages plus both rings
  std::chrono::nanoseconds input_copy{0};
  std::chrono::nanoseconds forward{0};
  std::chrono::nanoseconds output_copy{0};
};

class Job {
 public:
  using Completion = std::function<void(HttpReply)>;
  using Observer = std::function<void(const Job&, const HttpReply&)>;

  Job(std::uint64_t id, const ModelConfig& model, std::string body, Completion completion)
      : id_(id),
        model_(model),
        body_(std::move(body)),
        completion_(std::move(completion)),
        created_(std::chrono::steady_clock::now()) {}
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  std::uint64_t id() const noexcept { return id_; }
  const ModelConfig& model() const noexcept { return model_; }
  // The HTTP body stays here, at a fixed address, for as long as input spans point into it.
  const std::string& body() const noexcept { return body_; }
  InferRequest& request() noexcept { return request_; }
  const InferRequest& request() const noexcept { return request_; }
  std::chrono::steady_clock::time_point created() const noexcept { return created_; }

  bool completed() const noexcept { return !completion_; }

  // The worker that ran this job died while running it: once per death, with how it died.
  void record_death(std::string reason) { deaths_.push_back(std::move(reason)); }
  const std::vector<std::string>& deaths() const noexcept { return deaths_; }
  // When the client stops waiting (its `timeout`, or the model's job_timeout if sooner) and when
  // the model's job_timeout passes (a worker still running the job then is killed).
  std::chrono::steady_clock::time_point client_deadline() const noexcept {
    return client_deadline_;
  }
  std::chrono::steady_clock::time_point kill_deadline() const noexcept { return kill_deadline_; }
  void set_deadlines(std::chrono::steady_clock::time_point client,
                     std::chrono::steady_clock::time_point kill) noexcept {
    client_deadline_ = client;
    kill_deadline_ = kill;
  }
  // The client's connection is gone: nobody will read the answer. A queued abandoned job is
  // dropped before dispatch; a running one's answer is discarded.
  void abandon() noexcept { abandoned_ = true; }
  bool abandoned() const noexcept { return abandoned_; }
  // Set when a worker's answer (RESPONSE or ERROR) arrives, before complete().
  void set_times(const JobTimes& times) noexcept { times_ = times; }
  const std::optional<JobTimes>& times() const noexcept { return times_; }
  // Its request frame's plan, made once when the model's pool admits it (does it fit the ring?)
  // and used again when it is written alone into a worker's ring.
  void set_frame_plan(shm::FramePlan plan) { frame_plan_ = std::move(plan); }
  const std::optional<shm::FramePlan>& frame_plan() const noexcept { return frame_plan_; }
  // Dynamic batching: the most rows of a batch this job may be part of. A batch that ran out of
  // memory is split in halves, and each half's jobs keep to their half's size from then on.
  std::int64_t batch_limit() const noexcept { return batch_limit_; }
  void set_batch_limit(std::int64_t rows) noexcept { batch_limit_ = rows; }
  // The GPU whose workers alone may run it (its CUDA shared-memory regions are there).
  std::optional<int> required_gpu() const noexcept { return required_gpu_; }
  void set_required_gpu(std::optional<int> gpu) noexcept { required_gpu_ = gpu; }
  // Told of the job's one answer just before it goes out (the model's statistics).
  void set_observer(Observer observer) { observer_ = std::move(observer); }
  void complete(HttpReply reply) {
    auto completion = std::exchange(completion_, nullptr);
    if (!completion) return;
    if (observer_) {
      try {
        observer_(*this, reply);
      } catch (...) {
        // Statistics are not worth the answer.
      }
    }
    completion(std::move(reply));
  }

 private:
  std::uint64_t id_;
  const ModelConfig& model_;
  std::string body_;
  InferRequest request_;
  Completion completion_;
  Observer observer_;
  std::chrono::steady_clock::time_point created_;
  bool abandoned_ = false;
  std::optional<JobTimes> times_;
  std::optional<shm::FramePlan> frame_plan_;
  std::int64_t batch_limit_ = std::numeric_limits<std::int64_t>::max();
  std::optional<int> required_gpu_;
  std::vector<std::string> deaths_;
  std::chrono::steady_clock::time_point client_deadline_ =
      std::chrono::steady_clock::time_point::max();
  std::chrono::steady_clock::time_point kill_deadline_ =
      std::chrono::steady_clock::time_point::max();
};

using JobPtr = std::shared_ptr<Job>;

}  // namespace infervisor::supervisor
