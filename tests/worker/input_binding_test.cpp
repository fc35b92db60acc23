#include "worker/input_binding.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace infervisor::worker {
namespace {

shm::TensorView view(std::string_view name, DType dtype, std::initializer_list<std::int64_t> dims,
                     std::span<const std::byte> data = {}) {
  shm::TensorView out;
  out.name = name;
  out.dtype = dtype;
  out.ndim = static_cast<std::uint8_t>(dims.size());
  std::copy(dims.begin(), dims.end(), out.dims);
  out.data = data;
  return out;
}

class InputBindingTest : public ::testing::Test {
 protected:
  const std::vector<TensorSpec> specs{parse_tensor_spec("x:float32:-1,4"),
                                      parse_tensor_spec("mask:bool:-1")};
  std::array<std::byte, 32> x_bytes{};
  std::array<std::byte, 2> mask_bytes{};
};

TEST_F(InputBindingTest, ReturnsInputsInSpecOrder) {
  const std::vector<shm::TensorView> tensors{view("mask", DType::kBool, {2}, mask_bytes),
                                             view("x", DType::kFloat32, {2, 4}, x_bytes)};
  const auto sut = bind_inputs(specs, tensors);
  ASSERT_TRUE(sut) << sut.error().message;
  ASSERT_EQ(sut->size(), 2u);
  EXPECT_EQ((*sut)[0].dtype, DType::kFloat32);
  EXPECT_EQ((*sut)[0].data.data(), x_bytes.data());
  EXPECT_EQ(std::vector<std::int64_t>((*sut)[0].shape.begin(), (*sut)[0].shape.end()),
            (std::vector<std::int64_t>{2, 4}));
  EXPECT_EQ((*sut)[1].dtype, DType::kBool);
  EXPECT_EQ((*sut)[1].data.data(), mask_bytes.data());
}

TEST_F(InputBindingTest, RejectsEachMismatchWithAClearMessage) {
  struct Case {
    std::vector<shm::TensorView> tensors;
    std::string_view expected;
  };
  const std::vector<Case> cases{
      {{view("x", DType::kFloat32, {2, 4})}, "input 'mask' is missing (the model takes x, mask)"},
      {{view("x", DType::kFloat32, {2, 4}), view("mask", DType::kBool, {2}),
        view("x", DType::kFloat32, {2, 4})},
       "input 'x' is given more than once"},
      {{view("x", DType::kFloat32, {2, 4}), view("mask", DType::kBool, {2}),
        view("extra", DType::kFloat32, {1})},
       "input 'extra' is not an input of the model (it takes x, mask)"},
      {{view("x", DType::kFloat64, {2, 4}), view("mask", DType::kBool, {2})},
       "input 'x' has dtype float64 but the model takes float32"},
      {{view("x", DType::kFloat32, {2, 5}), view("mask", DType::kBool, {2})},
       "input 'x' has shape [2, 5] but the model takes [-1, 4]"},
      {{view("x", DType::kFloat32, {8}), view("mask", DType::kBool, {2})},
       "input 'x' has shape [8] but the model takes [-1, 4]"},
  };
  for (const auto& test : cases) {
    const auto sut = bind_inputs(specs, test.tensors);
    ASSERT_FALSE(sut) << test.expected;
    EXPECT_EQ(sut.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(sut.error().message.find(test.expected), std::string::npos) << sut.error().message;
  }
}

}  // namespace
}  // namespace infervisor::worker
