// A dynamic batch on the wire (issue 11): the request frame of several jobs stacked by rows, and
// each job's own rows of the batch's response. The frame format is the ordinary one; only the
// first dimension of every tensor is the sum of the jobs' rows.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/error.hpp"
#include "shm/frame.hpp"
#include "supervisor/job.hpp"

namespace infervisor::supervisor {

// The batch's request frame described for shm/: the lead job's inputs with the batch's rows, and
// its outputs. Views into the jobs' requests and into `dims`, valid while both live.
struct BatchLayout {
  std::vector<std::vector<std::int64_t>> dims;  // per input
  shm::SmallVector<shm::TensorLayout> inputs;
  shm::SmallVector<std::string_view> outputs;
  std::int64_t rows = 0;
};

// `jobs` agree (batch_former.hpp: same_batch_shape) and are in the order their rows are stacked.
BatchLayout batch_layout(std::span<const JobPtr> jobs);

// Copies every job's input bytes once, straight into its rows of each input's payload.
void write_batch_inputs(std::span<const JobPtr> jobs,
                        std::span<const std::span<std::byte>> payloads) noexcept;

// Rows [first_row, first_row + rows) of every output of a batch's response frame, as a frame of
// their own (views into `batch`). A kCorrupt error if an output does not have `total_rows` rows in
// its first dimension (a model that does not keep its batch dimension cannot be batched).
Result<shm::FrameView> slice_rows(const shm::FrameView& batch, std::int64_t first_row,
                                  std::int64_t rows, std::int64_t total_rows);

}  // namespace infervisor::supervisor
