#include "supervisor/batch_frame.hpp"

#include <cstring>

#include "supervisor/batch_former.hpp"

namespace infervisor::supervisor {

BatchLayout batch_layout(std::span<const JobPtr> jobs) {
  BatchLayout layout;
  for (const auto& job : jobs)
    layout.rows += job_rows(job->request());
  const InferRequest& lead = jobs.front()->request();
  layout.dims.reserve(lead.inputs.size());
  for (const auto& input : lead.inputs) {
    auto& dims = layout.dims.emplace_back(input.shape);
    dims[0] = layout.rows;
  }
  for (std::size_t i = 0; i < lead.inputs.size(); ++i)
    layout.inputs.push_back({lead.inputs[i].name, lead.inputs[i].dtype, layout.dims[i]});
  for (const auto& output : lead.outputs)
    layout.outputs.push_back(output.name);
  return layout;
}

void write_batch_inputs(std::span<const JobPtr> jobs,
                        std::span<const std::span<std::byte>> payloads) noexcept {
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    std::byte* cursor = payloads[i].data();
    for (const auto& job : jobs) {
      const auto data = job->request().inputs[i].data;
      std::memcpy(cursor, data.data(), data.size());
      cursor += data.size();
    }
  }
}

Result<shm::FrameView> slice_rows(const shm::FrameView& batch, std::int64_t first_row,
                                  std::int64_t rows, std::int64_t total_rows) {
  shm::FrameView slice;
  slice.kind = batch.kind;
  slice.job_id = batch.job_id;
  slice.stages = batch.stages;
  slice.model_name = batch.model_name;
  slice.output_names = batch.output_names;
  for (const auto& tensor : batch.tensors) {
    if (tensor.ndim == 0 || tensor.dims[0] != total_rows) {
      return make_error(ErrorCode::kCorrupt,
                        "the model returned output '{}' with shape [{}] for a batch of {} rows; "
                        "a batched model must keep the batch as the first dimension of every "
                        "output",
                        tensor.name, fmt::join(tensor.shape(), ", "), total_rows);
    }
    if (tensor.region != 0 || tensor.data.size() != tensor.byte_size) {
      return make_error(ErrorCode::kCorrupt, "batched output '{}' is not in the response frame",
                        tensor.name);
    }
    const std::uint64_t row_bytes =
        total_rows > 0 ? tensor.byte_size / static_cast<std::uint64_t>(total_rows) : 0;
    shm::TensorView part = tensor;
    part.dims[0] = rows;
    part.byte_size = row_bytes * static_cast<std::uint64_t>(rows);
    part.data =
        tensor.data.subspan(row_bytes * static_cast<std::uint64_t>(first_row), part.byte_size);
    slice.tensors.push_back(part);
  }
  return slice;
}

}  // namespace infervisor::supervisor
