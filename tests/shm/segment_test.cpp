// Segment: creation, naming and clean-up, and Segment::open refusing every header a stranger, a
// dead creator or a corrupting peer can leave behind.
#include "shm/segment.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cstring>
#include <functional>
#include <limits>

#include "common/child_process.hpp"
#include "tests/shm/shm_fixture.hpp"

namespace infervisor::shm {
namespace {
namespace bip = boost::interprocess;
using testing::ShmFixture;

constexpr SegmentLayout kLayout{kMinRingBytes, 2 * kMinRingBytes};
constexpr std::uint64_t kGeneration = 7;

bool exists_in_dev_shm(const std::string& name) {
  struct stat info {};
  return ::stat(("/dev/shm/" + name).c_str(), &info) == 0;
}

// A pid that belonged to a process that has exited and been reaped.
pid_t dead_pid() {
  auto child = ChildProcess::spawn("/bin/true", {});
  const auto status = child.wait_for(std::chrono::seconds(60));
  EXPECT_TRUE(status && status->exited());
  return child.pid();
}

// Maps a segment as a stranger would, with no validation, and lets `edit` change its bytes.
using Edit = std::function<void(SegmentHeader& header, std::byte* base)>;
void scribble(const std::string& name, const Edit& edit) {
  bip::shared_memory_object object(bip::open_only, name.c_str(), bip::read_write);
  bip::mapped_region region(object, bip::read_write);
  auto* base = static_cast<std::byte*>(region.get_address());
  SegmentHeader header;
  std::memcpy(&header, base, sizeof(header));
  edit(header, base);
  std::memcpy(base, &header, sizeof(header));
}

RingControl& control_of(std::byte* base, const RingPlacement& ring) {
  return *reinterpret_cast<RingControl*>(base + ring.control_offset);
}

class Segment_test : public ShmFixture {
 protected:
  Segment_test() : ShmFixture("ivt-segment") {}

  Segment create() { return Segment::create(prefix(), kLayout, kGeneration).value(); }
};

TEST_F(Segment_test, OpenSeesWhatCreateBuilt) {
  auto sut = create();
  EXPECT_TRUE(sut.name().starts_with(name_start())) << sut.name();
  EXPECT_EQ(sut.generation(), kGeneration);
  EXPECT_EQ(sut.size_bytes(), segment_bytes_for(kLayout).value());
  EXPECT_EQ(sut.request_ring().capacity, kLayout.request_ring_bytes);
  EXPECT_EQ(sut.response_ring().capacity, kLayout.response_ring_bytes);

  auto opened = Segment::open(sut.name(), {kGeneration, ::getpid()});
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened->size_bytes(), sut.size_bytes());
  EXPECT_EQ(opened->request_ring().capacity, kLayout.request_ring_bytes);
  EXPECT_EQ(opened->response_ring().capacity, kLayout.response_ring_bytes);
  // Both map the same bytes: a write through one view shows in the other.
  sut.response_ring().data[100] = std::byte{0x5a};
  EXPECT_EQ(opened->response_ring().data[100], std::byte{0x5a});
}

TEST_F(Segment_test, TheWorkersDeviceMemoryReportReachesTheCreator) {
  auto sut = create();
  EXPECT_EQ(sut.reported_device_bytes(), 0u);  // nothing reported yet (a CPU worker never does)
  auto opened = Segment::open(sut.name(), {kGeneration, ::getpid()});
  ASSERT_TRUE(opened) << opened.error().message;
  opened->report_device_bytes(std::uint64_t{3} << 30);
  EXPECT_EQ(sut.reported_device_bytes(), std::uint64_t{3} << 30);
}

TEST_F(Segment_test, IsPrivateToItsOwnerAndBackedInFull) {
  auto sut = create();
  struct stat info {};
  ASSERT_EQ(::stat(("/dev/shm/" + sut.name()).c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(static_cast<std::uint64_t>(info.st_size), sut.size_bytes());
  // posix_fallocate backed every page up front.
  EXPECT_GE(static_cast<std::uint64_t>(info.st_blocks) * 512, sut.size_bytes());
}

TEST_F(Segment_test, CreatorUnlinksTheNameAndMovesKeepOneOwner) {
  std::string name;
  {
    auto first = create();
    name = first.name();
    Segment moved = std::move(first);
    EXPECT_TRUE(exists_in_dev_shm(name));
    Segment assigned = create();
    const std::string replaced = assigned.name();
    assigned = std::move(moved);  // unlinks the segment it held before
    EXPECT_FALSE(exists_in_dev_shm(replaced));
    EXPECT_TRUE(exists_in_dev_shm(name));
  }
  EXPECT_FALSE(exists_in_dev_shm(name));
  const auto opened = Segment::open(name, {kGeneration, ::getpid()});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::kPeerGone);
}

TEST_F(Segment_test, OpenerDoesNotUnlink) {
  auto sut = create();
  { auto opened = Segment::open(sut.name(), {kGeneration, ::getpid()}).value(); }
  EXPECT_TRUE(exists_in_dev_shm(sut.name()));
}

TEST_F(Segment_test, RejectsBadPrefixes) {
  for (const std::string_view bad :
       {std::string_view(""), std::string_view("a/b"), std::string_view("a.b"),
        std::string_view("a b"), std::string_view("abcdefghijklmnopqrstuvwxyz0123456")}) {
    const auto sut = Segment::create(bad, kLayout, kGeneration);
    ASSERT_FALSE(sut) << "prefix '" << bad << "'";
    EXPECT_EQ(sut.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST_F(Segment_test, RoundsRingsUpToPagesAndRefusesTinyOnes) {
  const auto rounded = Segment::create(prefix(), {kMinRingBytes - 1, kMinRingBytes + 1}, 1);
  ASSERT_TRUE(rounded) << rounded.error().message;
  EXPECT_EQ(rounded->request_ring().capacity, kMinRingBytes);
  EXPECT_EQ(rounded->response_ring().capacity, kMinRingBytes + kPageBytes);

  for (const SegmentLayout tiny : {SegmentLayout{kMinRingBytes - kPageBytes, kMinRingBytes},
                                   SegmentLayout{kMinRingBytes, 0}}) {
    const auto sut = Segment::create(prefix(), tiny, 1);
    ASSERT_FALSE(sut);
    EXPECT_EQ(sut.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST_F(Segment_test, SizeArithmeticDoesNotOverflow) {
  constexpr auto kHuge = std::numeric_limits<std::uint64_t>::max();
  for (const SegmentLayout huge :
       {SegmentLayout{kHuge, kMinRingBytes}, SegmentLayout{kMinRingBytes, kHuge},
        SegmentLayout{kHuge / 2, kHuge / 2}}) {
    const auto bytes = segment_bytes_for(huge);
    ASSERT_FALSE(bytes);
    EXPECT_EQ(bytes.error().code, ErrorCode::kInvalidArgument);
    const auto sut = Segment::create(prefix(), huge, 1);
    ASSERT_FALSE(sut);
    EXPECT_EQ(sut.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST_F(Segment_test, FullDevShmIsAnErrorAtCreation) {
  struct statvfs fs {};
  ASSERT_EQ(::statvfs("/dev/shm", &fs), 0);
  // More than the whole file system: tmpfs refuses it at once, without filling anything.
  const std::uint64_t too_much = 2 * fs.f_blocks * fs.f_frsize;
  const auto sut = Segment::create(prefix(), {too_much, kMinRingBytes}, 1);
  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code, ErrorCode::kSystem);
  EXPECT_NE(sut.error().message.find("cannot reserve"), std::string::npos) << sut.error().message;
}

TEST_F(Segment_test, OpenRefusesMissingAndTruncatedSegments) {
  const auto missing = Segment::open(name_start() + "missing", {kGeneration, std::nullopt});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kPeerGone);

  for (const bip::offset_t size : {bip::offset_t{0}, bip::offset_t{100}}) {
    const std::string name = name_start() + "tiny";
    ShmName owned(name);
    bip::shared_memory_object object(bip::create_only, name.c_str(), bip::read_write);
    if (size > 0) object.truncate(size);  // Boost truncates with posix_fallocate, which refuses 0
    const auto sut = Segment::open(name, {kGeneration, std::nullopt});
    ASSERT_FALSE(sut);
    EXPECT_EQ(sut.error().code, ErrorCode::kCorrupt) << sut.error().message;
  }
}

TEST_F(Segment_test, OpenRefusesAnotherGeneration) {
  auto sut = create();
  const auto older = Segment::open(sut.name(), {kGeneration + 1, ::getpid()});
  ASSERT_FALSE(older);
  EXPECT_EQ(older.error().code, ErrorCode::kPeerGone);
  EXPECT_NE(older.error().message.find("stale"), std::string::npos) << older.error().message;
}

TEST_F(Segment_test, OpenAcceptsRingsAlreadyInUse) {
  auto sut = create();
  scribble(sut.name(), [](SegmentHeader& header, std::byte* base) {
    auto& request = control_of(base, header.request);
    request.read_position = 10 * kRecordAlignment + header.request.capacity;
    request.write_position = request.read_position + header.request.capacity;
  });
  const auto opened = Segment::open(sut.name(), {kGeneration, ::getpid()});
  EXPECT_TRUE(opened) << opened.error().message;
}

// ---------------------------------------------------------------------------------------------
// Every way a header can be wrong, each on a freshly created segment.
struct Corruption {
  const char* name;
  Edit edit;
  ErrorCode code;
  const char* says;            // a piece of the error message
  bool expect_creator = true;  // open knowing the supervisor's pid, as a worker does
};

void PrintTo(const Corruption& corruption, std::ostream* out) {
  *out << corruption.name;
}

class Segment_corrupt_test : public Segment_test,
                             public ::testing::WithParamInterface<Corruption> {};

TEST_P(Segment_corrupt_test, OpenRefusesIt) {
  auto sut = create();
  scribble(sut.name(), GetParam().edit);
  SegmentExpectation expected{kGeneration, std::nullopt};
  if (GetParam().expect_creator) expected.creator_pid = ::getpid();
  const auto opened = Segment::open(sut.name(), expected);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, GetParam().code) << opened.error().message;
  EXPECT_NE(opened.error().message.find(GetParam().says), std::string::npos)
      << opened.error().message;
  EXPECT_NE(opened.error().message.find(sut.name()), std::string::npos)
      << "the error names the segment: " << opened.error().message;
}

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

const Corruption kCorruptions[] = {
    // The header proper.
    {"magic", [](SegmentHeader& h, std::byte*) { h.magic ^= 1; }, ErrorCode::kCorrupt,
     "not an infervisor segment"},
    {"layout_version", [](SegmentHeader& h, std::byte*) { h.layout_version = kLayoutVersion + 1; },
     ErrorCode::kCorrupt, "layout version"},
    {"header_bytes", [](SegmentHeader& h, std::byte*) { h.header_bytes -= 8; }, ErrorCode::kCorrupt,
     "header"},
    {"segment_bytes_larger", [](SegmentHeader& h, std::byte*) { h.segment_bytes += kPageBytes; },
     ErrorCode::kCorrupt, "header says"},
    {"segment_bytes_smaller", [](SegmentHeader& h, std::byte*) { h.segment_bytes -= kPageBytes; },
     ErrorCode::kCorrupt, "header says"},
    {"generation_stale", [](SegmentHeader& h, std::byte*) { h.generation = kGeneration - 1; },
     ErrorCode::kPeerGone, "stale"},
    {"creator_pid_foreign", [](SegmentHeader& h, std::byte*) { h.creator_pid = 1; },
     ErrorCode::kPeerGone, "not by the expected supervisor"},
    {"creator_pid_dead", [](SegmentHeader& h, std::byte*) { h.creator_pid = dead_pid(); },
     ErrorCode::kPeerGone, "is gone", false},
    {"creator_pid_zero", [](SegmentHeader& h, std::byte*) { h.creator_pid = 0; },
     ErrorCode::kPeerGone, "is gone", false},
    // kill(-1, 0) would ask about every process, and succeed.
    {"creator_pid_negative", [](SegmentHeader& h, std::byte*) { h.creator_pid = -1; },
     ErrorCode::kPeerGone, "is gone", false},
    // Truncated to a pid_t this would name this very process.
    {"creator_pid_beyond_pid_t",
     [](SegmentHeader& h, std::byte*) { h.creator_pid = (std::int64_t{1} << 32) + ::getpid(); },
     ErrorCode::kPeerGone, "is gone", false},
    {"state_initializing",
     [](SegmentHeader& h, std::byte*) {
       h.state = static_cast<std::uint32_t>(SegmentState::kInitializing);
     },
     ErrorCode::kCorrupt, "not initialized"},
    {"state_unknown", [](SegmentHeader& h, std::byte*) { h.state = 2; }, ErrorCode::kCorrupt,
     "not initialized"},
    // Ring placements.
    {"control_misaligned", [](SegmentHeader& h, std::byte*) { h.request.control_offset += 64; },
     ErrorCode::kCorrupt, "request ring placement"},
    {"data_misaligned", [](SegmentHeader& h, std::byte*) { h.response.data_offset += 64; },
     ErrorCode::kCorrupt, "response ring placement"},
    {"capacity_not_pages", [](SegmentHeader& h, std::byte*) { h.request.capacity -= 64; },
     ErrorCode::kCorrupt, "request ring placement"},
    {"capacity_below_minimum",
     [](SegmentHeader& h, std::byte*) { h.request.capacity = kMinRingBytes - kPageBytes; },
     ErrorCode::kCorrupt, "request ring placement"},
    {"capacity_zero", [](SegmentHeader& h, std::byte*) { h.response.capacity = 0; },
     ErrorCode::kCorrupt, "response ring placement"},
    {"control_in_header_page", [](SegmentHeader& h, std::byte*) { h.request.control_offset = 0; },
     ErrorCode::kCorrupt, "request ring placement"},
    {"data_over_its_control",
     [](SegmentHeader& h, std::byte*) { h.request.data_offset = h.request.control_offset; },
     ErrorCode::kCorrupt, "request ring placement"},
    {"data_beyond_segment", [](SegmentHeader& h, std::byte*) { h.response.capacity += kPageBytes; },
     ErrorCode::kCorrupt, "response ring placement"},
    {"data_end_overflows",
     [](SegmentHeader& h, std::byte*) { h.response.capacity = kMax - kPageBytes + 1; },
     ErrorCode::kCorrupt, "response ring placement"},
    {"control_end_overflows",
     [](SegmentHeader& h, std::byte*) { h.response.control_offset = kMax - kPageBytes + 1; },
     ErrorCode::kCorrupt, "response ring placement"},
    {"rings_identical", [](SegmentHeader& h, std::byte*) { h.response = h.request; },
     ErrorCode::kCorrupt, "overlapping"},
    {"rings_partly_overlapping",
     [](SegmentHeader& h, std::byte*) {
       h.response.control_offset = h.request.data_offset;
       h.response.data_offset = h.request.data_offset + kPageBytes;
     },
     ErrorCode::kCorrupt, "overlapping"},
    // Ring positions, which the opener's reader and writer adopt as their starting points.
    {"read_position_misaligned",
     [](SegmentHeader& h, std::byte* base) {
       control_of(base, h.request).read_position = 8;
       control_of(base, h.request).write_position = 64;
     },
     ErrorCode::kCorrupt, "request ring positions"},
    {"write_position_misaligned",
     [](SegmentHeader& h, std::byte* base) { control_of(base, h.response).write_position = 100; },
     ErrorCode::kCorrupt, "response ring positions"},
    {"read_position_ahead_of_write",
     [](SegmentHeader& h, std::byte* base) { control_of(base, h.request).read_position = 64; },
     ErrorCode::kCorrupt, "request ring positions"},
    {"write_position_beyond_capacity",
     [](SegmentHeader& h, std::byte* base) {
       control_of(base, h.response).write_position = h.response.capacity + kRecordAlignment;
     },
     ErrorCode::kCorrupt, "response ring positions"},
};

INSTANTIATE_TEST_SUITE_P(EveryField, Segment_corrupt_test, ::testing::ValuesIn(kCorruptions),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace infervisor::shm
