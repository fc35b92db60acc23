// Fuzzes the tensor frame decoders (shm/frame.hpp): every reader of a record's payload that a
// peer wrote. The input is one record's payload, given to decode_frame, decode_error_payload and
// decode_stage_times alike, as the daemon and the worker would see it in a ring.
//
// The decoders answer bad bytes with a kCorrupt error; a sanitizer report, a view that reaches
// outside the record or one that breaks the layout checked below is a finding.
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "shm/frame.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace infervisor::shm {
namespace {

bool inside(std::span<const std::byte> part, std::span<const std::byte> whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool inside(std::string_view part, std::span<const std::byte> whole) {
  return inside(std::as_bytes(std::span(part.data(), part.size())), whole);
}

void check_frame(const FrameView& frame, std::span<const std::byte> record) {
  fuzz_check(!frame.model_name.empty() && frame.model_name.size() <= kMaxModelNameBytes);
  fuzz_check(inside(frame.model_name, record));
  fuzz_check(frame.tensors.size() <= kMaxFrameTensors &&
             frame.output_names.size() <= kMaxFrameTensors);
  const std::byte* previous_end = record.data();
  for (const auto& tensor : frame.tensors) {
    fuzz_check(!tensor.name.empty() && tensor.name.size() <= kMaxTensorNameBytes);
    fuzz_check(inside(tensor.name, record));
    fuzz_check(tensor.ndim <= kMaxDims);
    fuzz_check(checked_byte_size(tensor.dtype, tensor.shape()) == tensor.data.size());
    fuzz_check(inside(tensor.data, record));
    // Payloads are 64-byte aligned within the record, in order, and never overlap.
    fuzz_check((tensor.data.data() - record.data()) % kPayloadAlignment == 0);
    fuzz_check(tensor.data.data() >= previous_end);
    previous_end = tensor.data.data() + tensor.data.size();
  }
  for (const auto& name : frame.output_names) {
    fuzz_check(!name.empty() && name.size() <= kMaxTensorNameBytes);
    fuzz_check(inside(name, record));
  }
  if (frame.kind == FrameKind::kRequest) fuzz_check(frame.stages == StageTimes{});
}

void check_stages(const StageTimes& stages) {
  fuzz_check(stages.input_copy_ns <= kMaxStageNanoseconds &&
             stages.forward_ns <= kMaxStageNanoseconds &&
             stages.output_copy_ns <= kMaxStageNanoseconds);
}

template <class T>
void check_refusal(const Result<T>& result) {
  if (!result) fuzz_check(result.error().code == ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace infervisor::shm

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace infervisor;
  using namespace infervisor::shm;
  // Records start on 64-byte boundaries in the ring; an exact-size copy so that ASan sees a read
  // one byte past the record.
  constexpr std::align_val_t kAlignment{kPayloadAlignment};
  const std::unique_ptr<std::byte, void (*)(std::byte*)> copy(
      static_cast<std::byte*>(::operator new(size, kAlignment)),
      [](std::byte* p) { ::operator delete(p, kAlignment); });
  if (size != 0) std::memcpy(copy.get(), data, size);
  const std::span<const std::byte> record(copy.get(), size);

  // The record header carries the job id the frame must repeat; take the frame's own, so that
  // the decoder goes on to the fields behind it.
  std::uint64_t job_id = 0;
  if (size >= 16) std::memcpy(&job_id, data + 8, sizeof(job_id));
  const auto frame = decode_frame(record, job_id);
  check_refusal(frame);
  if (frame) check_frame(*frame, record);

  const auto error = decode_error_payload(record);
  check_refusal(error);
  if (error) {
    fuzz_check(error->message.size() <= kMaxErrorMessageBytes && inside(error->message, record));
    check_stages(error->stages);
  }

  for (const bool is_error : {false, true}) {
    const auto stages = decode_stage_times(record, is_error);
    check_refusal(stages);
    if (stages) check_stages(*stages);
  }
  return 0;
}
