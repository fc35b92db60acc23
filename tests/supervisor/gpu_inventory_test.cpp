#include "supervisor/gpu_inventory.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/common/temp_dir.hpp"

namespace infervisor::supervisor {
namespace {

std::string uuid_of(int gpu) {
  return fmt::format("GPU-{:08x}-1111-2222-3333-44445555666{}", 0xabc00000 + gpu, gpu);
}

// A made-up /proc/driver/nvidia/gpus: one folder per bus id, written in an order unlike the bus
// order, as readdir may return them.
class GpuInventory_test : public ::testing::Test {
 protected:
  void add_gpu(const std::string& bus_id, const std::string& uuid,
               const std::string& model = "NVIDIA H200") {
    const auto folder = proc_.path() / bus_id;
    std::filesystem::create_directories(folder);
    std::ofstream(folder / "information")
        << "Model: \t\t " << model << "\nIRQ:   \t\t 0\nGPU UUID: \t " << uuid
        << "\nVideo BIOS: \t 96.00.af.00.01\nBus Type: \t PCIe\nDMA Size: \t 52 bits\n"
           "DMA Mask: \t 0xfffffffffffff\nBus Location: \t "
        << bus_id << "\nDevice Minor: \t 0\nGPU Excluded:\t No\n";
  }

  testing::TempDir proc_;
};

// Eight GPUs at bus ids with gaps between them, as on an 8-GPU server.
const char* const kBusIds[] = {"0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0",
                               "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0"};

TEST_F(GpuInventory_test, EightGpusComeInBusOrderWithTheirUuids) {
  for (const int gpu : {5, 0, 7, 2, 1, 6, 3, 4})
    add_gpu(kBusIds[gpu], uuid_of(gpu));
  const auto sut = read_proc_gpus(proc_.path());
  ASSERT_EQ(sut.size(), 8u);
  for (int gpu = 0; gpu < 8; ++gpu) {
    EXPECT_EQ(sut[gpu].pci_bus_id, kBusIds[gpu]);
    EXPECT_EQ(sut[gpu].uuid, uuid_of(gpu));
    EXPECT_EQ(sut[gpu].model, "NVIDIA H200");
    EXPECT_TRUE(sut[gpu].usable());
  }
}

TEST_F(GpuInventory_test, AVanishedGpuKeepsItsPlaceButIsUnusable) {
  add_gpu(kBusIds[0], uuid_of(0));
  std::filesystem::create_directories(proc_.path() / kBusIds[1]);  // no information file
  add_gpu(kBusIds[2], "GPU-" + std::string(8, '?'));               // how a lost GPU reads
  add_gpu(kBusIds[3], uuid_of(3));
  const auto sut = read_proc_gpus(proc_.path());
  ASSERT_EQ(sut.size(), 4u);
  EXPECT_TRUE(sut[0].usable());
  EXPECT_FALSE(sut[1].usable());
  EXPECT_NE(sut[1].problem.find("information"), std::string::npos) << sut[1].problem;
  EXPECT_FALSE(sut[2].usable());
  EXPECT_NE(sut[2].problem.find("lost"), std::string::npos) << sut[2].problem;
  EXPECT_EQ(sut[3].uuid, uuid_of(3));  // still the fourth: cuda:3
}

TEST_F(GpuInventory_test, NoDriverMeansNoGpus) {
  EXPECT_TRUE(read_proc_gpus(proc_.path() / "absent").empty());
  EXPECT_TRUE(read_proc_gpus(proc_.path()).empty());
}

TEST(NvidiaSmiList_test, ParsesGpusMigLinesAndALostGpu) {
  std::string text;
  for (int gpu = 0; gpu < 8; ++gpu) {
    if (gpu == 5) {
      text +=
          "Unable to determine the device handle for GPU 0000:AB:00.0: GPU is lost.  "
          "Reboot the system to recover this GPU\n";
      continue;
    }
    text += fmt::format("GPU {}: NVIDIA H200 (UUID: {})\n", gpu, uuid_of(gpu));
    if (gpu == 2) text += "  MIG 1g.18gb     Device  0: (UUID: MIG-0c5a1234-aaaa-bbbb-cccc-1234)\n";
  }
  const auto sut = parse_nvidia_smi_list(text);
  ASSERT_EQ(sut.size(), 8u);
  for (int gpu = 0; gpu < 8; ++gpu) {
    if (gpu == 5) {
      EXPECT_FALSE(sut[gpu].usable());
      EXPECT_EQ(sut[gpu].pci_bus_id, "0000:ab:00.0");
      EXPECT_NE(sut[gpu].problem.find("GPU is lost"), std::string::npos) << sut[gpu].problem;
      continue;
    }
    EXPECT_EQ(sut[gpu].uuid, uuid_of(gpu));
    EXPECT_EQ(sut[gpu].model, "NVIDIA H200");
  }
  EXPECT_TRUE(parse_nvidia_smi_list("").empty());
  EXPECT_TRUE(parse_nvidia_smi_list("No devices were found\n").empty());
}

std::vector<GpuInfo> eight_gpus_one_lost() {
  std::vector<GpuInfo> gpus;
  for (int gpu = 0; gpu < 8; ++gpu)
    gpus.push_back({kBusIds[gpu], "NVIDIA H200", gpu == 6 ? "" : uuid_of(gpu), ""});
  return gpus;
}

std::vector<std::string> uuids(const std::vector<GpuInfo>& gpus) {
  std::vector<std::string> out;
  for (const auto& gpu : gpus)
    out.push_back(gpu.uuid);
  return out;
}

TEST(VisibleGpus_test, UnsetKeepsEveryGpuAtItsIndex) {
  const auto sut = visible_gpus(eight_gpus_one_lost(), std::nullopt);
  ASSERT_EQ(sut.size(), 8u);
  EXPECT_FALSE(sut[6].usable());
  EXPECT_EQ(sut[7].uuid, uuid_of(7));
}

TEST(VisibleGpus_test, IndexesAndUuidPrefixesSelectInTheVariablesOrder) {
  const auto gpus = eight_gpus_one_lost();
  EXPECT_EQ(uuids(visible_gpus(gpus, "3,1")), (std::vector{uuid_of(3), uuid_of(1)}));
  EXPECT_EQ(uuids(visible_gpus(gpus, uuid_of(7) + ",0")), (std::vector{uuid_of(7), uuid_of(0)}));
  EXPECT_EQ(uuids(visible_gpus(gpus, "GPU-abc00002")), (std::vector{uuid_of(2)}));
  EXPECT_TRUE(visible_gpus(gpus, "").empty());
}

TEST(VisibleGpus_test, TheListEndsAtTheFirstBadEntryAsInCuda) {
  const auto gpus = eight_gpus_one_lost();
  std::string ignored;
  EXPECT_EQ(uuids(visible_gpus(gpus, "0,9,1", &ignored)), (std::vector{uuid_of(0)}));
  EXPECT_NE(ignored.find("'9'"), std::string::npos) << ignored;
  EXPECT_EQ(uuids(visible_gpus(gpus, "1,1,2", &ignored)), (std::vector{uuid_of(1)}));
  EXPECT_NE(ignored.find("already"), std::string::npos) << ignored;
  EXPECT_EQ(uuids(visible_gpus(gpus, "2,6,3", &ignored)), (std::vector{uuid_of(2)}));
  EXPECT_NE(ignored.find("unusable"), std::string::npos) << ignored;
  EXPECT_TRUE(visible_gpus(gpus, "GPU-abc0", &ignored).empty());  // matches them all
  EXPECT_NE(ignored.find("more than one"), std::string::npos) << ignored;
  EXPECT_TRUE(visible_gpus(gpus, "GPU-ffff", &ignored).empty());
  EXPECT_TRUE(visible_gpus(gpus, "all", &ignored).empty());
}

}  // namespace
}  // namespace infervisor::supervisor
