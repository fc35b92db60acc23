#include "worker/output_binding.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace infervisor::worker {
namespace {

const std::vector<std::int64_t> kShape24{2, 4};
const std::vector<std::int64_t> kShape2{2};

ModelOutput output(std::string_view key, std::optional<DType> dtype,
                   const std::vector<std::int64_t>& shape, std::string_view torch_dtype = "Float") {
  return ModelOutput{key, dtype, torch_dtype, shape};
}

class OutputBindingTest : public ::testing::Test {
 protected:
  const std::vector<TensorSpec> specs{parse_tensor_spec("y:float32:-1,4"),
                                      parse_tensor_spec("n:int64:-1")};
};

TEST_F(OutputBindingTest, BindsASequenceInOrder) {
  const std::vector<ModelOutput> outputs{output({}, DType::kFloat32, kShape24),
                                         output({}, DType::kInt64, kShape2)};
  const auto sut = bind_outputs(specs, ReturnKind::kSequence, outputs);
  ASSERT_TRUE(sut) << sut.error().message;
  EXPECT_EQ(*sut, (std::vector<std::size_t>{0, 1}));
}

TEST_F(OutputBindingTest, BindsADictByName) {
  const std::vector<ModelOutput> outputs{output("n", DType::kInt64, kShape2),
                                         output("y", DType::kFloat32, kShape24)};
  const auto sut = bind_outputs(specs, ReturnKind::kDict, outputs);
  ASSERT_TRUE(sut) << sut.error().message;
  EXPECT_EQ(*sut, (std::vector<std::size_t>{1, 0}));
}

TEST_F(OutputBindingTest, BindsATensorToTheOnlySpec) {
  const std::vector<ModelOutput> outputs{output({}, DType::kFloat32, kShape24)};
  const auto sut = bind_outputs(std::span(specs).first(1), ReturnKind::kTensor, outputs);
  ASSERT_TRUE(sut) << sut.error().message;
  EXPECT_EQ(*sut, (std::vector<std::size_t>{0}));
}

TEST_F(OutputBindingTest, SaysWhatWasExpectedAndFound) {
  struct Case {
    ReturnKind kind;
    std::vector<ModelOutput> outputs;
    std::string_view expected;
  };
  const std::vector<Case> cases{
      {ReturnKind::kTensor,
       {output({}, DType::kFloat32, kShape24)},
       "forward() returns a single Tensor but the config declares 2 outputs (y, n)"},
      {ReturnKind::kSequence,
       {output({}, DType::kFloat64, kShape24), output({}, DType::kInt64, kShape2)},
       "output 'y' has dtype float64 but the config says float32"},
      {ReturnKind::kSequence,
       {output({}, DType::kFloat32, kShape2), output({}, DType::kInt64, kShape2)},
       "output 'y' has shape [2] but the config says [-1, 4]"},
      {ReturnKind::kSequence,
       {output({}, std::nullopt, kShape24, "ComplexFloat"), output({}, DType::kInt64, kShape2)},
       "output 'y' has dtype ComplexFloat, which infervisor cannot carry"},
      {ReturnKind::kDict,
       {output("y", DType::kFloat32, kShape24), output("m", DType::kInt64, kShape2)},
       "forward() returns a Dict without the output 'n'"},
      {ReturnKind::kDict,
       {output("y", DType::kFloat32, kShape24)},
       "forward() returns a Dict with 1 entries ('y') but the config declares 2 outputs (y, n)"},
  };
  for (const auto& test : cases) {
    const auto sut = bind_outputs(specs, test.kind, test.outputs);
    ASSERT_FALSE(sut) << test.expected;
    EXPECT_EQ(sut.error().code, ErrorCode::kModel);
    EXPECT_NE(sut.error().message.find(test.expected), std::string::npos) << sut.error().message;
  }
}

TEST_F(OutputBindingTest, SelectsEverythingWhenNothingIsRequested) {
  const auto sut = select_outputs(specs, {});
  ASSERT_TRUE(sut);
  EXPECT_EQ(*sut, (std::vector<std::size_t>{0, 1}));
}

TEST_F(OutputBindingTest, SelectsRequestedOutputsInRequestOrder) {
  const std::vector<std::string_view> requested{"n", "y"};
  const auto sut = select_outputs(specs, requested);
  ASSERT_TRUE(sut);
  EXPECT_EQ(*sut, (std::vector<std::size_t>{1, 0}));
}

TEST_F(OutputBindingTest, RejectsUnknownAndRepeatedRequests) {
  const std::vector<std::string_view> unknown{"y", "z"};
  const auto sut = select_outputs(specs, unknown);
  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().message,
            "requested output 'z' is not an output of the model (it has y, n)");
  const std::vector<std::string_view> repeated{"y", "y"};
  const auto again = select_outputs(specs, repeated);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "output 'y' is requested more than once");
}

}  // namespace
}  // namespace infervisor::worker
