#include "tests/worker/test_channel.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace infervisor::worker::testing {
namespace {

constexpr auto kSendTimeout = std::chrono::seconds(10);

shm::SupervisorChannel create_channel(std::string_view prefix, std::uint64_t generation,
                                      const shm::SegmentLayout& layout) {
  auto channel = shm::SupervisorChannel::create(prefix, layout, generation);
  if (!channel) throw std::runtime_error(channel.error().message);
  return std::move(*channel);
}

}  // namespace

std::vector<HostTensor> Received::tensors() const {
  EXPECT_EQ(type, shm::RecordType::kResponse) << "a " << shm::record_type_name(type) << " record";
  const auto frame = shm::decode_frame(payload, job_id);
  EXPECT_TRUE(frame) << frame.error().message;
  if (!frame) return {};
  EXPECT_EQ(frame->kind, shm::FrameKind::kResponse);
  std::vector<HostTensor> out;
  for (const auto& tensor : frame->tensors) {
    out.push_back({std::string(tensor.name), tensor.dtype,
                   std::vector<std::int64_t>(tensor.shape().begin(), tensor.shape().end()),
                   std::vector<std::byte>(tensor.data.begin(), tensor.data.end())});
  }
  return out;
}

shm::JobErrorKind Received::error_kind() const {
  EXPECT_EQ(type, shm::RecordType::kError) << "a " << shm::record_type_name(type) << " record";
  const auto error = shm::decode_error_payload(payload);
  EXPECT_TRUE(error) << error.error().message;
  return error ? error->kind : shm::JobErrorKind::kInternal;
}

std::string Received::error_message() const {
  const auto error = shm::decode_error_payload(payload);
  return error ? std::string(error->message) : std::string();
}

shm::StageTimes Received::stages() const {
  const auto stages = shm::decode_stage_times(payload, type == shm::RecordType::kError);
  EXPECT_TRUE(stages) << stages.error().message;
  return stages ? *stages : shm::StageTimes{};
}

TestChannel::TestChannel(std::string_view prefix, std::uint64_t generation,
                         const shm::SegmentLayout& layout)
    : channel_(create_channel(prefix, generation, layout)) {}

void TestChannel::send_request(std::uint64_t job_id, std::string_view model,
                               const std::vector<HostTensor>& tensors,
                               const std::vector<std::string_view>& output_names) {
  std::vector<shm::TensorLayout> layouts;
  for (const auto& tensor : tensors)
    layouts.push_back({tensor.name, tensor.dtype, tensor.shape});
  const auto plan = shm::plan_frame(model, layouts, output_names);
  ASSERT_TRUE(plan) << plan.error().message;
  const auto reservation = channel_.requests.reserve(
      shm::RecordType::kRequest, job_id, plan->total_bytes, {}, shm::Clock::now() + kSendTimeout);
  ASSERT_TRUE(reservation) << reservation.error().message;
  const auto payloads = shm::write_frame(reservation->payload, *plan, shm::FrameKind::kRequest,
                                         job_id, model, layouts, output_names);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].data.empty()) {
      std::memcpy(payloads[i].data(), tensors[i].data.data(), tensors[i].data.size());
    }
  }
  channel_.requests.commit(*reservation);
}

void TestChannel::send_record(shm::RecordType type, std::uint64_t job_id,
                              std::span<const std::byte> payload) {
  const auto reservation =
      channel_.requests.reserve(type, job_id, payload.size(), {}, shm::Clock::now() + kSendTimeout);
  ASSERT_TRUE(reservation) << reservation.error().message;
  if (!payload.empty()) std::memcpy(reservation->payload.data(), payload.data(), payload.size());
  channel_.requests.commit(*reservation);
}

std::optional<Received> TestChannel::receive(std::chrono::milliseconds timeout) {
  const auto record = channel_.responses.peek({}, shm::Clock::now() + timeout);
  if (!record) {
    EXPECT_EQ(record.error().code, ErrorCode::kTimeout) << record.error().message;
    return std::nullopt;
  }
  Received out{record->type, record->job_id,
               std::vector<std::byte>(record->payload.begin(), record->payload.end())};
  channel_.responses.release(*record);
  return out;
}

}  // namespace infervisor::worker::testing
