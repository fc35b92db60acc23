// Dynamic batching without processes: which queued jobs form a batch and when it goes
// (batch_former.hpp), and how their rows are stacked into one frame and sliced back out of the
// answer (batch_frame.hpp).
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <thread>

#include "supervisor/batch_former.hpp"
#include "supervisor/batch_frame.hpp"
#include "supervisor/http_reply.hpp"

namespace infervisor::supervisor {
namespace {

using namespace std::chrono_literals;

ModelConfig batching_model() {
  ModelConfig model;
  model.name = "mlp";
  model.inputs = {{"x", DType::kFloat32, {-1, 4}}};
  model.outputs = {{"y", DType::kFloat32, {-1, 2}}};
  model.batching.max_batch_size = 8;
  model.batching.max_queue_delay = 200us;
  return model;
}

// A job with one FP32 input "x" of `rows` x `width`, its elements first_value, first_value + 1...
JobPtr make_job(const ModelConfig& model, std::uint64_t id, std::int64_t rows,
                std::int64_t width = 4, float first_value = 0) {
  auto job = std::make_shared<Job>(id, model, "", [](HttpReply) {});
  InputTensor input;
  input.name = "x";
  input.dtype = DType::kFloat32;
  input.shape = {rows, width};
  std::vector<float> values(static_cast<std::size_t>(rows * width));
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = first_value + static_cast<float>(i);
  input.converted.resize(values.size() * sizeof(float));
  std::memcpy(input.converted.data(), values.data(), input.converted.size());
  input.data = input.converted;
  job->request().inputs.push_back(std::move(input));
  shm::FramePlan plan;
  plan.total_bytes = 1024 + static_cast<std::uint64_t>(rows * width) * 4;
  job->set_frame_plan(plan);
  return job;
}

std::deque<JobPtr> queue_of(std::initializer_list<JobPtr> jobs) {
  return {jobs};
}

constexpr std::uint64_t kRingLimit = 1 << 20;

TEST(BatchFormer_test, AFullBatchGoesAtOnce) {
  const auto model = batching_model();
  auto queue = queue_of({make_job(model, 1, 3), make_job(model, 2, 5), make_job(model, 3, 1)});
  const auto choice = choose_batch(queue, model.batching, kRingLimit, queue.front()->created());
  EXPECT_TRUE(choice.ready);
  EXPECT_EQ(choice.picks, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(choice.rows, 8);
}

TEST(BatchFormer_test, APartialBatchWaitsForTheLeadsQueueDelay) {
  const auto model = batching_model();
  auto queue = queue_of({make_job(model, 1, 1), make_job(model, 2, 2)});
  const auto arrived = queue.front()->created();
  auto choice = choose_batch(queue, model.batching, kRingLimit, arrived + 50us);
  EXPECT_FALSE(choice.ready);
  EXPECT_EQ(choice.ready_at, arrived + 200us);
  choice = choose_batch(queue, model.batching, kRingLimit, arrived + 200us);
  EXPECT_TRUE(choice.ready);
  EXPECT_EQ(choice.picks, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(choice.rows, 3);
}

TEST(BatchFormer_test, TheOldestPickedJobSetsTheClockWhenANewerOneLeads) {
  // With priorities a newer, more urgent job may lead: the older ones behind it must not wait a
  // whole delay more.
  auto model = batching_model();
  auto older = make_job(model, 1, 1);
  auto urgent = make_job(model, 2, 1);
  while (!(older->created() < urgent->created()))  // one clock tick apart at least
    urgent = make_job(model, 2, 1);
  auto queue = queue_of({urgent, older});
  // The older job has waited its 200 us; the lead has not.
  auto choice = choose_batch(queue, model.batching, kRingLimit, older->created() + 200us);
  EXPECT_TRUE(choice.ready);
  EXPECT_EQ(choice.picks, (std::vector<std::size_t>{0, 1}));
  model.batching.max_queue_delay = 10s;
  choice = choose_batch(queue, model.batching, kRingLimit, urgent->created());
  EXPECT_FALSE(choice.ready);
  EXPECT_EQ(choice.ready_at, older->created() + 10s);
}

TEST(BatchFormer_test, WithoutADelayWhateverIsQueuedGoes) {
  auto model = batching_model();
  model.batching.max_queue_delay = 0us;
  auto queue = queue_of({make_job(model, 1, 1)});
  const auto choice = choose_batch(queue, model.batching, kRingLimit, queue.front()->created());
  EXPECT_TRUE(choice.ready);
  EXPECT_EQ(choice.picks.size(), 1u);
}

TEST(BatchFormer_test, JobsOfAnotherShapeArePassedOverAndKeepTheirPlace) {
  const auto model = batching_model();
  auto queue =
      queue_of({make_job(model, 1, 2), make_job(model, 2, 2, /*width=*/3), make_job(model, 3, 2)});
  auto other_dtype = make_job(model, 4, 2);
  other_dtype->request().inputs[0].dtype = DType::kFloat64;
  queue.push_back(other_dtype);
  auto other_output = make_job(model, 5, 2);
  other_output->request().outputs.push_back({"y", false, std::nullopt});
  queue.push_back(other_output);
  const auto choice =
      choose_batch(queue, model.batching, kRingLimit, queue.front()->created() + 1s);
  EXPECT_EQ(choice.picks, (std::vector<std::size_t>{0, 2}));
  EXPECT_EQ(choice.rows, 4);
}

TEST(BatchFormer_test, AnAgreeingJobThatDoesNotFitEndsTheBatchInArrivalOrder) {
  const auto model = batching_model();
  auto queue = queue_of({make_job(model, 1, 4), make_job(model, 2, 6), make_job(model, 3, 1)});
  const auto choice = choose_batch(queue, model.batching, kRingLimit, queue.front()->created());
  EXPECT_TRUE(choice.ready);  // it cannot grow: no point waiting
  EXPECT_EQ(choice.picks, (std::vector<std::size_t>{0}));
}

TEST(BatchFormer_test, TheRingBoundsTheBatch) {
  const auto model = batching_model();
  auto queue = queue_of({make_job(model, 1, 1), make_job(model, 2, 1), make_job(model, 3, 1)});
  const std::uint64_t two_jobs = 2 * queue.front()->frame_plan()->total_bytes;
  const auto choice = choose_batch(queue, model.batching, two_jobs, queue.front()->created());
  EXPECT_TRUE(choice.ready);
  EXPECT_EQ(choice.picks, (std::vector<std::size_t>{0, 1}));
}

TEST(BatchFormer_test, APreferredSizeGoesAtOnce) {
  auto model = batching_model();
  model.batching.preferred_batch_sizes = {2, 4};
  auto queue = queue_of({make_job(model, 1, 1), make_job(model, 2, 1), make_job(model, 3, 1)});
  auto choice = choose_batch(queue, model.batching, kRingLimit, queue.front()->created());
  EXPECT_TRUE(choice.ready);
  EXPECT_EQ(choice.picks, (std::vector<std::size_t>{0, 1}));  // 2 rows, not 3
  EXPECT_EQ(choice.rows, 2);
  queue.push_back(make_job(model, 4, 1));
  choice = choose_batch(queue, model.batching, kRingLimit, queue.front()->created());
  EXPECT_EQ(choice.rows, 4);
  // Past the delay, everything queued goes, preferred or not.
  queue.push_back(make_job(model, 5, 1));
  choice = choose_batch(queue, model.batching, kRingLimit, queue.front()->created() + 1s);
  EXPECT_EQ(choice.rows, 5);
}

TEST(BatchFormer_test, JobsInClientRegionsRunAlone) {
  const auto model = batching_model();
  auto in_region = make_job(model, 1, 1);
  in_region->request().inputs[0].region = RegionSlice{nullptr, 0, 16};
  auto queue = queue_of({in_region, make_job(model, 2, 1)});
  auto choice = choose_batch(queue, model.batching, kRingLimit, in_region->created());
  EXPECT_TRUE(choice.ready);
  EXPECT_EQ(choice.picks.size(), 1u);
  queue.pop_front();
  queue.push_back(in_region);
  choice = choose_batch(queue, model.batching, kRingLimit, queue.front()->created() + 1s);
  EXPECT_EQ(choice.picks.size(), 1u);  // nor does it join one
}

TEST(BatchFormer_test, GoneJobsAreSkipped) {
  const auto model = batching_model();
  auto answered = make_job(model, 2, 1);
  answered->complete(error_reply(504, "late"));
  auto abandoned = make_job(model, 3, 1);
  abandoned->abandon();
  auto queue = queue_of({make_job(model, 1, 1), answered, abandoned, make_job(model, 4, 1)});
  const auto choice =
      choose_batch(queue, model.batching, kRingLimit, queue.front()->created() + 1s);
  EXPECT_EQ(choice.picks, (std::vector<std::size_t>{0, 3}));
}

TEST(BatchFormer_test, TheHalvesOfASplitBatchKeepToTheirSize) {
  const auto model = batching_model();
  auto queue = queue_of({make_job(model, 1, 2), make_job(model, 2, 2), make_job(model, 3, 2),
                         make_job(model, 4, 2), make_job(model, 5, 1)});
  for (int i = 0; i < 4; ++i)
    queue[i]->set_batch_limit(4);
  auto choice = choose_batch(queue, model.batching, kRingLimit, queue.front()->created());
  EXPECT_TRUE(choice.ready);
  EXPECT_EQ(choice.picks, (std::vector<std::size_t>{0, 1}));
  // A job of a half joins another batch only while that stays within its half's size.
  queue.erase(queue.begin(), queue.begin() + 2);
  queue.push_front(make_job(model, 6, 1));
  choice = choose_batch(queue, model.batching, kRingLimit, queue.front()->created() + 1s);
  EXPECT_EQ(choice.picks, (std::vector<std::size_t>{0, 1, 3}));  // jobs 6, 3 and 5: not 4
  EXPECT_EQ(choice.rows, 4);
}

TEST(BatchFormer_test, AdmissionChecksTheRows) {
  const auto model = batching_model();
  EXPECT_NO_THROW(check_batch_rows(model, make_job(model, 1, 8)->request()));
  try {
    check_batch_rows(model, make_job(model, 1, 9)->request());
    FAIL() << "9 rows passed a max_batch_size of 8";
  } catch (const HttpError& error) {
    EXPECT_EQ(error.status(), 400u);
    EXPECT_NE(std::string(error.what()).find("max_batch_size"), std::string::npos);
  }
  auto uneven = make_job(model, 2, 2);
  uneven->request().inputs.push_back(uneven->request().inputs[0]);
  uneven->request().inputs[1].name = "z";
  uneven->request().inputs[1].shape = {3, 4};
  EXPECT_THROW(check_batch_rows(model, uneven->request()), HttpError);
  auto scalar = make_job(model, 3, 1);
  scalar->request().inputs[0].shape.clear();
  EXPECT_THROW(check_batch_rows(model, scalar->request()), HttpError);
}

TEST(BatchFrame_test, StacksEveryJobsRowsIntoOneFrame) {
  const auto model = batching_model();
  const std::vector<JobPtr> jobs{make_job(model, 7, 1, 4, 0), make_job(model, 8, 2, 4, 100)};
  const auto layout = batch_layout(jobs);
  EXPECT_EQ(layout.rows, 3);
  const auto plan = shm::plan_frame(model.name, layout.inputs, layout.outputs);
  ASSERT_TRUE(plan) << plan.error().message;
  std::vector<std::byte> record(plan->total_bytes + 64);
  auto* aligned = reinterpret_cast<std::byte*>(
      (reinterpret_cast<std::uintptr_t>(record.data()) + 63) & ~std::uintptr_t{63});
  const std::span<std::byte> payload(aligned, plan->total_bytes);
  const auto payloads = shm::write_frame(payload, *plan, shm::FrameKind::kRequest, 7, model.name,
                                         layout.inputs, layout.outputs);
  write_batch_inputs(jobs, payloads);
  const auto frame = shm::decode_frame(payload, 7);
  ASSERT_TRUE(frame) << frame.error().message;
  ASSERT_EQ(frame->tensors.size(), 1u);
  EXPECT_EQ(frame->tensors[0].shape()[0], 3);
  std::vector<float> values(12);
  std::memcpy(values.data(), frame->tensors[0].data.data(), 48);
  EXPECT_EQ(values[0], 0);
  EXPECT_EQ(values[3], 3);
  EXPECT_EQ(values[4], 100);  // job 8's first row follows job 7's one row
  EXPECT_EQ(values[11], 107);
}

TEST(BatchFrame_test, SlicesEachJobsRowsOutOfTheAnswer) {
  std::vector<float> values{0, 1, 10, 11, 20, 21};
  shm::FrameView batch;
  batch.kind = shm::FrameKind::kResponse;
  shm::TensorView y;
  y.name = "y";
  y.ndim = 2;
  y.dims[0] = 3;
  y.dims[1] = 2;
  y.byte_size = 24;
  y.data = std::as_bytes(std::span(values));
  batch.tensors.push_back(y);
  const auto second = slice_rows(batch, 1, 2, 3);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->tensors[0].shape()[0], 2);
  EXPECT_EQ(second->tensors[0].byte_size, 16u);
  float first_value = 0;
  std::memcpy(&first_value, second->tensors[0].data.data(), 4);
  EXPECT_EQ(first_value, 10);
  const auto wrong = slice_rows(batch, 0, 1, 4);  // the model dropped a row
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("first dimension"), std::string::npos);
  batch.tensors[0].ndim = 0;
  EXPECT_FALSE(slice_rows(batch, 0, 1, 3));
}

}  // namespace
}  // namespace infervisor::supervisor
