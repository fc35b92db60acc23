// A job's request frame described for shm/: its inputs' names, dtypes and shapes, the outputs it
// asks for, and the client shared-memory regions its tensors are in. One description for the two
// places that plan the frame: admission (does it fit the ring?) and the write into the ring.
#pragma once

#include <algorithm>
#include <string_view>

#include "shm/frame.hpp"
#include "supervisor/job.hpp"

namespace infervisor::supervisor {

struct RequestLayout {
  shm::SmallVector<shm::TensorLayout> inputs;
  shm::SmallVector<std::string_view> outputs;
  shm::SmallVector<shm::OutputPlacement> placements;  // empty unless an output goes to a region
  shm::SmallVector<shm::RegionRef> regions;

  shm::FrameRegions frame_regions() const noexcept { return {regions, placements}; }
};

namespace detail {
// The 1-based index of `region` in `layout.regions`, added if new.
inline std::uint16_t region_index(RequestLayout& layout, const ClientRegion& region) {
  for (std::size_t i = 0; i < layout.regions.size(); ++i) {
    if (layout.regions[i].token == region.token) return static_cast<std::uint16_t>(i + 1);
  }
  layout.regions.push_back({region.token, region.device, region.inode, region.offset,
                            region.byte_size, region.frame_key(),
                            static_cast<std::uint32_t>(region.object_owner), region.kind});
  return static_cast<std::uint16_t>(layout.regions.size());
}
}  // namespace detail

// Views into `request`, valid while it lives.
inline RequestLayout request_layout(const InferRequest& request) {
  RequestLayout layout;
  for (const auto& input : request.inputs) {
    shm::TensorLayout tensor{input.name, input.dtype, input.shape};
    if (input.region) {
      tensor.region = detail::region_index(layout, *input.region->region);
      tensor.region_offset = input.region->offset;
    }
    layout.inputs.push_back(tensor);
  }
  const bool placed = std::any_of(request.outputs.begin(), request.outputs.end(),
                                  [](const RequestedOutput& output) { return output.region; });
  for (const auto& output : request.outputs) {
    layout.outputs.push_back(output.name);
    if (!placed) continue;
    shm::OutputPlacement placement;
    if (output.region) {
      placement.region = detail::region_index(layout, *output.region->region);
      placement.offset = output.region->offset;
      placement.byte_size = output.region->byte_size;
    }
    layout.placements.push_back(placement);
  }
  return layout;
}

}  // namespace infervisor::supervisor
