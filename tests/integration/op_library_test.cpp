// Custom operator libraries end to end: a model's `libraries:` reach its workers, which load them
// before the model; a model that needs one it was not given, or one that cannot load, stops
// start-up with a reason that names the op or the file.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "running_daemon.hpp"
#include "test_tensors.hpp"
#include "tests/common/temp_dir.hpp"

namespace infervisor::testing {
namespace {

using namespace std::chrono_literals;

std::string poison_model(const std::string& libraries_yaml) {
  return "  - name: poison\n    path: " + (models_dir() / "poison.pt").string() + "\n" +
         libraries_yaml +
         "    inputs: [{name: x, dtype: FP32, shape: [-1, 4]}]\n"
         "    outputs: [{name: y, dtype: FP32, shape: [-1, 4]}]\n";
}

TEST(OpLibrary_test, AModelWithCustomOpsServesWithItsLibrary) {
  RunningDaemon daemon(
      poison_model("    libraries: [" + std::string(INFERVISOR_TEST_OPS_LIBRARY) + "]\n"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  client::InferRequest request;
  request.model = "poison";
  request.inputs.push_back(floats({2, 4}, {1, 2, 3, 4, -1, 0, 0.5f, 100}));
  const auto result = daemon.client().infer(request);
  ASSERT_EQ(result.outputs.size(), 1u);
  EXPECT_EQ(result.outputs[0].shape, (std::vector<std::int64_t>{2, 4}));
  EXPECT_EQ(values_of(result.outputs[0]), (std::vector<float>{3, 5, 7, 9, -1, 1, 2, 201}));
  EXPECT_TRUE(daemon.stop().success()) << daemon.log();
}

TEST(OpLibrary_test, WithoutItsLibraryStartUpFailsNamingTheOp) {
  RunningDaemon daemon(poison_model(""));
  daemon.start();
  const auto status = daemon.wait_exit(60s);
  ASSERT_TRUE(status) << daemon.log();
  EXPECT_EQ(status->exit_code(), 1) << daemon.log();
  EXPECT_NE(daemon.log().find("infervisor_test::poison"), std::string::npos) << daemon.log();
}

TEST(OpLibrary_test, ALibraryThatCannotLoadFailsStartUpNamingTheFile) {
  const TempDir folder;
  const auto not_a_library = folder / "libnot_elf.so";
  std::ofstream(not_a_library) << "not a shared object";
  RunningDaemon broken(poison_model("    libraries: [" + not_a_library.string() + "]\n"));
  broken.start();
  const auto status = broken.wait_exit(60s);
  ASSERT_TRUE(status) << broken.log();
  EXPECT_EQ(status->exit_code(), 1) << broken.log();
  EXPECT_NE(broken.log().find("cannot load the operator library " + not_a_library.string() + ": "),
            std::string::npos)
      << broken.log();
}

TEST(OpLibrary_test, AMissingLibraryIsAConfigErrorWithItsLine) {
  RunningDaemon broken(poison_model("    libraries: [/nonexistent/libnope.so]\n"));
  broken.start();
  const auto status = broken.wait_exit(30s);
  ASSERT_TRUE(status) << broken.log();
  EXPECT_EQ(status->exit_code(), 1) << broken.log();
  EXPECT_NE(broken.log().find("models.poison.libraries[0]: '/nonexistent/libnope.so' is not a "
                              "readable file"),
            std::string::npos)
      << broken.log();
}

}  // namespace
}  // namespace infervisor::testing
