// A worker that misbehaves on purpose, to test that infervisord survives whatever a worker writes.
// It accepts infervisor-worker's command line; the first line of the "model file" names the
// misbehaviour:
//   garbage-frame   answers each job with a RESPONSE record of random bytes
//   wrong-job       answers a job id that was never sent, then the real job (echoing its inputs)
//   corrupt-header  answers the first job with a committed record header that claims more bytes
//                   than the ring has before its end
//   never-ready     opens the channel and never reports READY
//   exit-early      exits with status 7 before READY
//   echo            behaves: answers every job with its own inputs
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "shm/channel.hpp"
#include "shm/frame.hpp"

namespace {

using namespace infervisor;

void send_answer(shm::WorkerChannel& channel, std::uint64_t job_id, const shm::FrameView& request,
                 shm::FrameKind kind = shm::FrameKind::kResponse) {
  shm::SmallVector<shm::TensorLayout> layouts;
  for (const auto& tensor : request.tensors)
    layouts.push_back({"y", tensor.dtype, tensor.shape()});
  const auto plan = shm::plan_frame(request.model_name, layouts, {}).value();
  const auto reservation = channel.responses
                               .reserve(shm::RecordType::kResponse, job_id, plan.total_bytes, {},
                                        shm::Clock::now() + std::chrono::seconds(5))
                               .value();
  const auto payloads =
      shm::write_frame(reservation.payload, plan, kind, job_id, request.model_name, layouts, {});
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    std::memcpy(payloads[i].data(), request.tensors[i].data.data(), request.tensors[i].data.size());
  }
  channel.responses.commit(reservation);
}

void send_simple(shm::WorkerChannel& channel, shm::RecordType type, std::uint64_t job_id,
                 std::size_t bytes, std::mt19937* garbage) {
  const auto reservation =
      channel.responses
          .reserve(type, job_id, bytes, {}, shm::Clock::now() + std::chrono::seconds(5))
          .value();
  if (garbage) {
    for (auto& byte : reservation.payload)
      byte = static_cast<std::byte>((*garbage)());
  }
  channel.responses.commit(reservation);
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2)
    args[argv[i]] = argv[i + 1];
  std::string mode;
  std::getline(std::ifstream(args["--model-path"]), mode);
  if (mode == "exit-early") return 7;

  auto channel = shm::WorkerChannel::open(
      args["--segment"],
      {std::stoull(args["--generation"]), static_cast<pid_t>(std::stol(args["--supervisor-pid"]))},
      std::stoi(args["--wakeup-fd"]));
  if (!channel) return 2;
  if (mode == "never-ready") {
    std::this_thread::sleep_for(std::chrono::minutes(10));
    return 0;
  }
  send_simple(*channel, shm::RecordType::kReady, 0, 0, nullptr);

  std::mt19937 random(7);
  while (true) {
    auto record = channel->requests.peek({}, shm::Clock::now() + std::chrono::seconds(1));
    if (!record) {
      if (getppid() == 1) return 1;
      continue;
    }
    const auto job_id = record->job_id;
    if (record->type == shm::RecordType::kShutdown) {
      channel->requests.release(*record);
      send_simple(*channel, shm::RecordType::kShutdownAck, 0, 0, nullptr);
      return 0;
    }
    const auto request = shm::decode_frame(record->payload, job_id);
    if (mode == "garbage-frame") {
      send_simple(*channel, shm::RecordType::kResponse, job_id, 1 + random() % 2000, &random);
    } else if (mode == "request-kind") {
      send_answer(*channel, job_id, *request, shm::FrameKind::kRequest);
    } else if (mode == "wrong-job") {
      send_simple(*channel, shm::RecordType::kError, job_id + 1000, 0, nullptr);
      send_answer(*channel, job_id, *request);
    } else if (mode == "corrupt-header") {
      // A well-formed reservation, then its header's length overwritten before the commit.
      auto reservation = channel->responses
                             .reserve(shm::RecordType::kResponse, job_id, 64, {},
                                      shm::Clock::now() + std::chrono::seconds(5))
                             .value();
      auto* header = reinterpret_cast<shm::RecordHeader*>(reservation.payload.data() -
                                                          sizeof(shm::RecordHeader));
      header->record_bytes = std::uint64_t{1} << 40;
      channel->responses.commit(reservation);
      std::this_thread::sleep_for(std::chrono::minutes(10));
    } else {
      send_answer(*channel, job_id, *request);
    }
    channel->requests.release(*record);
  }
}
