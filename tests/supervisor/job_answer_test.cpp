#include "supervisor/job_answer.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <vector>

#include "shm/frame.hpp"

namespace infervisor::supervisor {
namespace {

class JobAnswer_test : public ::testing::Test {
 protected:
  JobAnswer_test() {
    model_.name.assign(1, 'm');  // (not = "m": GCC 12 warns falsely, -Wrestrict)
    model_.inputs = {{"x", DType::kFloat32, {-1, 2}}};
    model_.outputs = {{"y", DType::kFloat32, {-1, 2}}};
  }
  std::string error_of(const HttpReply& reply) {
    return std::string(boost::json::parse(reply.body).at("error").as_string());
  }
  ModelConfig model_;
  Job job_{7, model_, std::string(), nullptr};
};

TEST_F(JobAnswer_test, ACorruptResponseFrameIsA500ForThatJobNotAnException) {
  std::vector<std::byte> garbage(300, std::byte{0x5a});
  const shm::RecordView record{shm::RecordType::kResponse, 7, garbage, 0};
  const auto reply = reply_for_answer(model_, job_, record, "worker 0");
  EXPECT_EQ(reply.status, 500u);
  EXPECT_NE(error_of(reply).find("corrupt response"), std::string::npos);
}

TEST_F(JobAnswer_test, AWorkersErrorKeepsItsKindAndMessage) {
  std::vector<std::byte> payload(shm::error_payload_bytes("bad input: x"));
  shm::write_error_payload(payload, shm::JobErrorKind::kBadInput, "bad input: x", {});
  const shm::RecordView record{shm::RecordType::kError, 7, payload, 0};
  const auto reply = reply_for_answer(model_, job_, record, "worker 0");
  EXPECT_EQ(reply.status, 400u);
  EXPECT_EQ(error_of(reply), "bad input: x");
}

TEST_F(JobAnswer_test, AnUnreadableErrorIsA500) {
  std::vector<std::byte> payload(3, std::byte{0xff});
  const shm::RecordView record{shm::RecordType::kError, 7, payload, 0};
  EXPECT_EQ(reply_for_answer(model_, job_, record, "worker 0").status, 500u);
}

}  // namespace
}  // namespace infervisor::supervisor
