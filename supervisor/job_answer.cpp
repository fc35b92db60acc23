#include "supervisor/job_answer.hpp"

#include <spdlog/spdlog.h>

#include "shm/frame.hpp"
#include "supervisor/batch_former.hpp"
#include "supervisor/batch_frame.hpp"
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

// The last resort when not even an error message can be formatted.
HttpReply bare_error() noexcept {
  HttpReply reply;
  reply.status = 500;
  try {
    reply.body = R"({"error":"cannot encode the answer"})";
  } catch (...) {
  }
  return reply;
}

std::vector<HttpReply> encode_batch(const ModelConfig& model, std::span<const JobPtr> jobs,
                                    std::int64_t total_rows, const shm::RecordView& answer,
                                    std::string_view worker) {
  std::vector<HttpReply> replies;
  replies.reserve(jobs.size());
  auto same_for_all = [&](const HttpReply& reply) {
    replies.assign(jobs.size(), reply);
    return replies;
  };
  if (answer.type == shm::RecordType::kError)
    return same_for_all(encode(model, *jobs[0], answer, worker));
  const auto frame = shm::decode_frame(answer.payload, answer.job_id);
  if (!frame || frame->kind != shm::FrameKind::kResponse) {
    // (encode says why, and logs it.)
    return same_for_all(encode(model, *jobs[0], answer, worker));
  }
  std::int64_t first_row = 0;
  for (const auto& job : jobs) {
    const std::int64_t rows = job_rows(job->request());
    const auto slice = slice_rows(*frame, first_row, rows, total_rows);
    first_row += rows;
    if (!slice) {
      spdlog::error("{}: batch of job {}: {}", worker, jobs[0]->id(), slice.error().message);
      return same_for_all(error_reply(500, slice.error().message));
    }
    try {
      replies.push_back(encode_infer_response(model, job->request(), *slice));
    } catch (const HttpError& error) {
      spdlog::error("{}: job {}: {}", worker, job->id(), error.what());
      replies.push_back(error_reply(error.status(), error.what()));
    }
  }
  return replies;
}

}  // namespace

std::vector<HttpReply> replies_for_batch(const ModelConfig& model, std::span<const JobPtr> jobs,
                                         std::int64_t total_rows, const shm::RecordView& answer,
                                         std::string_view worker) noexcept {
  try {
    return encode_batch(model, jobs, total_rows, answer, worker);
  } catch (const std::exception& error) {
    spdlog::error("{}: batch of job {}: cannot encode the answers: {}", worker, jobs[0]->id(),
                  error.what());
  } catch (...) {
  }
  return std::vector<HttpReply>(jobs.size(), bare_error());
}

std::optional<std::string> split_reason(const shm::RecordView& answer) {
  if (answer.type != shm::RecordType::kError) return std::nullopt;
  const auto error = shm::decode_error_payload(answer.payload);
  if (!error) return std::nullopt;
  if (error->kind == shm::JobErrorKind::kTooLarge) return std::string(error->message);
  if (error->message.starts_with("CUDA out of memory")) return std::string(error->message);
  return std::nullopt;
}

shm::StageTimes answer_stages(const shm::RecordView& answer) noexcept {
  const auto stages =
      shm::decode_stage_times(answer.payload, answer.type == shm::RecordType::kError);
  return stages ? *stages : shm::StageTimes{};
}

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
  return bare_error();  // not even the message could be formatted
}

}  // namespace infervisor::supervisor
