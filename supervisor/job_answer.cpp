#include "supervisor/job_answer.hpp"

#include <spdlog/spdlog.h>

#include "shm/frame.hpp"
#include "supervisor/kserve_response.hpp"

namespace infervisor::supervisor {
namespace {

unsigned status_for(shm::JobErrorKind kind) {
  switch (kind) {
    case shm::JobErrorKind::kBadInput:
      return 400;
    case shm::JobErrorKind::kModel:
    case shm::JobErrorKind::kTooLarge:
    case shm::JobErrorKind::kInternal:
    case shm::JobErrorKind::kStartup:
      return 500;
  }
  return 500;
}

HttpReply encode(const ModelConfig& model, const Job& job, const shm::RecordView& answer,
                 std::string_view worker) {
  if (answer.type == shm::RecordType::kError) {
    const auto error = shm::decode_error_payload(answer.payload);
    if (!error) {
      return error_reply(500,
                         fmt::format("worker sent an unreadable error: {}", error.error().message));
    }
    spdlog::warn("{}: job {} failed: {}", worker, job.id(), error->message);
    return error_reply(status_for(error->kind), error->message);
  }
  const auto frame = shm::decode_frame(answer.payload, answer.job_id);
  if (!frame) {
    spdlog::error("{}: job {}: corrupt response frame: {}", worker, job.id(),
                  frame.error().message);
    return error_reply(
        500, fmt::format("the worker sent a corrupt response: {}", frame.error().message));
  }
  if (frame->kind != shm::FrameKind::kResponse) {
    spdlog::error("{}: job {}: the response record holds a request frame", worker, job.id());
    return error_reply(500, "the worker sent a request frame as its response");
  }
  return encode_infer_response(model, job.request(), *frame);
}

}  // namespace

HttpReply reply_for_answer(const ModelConfig& model, const Job& job, const shm::RecordView& answer,
                           std::string_view worker) noexcept {
  try {
    return encode(model, job, answer, worker);
  } catch (const HttpError& error) {
    spdlog::error("{}: job {}: {}", worker, job.id(), error.what());
    return error_reply(error.status(), error.what());
  } catch (const std::exception& error) {
    // E.g. bad_alloc while writing a large output as JSON: this job fails, the daemon serves on.
    spdlog::error("{}: job {}: cannot encode the answer: {}", worker, job.id(), error.what());
    try {
      return error_reply(500, fmt::format("cannot encode the answer: {}", error.what()));
    } catch (...) {
    }
  } catch (...) {
  }
  HttpReply reply;  // not even the message could be formatted: the bare minimum
  reply.status = 500;
  reply.body = R"({"error":"cannot encode the answer"})";
  return reply;
}

}  // namespace infervisor::supervisor
