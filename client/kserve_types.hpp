// What the client sends and receives, in the terms of the KServe v2 / Open Inference Protocol.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/dtype.hpp"

namespace infervisor::client {

// Where a tensor's bytes lie when they travel through a registered system shared-memory region
// (Triton's system_shared_memory extension) instead of the body: `byte_size` bytes from `offset`
// in the region registered as `region`.
struct RegionRef {
  std::string region;
  std::uint64_t offset = 0;
  std::uint64_t byte_size = 0;
  bool operator==(const RegionRef&) const = default;
};

// One tensor as the protocol carries it: C-order, little-endian bytes, exactly
// element_count(shape) * dtype_size(dtype) of them; BOOL bytes are 0 or 1.
// With `region` set the bytes are in shared memory instead and `data` is empty: an input is sent
// as that reference (its byte_size must be the tensor's size); an output the server wrote into a
// region comes back so, byte_size being the output's size (see read_region_output).
struct Tensor {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<std::int64_t> shape;
  std::vector<std::byte> data;
  std::optional<RegionRef> region = std::nullopt;
};

struct InferRequest {
  std::string model;
  std::string model_version;  // empty: the server picks
  std::string id;             // empty: none is sent
  std::vector<Tensor> inputs;
  std::vector<std::string> outputs;  // empty: every output the model has
  // True: the binary tensor data extension (raw bytes after the JSON); false: JSON `data` arrays.
  bool binary = true;
  // Triton's request parameter `priority` (1 is the most urgent); 0: not sent, the model's
  // default level.
  std::uint64_t priority = 0;
  // Outputs named in `outputs` that the server is to write into a region instead of the body:
  // the reference's byte_size is the room there, at least the output's size.
  std::map<std::string, RegionRef> output_regions = {};
};

struct InferResult {
  std::string model_name;
  std::string model_version;
  std::string id;
  std::vector<Tensor> outputs;  // in the server's order
};

// A tensor as model metadata describes it. The datatype stays a string: metadata may name types
// this client cannot carry (BYTES), and listing them should not fail.
struct TensorMetadata {
  std::string name;
  std::string datatype;
  std::vector<std::int64_t> shape;  // -1 marks a free dimension
};

struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;
  std::string platform;
  std::vector<TensorMetadata> inputs;
  std::vector<TensorMetadata> outputs;
};

struct ServerMetadata {
  std::string name;
  std::string version;
  std::vector<std::string> extensions;
};

// One region the server has registered (GET /v2/systemsharedmemory/status).
struct SystemRegionStatus {
  std::string name;
  std::string key;  // the POSIX shm name, "/name"
  std::uint64_t offset = 0;
  std::uint64_t byte_size = 0;
  bool operator==(const SystemRegionStatus&) const = default;
};

// One CUDA region as GET /v2/cudasharedmemory/status lists it.
struct CudaRegionStatus {
  std::string name;
  int device_id = 0;  // the server's GPU index
  std::uint64_t byte_size = 0;
  bool operator==(const CudaRegionStatus&) const = default;
};

// One entry of the repository index (Triton's model repository extension).
struct RepositoryModel {
  std::string name;
  std::string version;  // may be empty
  std::string state;    // e.g. READY, LOADING, UNAVAILABLE; may be empty
  std::string reason;   // why it is not ready; may be empty
};

// Triton's statistics extension (GET /v2/models[/{m}[/versions/{v}]]/stats), one entry per model
// version. Counts and durations are cumulative since the model was loaded.
struct StatDuration {
  std::uint64_t count = 0;
  std::uint64_t ns = 0;  // total nanoseconds over those `count`
  bool operator==(const StatDuration&) const = default;
};

// Triton's inference_stats. success and fail time whole requests, arrival to answer; queue and
// compute_* time the phases of each request, a batched request being charged its batch's whole
// compute time (so ns / count is the time of one execution).
struct InferenceStats {
  StatDuration success, fail, queue, compute_input, compute_infer, compute_output;
  StatDuration cache_hit, cache_miss;  // zero from a server without a response cache
  bool operator==(const InferenceStats&) const = default;
};

// The compute phases of the executions that ran `batch_size` requests' worth of inputs at once;
// each count is a number of executions.
struct BatchStats {
  std::uint64_t batch_size = 0;
  StatDuration compute_input, compute_infer, compute_output;
  bool operator==(const BatchStats&) const = default;
};

// One worker process of a model, as infervisord reports it.
struct WorkerStatus {
  std::uint64_t instance = 0;
  std::string state;  // e.g. READY, STARTING, RESTARTING
  std::uint64_t restarts = 0;
  std::optional<std::uint64_t> pid;  // none while no process runs (sent as 0, null or not at all)
  bool operator==(const WorkerStatus&) const = default;
};

// infervisord's own additions to a model's statistics (its "infervisor" object).
struct InfervisorStats {
  // Failed requests by reason (rejected, timeout, worker_death, model_error, bad_request,
  // client_gone, or any other the server names).
  std::map<std::string, std::uint64_t, std::less<>> failures;
  std::optional<std::uint64_t> pending;  // requests queued or running now
  std::optional<double> p50_us, p99_us;  // request latency quantiles, none before any request
  std::vector<WorkerStatus> workers;
  bool operator==(const InfervisorStats&) const = default;
};

struct ModelStatistics {
  std::string name;
  std::string version;                  // may be empty
  std::uint64_t last_inference_ms = 0;  // milliseconds since the Unix epoch; 0: none yet
  std::uint64_t inference_count = 0;    // inferences: a batch of n counts n
  std::uint64_t execution_count = 0;    // model executions: a batch counts 1
  InferenceStats inference_stats;
  std::vector<BatchStats> batch_stats;
  std::optional<InfervisorStats> infervisor;  // none from a server other than infervisord
  bool operator==(const ModelStatistics&) const = default;
};

}  // namespace infervisor::client
