// One REQUEST record in, one RESPONSE or ERROR record out: decode the frame, check the inputs,
// run the model on the ring's bytes (in place on a CPU; on a GPU copied asynchronously straight
// from the record, which is pinned), reserve the response record as soon as the output shapes are
// known, copy the outputs the request asked for straight into it, wait once for the device, and
// stamp the stage times into it.
//
// Ordering, for every answer: the outputs are copied into the response record and the device
// has finished with the request's bytes first (outputs may alias them), then the request record
// is released, then the answer is committed. The supervisor retries dispatch when an answer
// arrives, so by then the request's room must already be free.
//
// Client shared-memory regions: an input in a region is read straight from the client's mapped
// memory (from_blob on a CPU, a host-to-device copy from the page-locked mapping on a GPU), and
// an output asked into a region is copied straight into it; the response then describes it
// without a payload. A region the client shrank while the job ran fails the job (bus_guard.hpp).
// A CUDA region is the client's GPU memory, opened on this worker's GPU: the model reads its
// inputs there in place, and outputs asked into it are copied device to device.
//
// Device failures: out of memory fails the job ("CUDA out of memory..."), frees the allocator's
// cache and serves on; a sticky device error fails the job, tells the supervisor why in a job-0
// ERROR record, and ends the worker (ExitStatus::kDeviceFault) so that it is replaced.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "shm/frame.hpp"
#include "shm/ring.hpp"
#include "worker/client_region_cache.hpp"
#include "worker/exit_status.hpp"
#include "worker/model_runner.hpp"
#include "worker/reply_writer.hpp"
#include "worker/worker_options.hpp"

namespace infervisor::worker {

class JobHandler {
 public:
  // `who` names the model and worker in log lines ("model mlp, worker 2 (pid 4242)").
  JobHandler(const ModelOptions& model, const ModelRunner& runner, shm::RingReader& requests,
             ReplyWriter& replies, ClientRegionCache& regions, std::string who) noexcept;

  // Answers a REQUEST record and releases it. An exit status means the worker must stop: the
  // supervisor died or corrupted the response ring.
  std::optional<ExitStatus> handle_request(const shm::RecordView& record);

  // Answers `record` with an ERROR record of `kind` (and logs it), releasing the record.
  std::optional<ExitStatus> reject(const shm::RecordView& record, shm::JobErrorKind kind,
                                   std::string_view message, const shm::StageTimes& stages = {});

 private:
  // Answers a job whose forward or output copy failed, by how bad the failure was.
  std::optional<ExitStatus> fail(const shm::RecordView& record, const Forward& forward);
  // Releases the request and commits the answer reserved for it.
  std::optional<ExitStatus> finish(const shm::RecordView& record,
                                   const Result<shm::Reservation>& answer);

  const ModelOptions& model_;
  const ModelRunner& runner_;
  shm::RingReader& requests_;
  ReplyWriter& replies_;
  ClientRegionCache& regions_;
  std::string who_;
};

}  // namespace infervisor::worker
