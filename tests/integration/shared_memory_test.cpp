// Client shared memory (issue 10) against the real daemon and workers, in raw HTTP: what
// registration refuses, tensors read and written in the client's own memory, a region shrunk
// before or while a job uses it, unregistering while jobs use a region, a client killed while its
// job runs, and (as root) one uid against another's regions.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cstring>
#include <future>
#include <thread>

#include "raw_http.hpp"
#include "running_daemon.hpp"

namespace infervisor::testing {
namespace {

using namespace std::chrono_literals;

std::string model_entry(const std::string& name, const std::string& file,
                        const std::string& shape) {
  return "  - name: " + name + "\n    path: " + (models_dir() / file).string() +
         "\n    inputs: [{name: x, dtype: FP32, shape: " + shape + "}]\n" +
         "    outputs: [{name: y, dtype: FP32, shape: " + shape + "}]\n";
}

// A POSIX shm object of the test's own, unlinked when it goes.
class ShmObject {
 public:
  explicit ShmObject(std::size_t bytes, const std::string& tag = "obj")
      : key_(fmt::format("/ivshmtest{}_{}_{}", ::getpid(), tag, counter_++)), bytes_(bytes) {
    const int fd = ::shm_open(key_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    EXPECT_GE(fd, 0) << key_ << ": " << std::strerror(errno);
    EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(bytes)), 0);
    data_ = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    EXPECT_NE(data_, MAP_FAILED);
    fd_ = fd;
  }
  ~ShmObject() {
    ::munmap(data_, bytes_);
    ::close(fd_);
    ::shm_unlink(key_.c_str());
  }
  ShmObject(const ShmObject&) = delete;
  ShmObject& operator=(const ShmObject&) = delete;

  const std::string& key() const noexcept { return key_; }
  float* floats() const noexcept { return static_cast<float*>(data_); }
  void truncate(std::size_t bytes) const {
    ASSERT_EQ(::ftruncate(fd_, static_cast<off_t>(bytes)), 0);
  }
  int fd() const noexcept { return fd_; }

 private:
  static inline int counter_ = 0;
  std::string key_;
  std::size_t bytes_;
  void* data_ = nullptr;
  int fd_ = -1;
};

std::string error_of(const RawReply& reply) {
  boost::system::error_code ec;
  const auto document = boost::json::parse(reply.body, ec);
  if (ec || !document.is_object() || !document.as_object().contains("error")) return reply.body;
  return std::string(document.at("error").as_string());
}

RawReply register_region(const std::filesystem::path& socket, const std::string& name,
                         const std::string& key, std::uint64_t byte_size,
                         std::uint64_t offset = 0) {
  return raw_request(
      socket, "POST", "/v2/systemsharedmemory/region/" + name + "/register",
      fmt::format(R"({{"key":"{}","offset":{},"byte_size":{}}})", key, offset, byte_size));
}

RawReply unregister_region(const std::filesystem::path& socket, const std::string& name) {
  return raw_request(socket, "POST", "/v2/systemsharedmemory/region/" + name + "/unregister", "{}");
}

// An infer request whose input x ([rows, cols] FP32) is in region `in`, and whose output y goes
// to region `out` (or comes back as JSON when `out` is empty).
std::string region_infer(const std::string& in, std::size_t rows, std::size_t cols,
                         const std::string& out = "", std::size_t out_offset = 0) {
  const auto bytes = rows * cols * 4;
  std::string outputs;
  if (!out.empty()) {
    outputs = fmt::format(R"(,"outputs":[{{"name":"y","parameters":{{"shared_memory_region":"{}",)"
                          R"("shared_memory_byte_size":{},"shared_memory_offset":{}}}}}])",
                          out, bytes, out_offset);
  }
  return fmt::format(R"({{"inputs":[{{"name":"x","datatype":"FP32","shape":[{},{}],"parameters":)"
                     R"({{"shared_memory_region":"{}","shared_memory_byte_size":{}}}}}]{}}})",
                     rows, cols, in, bytes, outputs);
}

std::vector<float> json_floats(const std::string& body, std::string_view output = "y") {
  const auto document = boost::json::parse(body);
  for (const auto& each : document.at("outputs").as_array()) {
    if (each.at("name").as_string() != output) continue;
    std::vector<float> out;
    for (const auto& value : each.at("data").as_array())
      out.push_back(static_cast<float>(value.to_number<double>()));
    return out;
  }
  return {};
}

// How many jobs the daemon has written into a worker's ring so far (its debug log).
std::size_t dispatched(const RunningDaemon& daemon) {
  return daemon.log_count(" dispatched");
}

bool wait_for_dispatch(const RunningDaemon& daemon, std::size_t before) {
  return daemon.wait_for_log(" dispatched", before + 1);
}

class SharedMemory_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemon_ = new RunningDaemon(
        model_entry("mlp", "mlp.pt", "[-1, 256]") + model_entry("slow", "slow.pt", "[-1, 1]"),
        "log_level: debug\nclient_shared_memory: true\nsocket_mode: \"0666\"\n");
    daemon_->start();
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(daemon_->stop().exit_code(), 0) << daemon_->log();
    delete daemon_;
    daemon_ = nullptr;
  }
  static const std::filesystem::path& socket() { return daemon_->socket(); }

  // The socket path still answers, on the same workers.
  static void expect_serving(const std::vector<pid_t>& workers) {
    const std::string body = fmt::format(
        R"({{"inputs":[{{"name":"x","datatype":"FP32","shape":[1,256],"data":[{}]}}]}})",
        fmt::join(std::vector<float>(256, 0.25f), ","));
    EXPECT_EQ(raw_request(socket(), "POST", "/v2/models/mlp/infer", body).status, 200u);
    EXPECT_EQ(daemon_->worker_pids(), workers);
  }

  static RunningDaemon* daemon_;
};
RunningDaemon* SharedMemory_test::daemon_ = nullptr;

TEST_F(SharedMemory_test, TheServerAdvertisesTheExtension) {
  const auto reply = raw_request(socket(), "GET", "/v2");
  ASSERT_EQ(reply.status, 200u);
  const auto extensions = boost::json::parse(reply.body).at("extensions").as_array();
  EXPECT_NE(
      std::find(extensions.begin(), extensions.end(), boost::json::value("system_shared_memory")),
      extensions.end())
      << reply.body;
  // No model has GPU workers here: no cuda_shared_memory, and its routes say why.
  EXPECT_EQ(
      std::find(extensions.begin(), extensions.end(), boost::json::value("cuda_shared_memory")),
      extensions.end())
      << reply.body;
  const auto cuda = raw_request(socket(), "POST", "/v2/cudasharedmemory/region/g/register",
                                R"({"raw_handle":{"b64":""},"device_id":0,"byte_size":64})");
  EXPECT_EQ(cuda.status, 404u);
  EXPECT_NE(error_of(cuda).find("no model has GPU workers"), std::string::npos) << cuda.body;
}

TEST_F(SharedMemory_test, RegistrationRefusesWhatItMustAndTheDaemonServesOn) {
  const auto workers = daemon_->worker_pids();
  ShmObject object(4096);
  // No such object.
  auto reply = register_region(socket(), "r1", object.key() + "_none", 4096);
  EXPECT_EQ(reply.status, 400u);
  EXPECT_NE(error_of(reply).find("no POSIX shared memory object"), std::string::npos) << reply.body;
  // The range leaves the object.
  reply = register_region(socket(), "r1", object.key(), 4096, 1);
  EXPECT_EQ(reply.status, 400u);
  EXPECT_NE(error_of(reply).find("does not fit"), std::string::npos) << reply.body;
  reply = register_region(socket(), "r1", object.key(), 0);
  EXPECT_EQ(reply.status, 400u);
  reply =
      register_region(socket(), "r1", object.key(), std::uint64_t{1} << 63, std::uint64_t{1} << 63);
  EXPECT_EQ(reply.status, 400u) << reply.body;
  // A symbolic link at the name, even to a good object.
  const std::string link_key = object.key() + "_link";
  const auto link_path = "/dev/shm" + link_key;
  ASSERT_EQ(::symlink(("/dev/shm" + object.key()).c_str(), link_path.c_str()), 0);
  reply = register_region(socket(), "r1", link_key, 4096);
  ::unlink(link_path.c_str());
  EXPECT_EQ(reply.status, 400u);
  EXPECT_NE(error_of(reply).find("symbolic link"), std::string::npos) << reply.body;
  // A FIFO at the name: not a shared memory object (and the daemon does not block on it).
  const std::string fifo_key = object.key() + "_fifo";
  ASSERT_EQ(::mkfifo(("/dev/shm" + fifo_key).c_str(), 0600), 0);
  reply = register_region(socket(), "r1", fifo_key, 4096);
  ::unlink(("/dev/shm" + fifo_key).c_str());
  EXPECT_EQ(reply.status, 400u) << reply.body;
  // The daemon's own segments.
  const auto segments = daemon_->leftover_segments();
  ASSERT_FALSE(segments.empty());
  reply = register_region(socket(), "r1", "/" + segments.front(), 4096);
  EXPECT_EQ(reply.status, 403u);
  EXPECT_NE(error_of(reply).find("own segments"), std::string::npos) << reply.body;
  // Keys that are not POSIX shm names, names with odd bytes, bodies that are not JSON.
  EXPECT_EQ(register_region(socket(), "r1", "/../etc/passwd", 4096).status, 400u);
  EXPECT_EQ(register_region(socket(), "r1", "relative", 4096).status, 400u);
  EXPECT_EQ(register_region(socket(), "r%20x", object.key(), 4096).status, 400u);
  EXPECT_EQ(
      raw_request(socket(), "POST", "/v2/systemsharedmemory/region/r1/register", "[1]").status,
      400u);
  EXPECT_EQ(raw_request(socket(), "POST", "/v2/systemsharedmemory/region/r1/register",
                        R"({"key":"/x","byte_size":-4})")
                .status,
            400u);
  // Then the good one, once.
  reply = register_region(socket(), "r1", object.key(), 4096);
  EXPECT_EQ(reply.status, 200u) << reply.body;
  reply = register_region(socket(), "r1", object.key(), 4096);
  EXPECT_EQ(reply.status, 400u);
  EXPECT_NE(error_of(reply).find("already registered"), std::string::npos) << reply.body;
  reply = raw_request(socket(), "GET", "/v2/systemsharedmemory/region/r1/status");
  ASSERT_EQ(reply.status, 200u);
  EXPECT_EQ(boost::json::parse(reply.body),
            boost::json::parse(fmt::format(
                R"([{{"name":"r1","key":"{}","offset":0,"byte_size":4096}}])", object.key())));
  EXPECT_EQ(unregister_region(socket(), "r1").status, 200u);
  EXPECT_EQ(unregister_region(socket(), "r1").status, 400u);
  EXPECT_EQ(raw_request(socket(), "GET", "/v2/systemsharedmemory/region/r1/status").status, 400u);
  expect_serving(workers);
}

TEST_F(SharedMemory_test, InputsAndOutputsInRegionsEqualTheSocketPath) {
  constexpr std::size_t kRows = 4;
  ShmObject in(kRows * 256 * 4), out(8192 + kRows * 256 * 4);
  std::vector<float> x(kRows * 256);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(i % 17) * 0.125f - 1.0f;
  std::memcpy(in.floats(), x.data(), x.size() * 4);
  ASSERT_EQ(register_region(socket(), "in", in.key(), kRows * 256 * 4).status, 200u);
  ASSERT_EQ(register_region(socket(), "out", out.key(), 8192 + kRows * 256 * 4).status, 200u);

  const auto by_socket = raw_request(
      socket(), "POST", "/v2/models/mlp/infer",
      fmt::format(R"({{"inputs":[{{"name":"x","datatype":"FP32","shape":[{},256],"data":[{}]}}]}})",
                  kRows, fmt::join(x, ",")));
  ASSERT_EQ(by_socket.status, 200u) << by_socket.body;
  const auto expected = json_floats(by_socket.body);

  // Output back as JSON, input from the region.
  auto reply =
      raw_request(socket(), "POST", "/v2/models/mlp/infer", region_infer("in", kRows, 256));
  ASSERT_EQ(reply.status, 200u) << reply.body;
  EXPECT_EQ(json_floats(reply.body), expected);
  // Both in regions, at an offset: the reply carries no data.
  reply = raw_request(socket(), "POST", "/v2/models/mlp/infer",
                      region_infer("in", kRows, 256, "out", 8192));
  ASSERT_EQ(reply.status, 200u) << reply.body;
  const auto output = boost::json::parse(reply.body).at("outputs").at(0).as_object();
  EXPECT_FALSE(output.contains("data"));
  EXPECT_EQ(output.at("shape"), boost::json::parse("[4,256]"));
  EXPECT_EQ(output.at("parameters").at("shared_memory_region"), "out");
  std::vector<float> placed(kRows * 256);
  std::memcpy(placed.data(), out.floats() + 8192 / 4, placed.size() * 4);
  EXPECT_EQ(placed, expected);

  // Wrong sizes are the client's error.
  reply = raw_request(socket(), "POST", "/v2/models/mlp/infer", region_infer("in", kRows + 1, 256));
  EXPECT_EQ(reply.status, 400u) << reply.body;
  reply = raw_request(socket(), "POST", "/v2/models/mlp/infer",
                      region_infer("in", kRows, 256, "out", 8193));
  EXPECT_EQ(reply.status, 400u) << reply.body;
  reply = raw_request(socket(), "POST", "/v2/models/mlp/infer", region_infer("nosuch", 1, 256));
  EXPECT_EQ(reply.status, 400u);
  EXPECT_NE(error_of(reply).find("nosuch"), std::string::npos) << reply.body;
  EXPECT_EQ(unregister_region(socket(), "in").status, 200u);
  EXPECT_EQ(unregister_region(socket(), "out").status, 200u);
}

TEST_F(SharedMemory_test, ARegionShrunkBeforeTheJobIsRefusedAndTheWorkerServesOn) {
  const auto workers = daemon_->worker_pids();
  ShmObject in(256 * 4);
  ASSERT_EQ(register_region(socket(), "shrunk", in.key(), 256 * 4).status, 200u);
  in.truncate(0);
  const auto reply =
      raw_request(socket(), "POST", "/v2/models/mlp/infer", region_infer("shrunk", 1, 256));
  EXPECT_EQ(reply.status, 400u);
  EXPECT_NE(error_of(reply).find("shrunk"), std::string::npos) << reply.body;
  EXPECT_EQ(unregister_region(socket(), "shrunk").status, 200u);
  expect_serving(workers);
}

// The slow model reads x at its start and again at its end: shrinking the object in between
// makes the second read fault (SIGBUS), which must fail this job alone.
TEST_F(SharedMemory_test, ARegionShrunkWhileTheJobReadsItFailsThatJobAlone) {
  const auto workers = daemon_->worker_pids();
  ShmObject in(4096);
  in.floats()[0] = 3000.0f;  // rounds
  ASSERT_EQ(register_region(socket(), "shrinking", in.key(), 4096).status, 200u);
  const auto before = dispatched(*daemon_);
  auto job = std::async(std::launch::async, [] {
    return raw_request(socket(), "POST", "/v2/models/slow/infer", region_infer("shrinking", 1, 1));
  });
  ASSERT_TRUE(wait_for_dispatch(*daemon_, before)) << daemon_->log();
  // The worker maps the region and reads x within microseconds of the dispatch; its 3000 rounds
  // last 0.3-6 s. A truncation before the mapping would fail at the mapping instead, with another
  // message: the one asserted below is the SIGBUS guard's.
  std::this_thread::sleep_for(50ms);
  in.truncate(0);
  const auto reply = job.get();
  EXPECT_EQ(reply.status, 400u) << reply.body;
  EXPECT_NE(error_of(reply).find("while the job used it"), std::string::npos) << reply.body;
  EXPECT_EQ(unregister_region(socket(), "shrinking").status, 200u);
  expect_serving(workers);
}

TEST_F(SharedMemory_test, UnregisterAnswersOnceNoJobUsesTheRegion) {
  using Clock = std::chrono::steady_clock;
  ShmObject in(4096);
  // 3000 rounds take 0.3-6 s on the CI VM but 0.16 s on the GPU host: a job too short to tell
  // the two answers apart runs again, ten times longer.
  for (const float rounds : {3000.0f, 30000.0f}) {
    in.floats()[0] = rounds;
    const std::string name = fmt::format("busy{}", rounds);
    ASSERT_EQ(register_region(socket(), name, in.key(), 4096).status, 200u);
    const auto before = dispatched(*daemon_);
    const auto sent = Clock::now();
    auto job = std::async(std::launch::async, [&name] {
      auto reply = raw_request(socket(), "POST", "/v2/models/slow/infer", region_infer(name, 1, 1));
      return std::pair(reply, Clock::now());
    });
    ASSERT_TRUE(wait_for_dispatch(*daemon_, before)) << daemon_->log();  // the job holds it now
    const auto unregistered = unregister_region(socket(), name);
    const auto unregistered_at = Clock::now();
    const auto [reply, answered_at] = job.get();
    EXPECT_EQ(reply.status, 200u) << reply.body;
    EXPECT_EQ(unregistered.status, 200u) << unregistered.body;
    // The two answers leave the daemon one after the other; the clients' threads may wake in
    // either order, so allow the unregister answer a little head start, far less than the job.
    EXPECT_GE(unregistered_at + 50ms, answered_at)
        << "unregister answered while the job still used the region";
    // Gone for new jobs.
    const auto after =
        raw_request(socket(), "POST", "/v2/models/slow/infer", region_infer(name, 1, 1));
    EXPECT_EQ(after.status, 400u);
    if (answered_at - sent > 200ms) return;
  }
  ADD_FAILURE() << "even 30000 rounds of the slow model took under 200 ms: too short to tell";
}

// A client process that registers a region, sends a long job through it and dies: the daemon
// serves on, and the region stays until it is unregistered.
TEST_F(SharedMemory_test, AClientKilledWhileItsJobRunsLeavesTheDaemonServing) {
  const auto workers = daemon_->worker_pids();
  ShmObject in(4096);
  in.floats()[0] = 3000.0f;
  ASSERT_EQ(register_region(socket(), "orphan", in.key(), 4096).status, 200u);
  const std::string body = region_infer("orphan", 1, 1);
  const std::string request = fmt::format(
      "POST /v2/models/slow/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\n\r\n{}",
      body.size(), body);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket().c_str(), sizeof(address.sun_path) - 1);
  const auto before = dispatched(*daemon_);
  const pid_t child = ::fork();
  if (child == 0) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0)
      ::_exit(3);
    if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size()))
      ::_exit(4);
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(child, 0);
  EXPECT_TRUE(wait_for_dispatch(*daemon_, before)) << daemon_->log();  // its job runs
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  const auto status = raw_request(socket(), "GET", "/v2/systemsharedmemory/status");
  EXPECT_NE(status.body.find("orphan"), std::string::npos) << status.body;
  EXPECT_EQ(unregister_region(socket(), "orphan").status, 200u);
  expect_serving(workers);
}

// As root: a forked child with another uid speaks raw HTTP over the socket (mode 0666).
unsigned status_as(const std::filesystem::path& socket, uid_t uid, const std::string& method,
                   const std::string& target, const std::string& body, std::string* reply_body) {
  const std::string request = fmt::format(
      "{} {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
      "Connection: close\r\n\r\n{}",
      method, target, body.size(), body);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket.c_str(), sizeof(address.sun_path) - 1);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return 0;
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
        ::setresuid(uid, uid, uid) != 0)
      ::_exit(2);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0)
      ::_exit(3);
    if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size()))
      ::_exit(4);
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) {
      if (::write(out[1], buffer, static_cast<std::size_t>(n)) != n) ::_exit(5);
    }
    ::_exit(0);
  }
  ::close(out[1]);
  std::string reply;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(out[0], buffer, sizeof(buffer))) > 0)
    reply.append(buffer, static_cast<std::size_t>(n));
  ::close(out[0]);
  ::waitpid(child, nullptr, 0);
  if (reply.rfind("HTTP/1.1 ", 0) != 0) return 0;
  if (reply_body) {
    const auto end = reply.find("\r\n\r\n");
    *reply_body = end == std::string::npos ? "" : reply.substr(end + 4);
  }
  return static_cast<unsigned>(std::stoul(reply.substr(9, 3)));
}

TEST_F(SharedMemory_test, OneUidCannotSeeUseOrUnregisterAnothersRegions) {
  if (::geteuid() != 0) GTEST_SKIP() << "playing another uid needs root";
  constexpr uid_t kOther = 12345;
  ShmObject mine(4096);
  ASSERT_EQ(register_region(socket(), "mine", mine.key(), 4096).status, 200u);
  std::string body;
  EXPECT_EQ(status_as(socket(), kOther, "GET", "/v2/systemsharedmemory/status", "", &body), 200u);
  EXPECT_EQ(boost::json::parse(body), boost::json::array()) << body;
  EXPECT_EQ(status_as(socket(), kOther, "POST", "/v2/models/mlp/infer",
                      region_infer("mine", 1, 256), &body),
            400u)
      << body;
  EXPECT_EQ(status_as(socket(), kOther, "POST", "/v2/systemsharedmemory/region/mine/unregister",
                      "{}", &body),
            400u);
  // Registering root's object as its own.
  EXPECT_EQ(status_as(socket(), kOther, "POST", "/v2/systemsharedmemory/region/stolen/register",
                      fmt::format(R"({{"key":"{}","byte_size":4096}})", mine.key()), &body),
            403u)
      << body;
  // Its own object, under the same name as root's: no shadowing either way.
  ShmObject theirs(4096, "theirs");
  ASSERT_EQ(::fchown(theirs.fd(), kOther, 65534), 0);
  EXPECT_EQ(status_as(socket(), kOther, "POST", "/v2/systemsharedmemory/region/mine/register",
                      fmt::format(R"({{"key":"{}","byte_size":4096}})", theirs.key()), &body),
            200u)
      << body;
  auto status = raw_request(socket(), "GET", "/v2/systemsharedmemory/region/mine/status");
  EXPECT_NE(status.body.find(mine.key()), std::string::npos) << status.body;
  EXPECT_EQ(status_as(socket(), kOther, "POST", "/v2/systemsharedmemory/unregister", "{}", &body),
            200u);
  EXPECT_EQ(unregister_region(socket(), "mine").status, 200u);
}

TEST(SharedMemoryOff_test, WithoutTheSettingNothingIsOffered) {
  RunningDaemon daemon(model_entry("mlp", "mlp.pt", "[-1, 256]"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  EXPECT_EQ(raw_request(daemon.socket(), "GET", "/v2").body.find("shared_memory"),
            std::string::npos);
  ShmObject object(4096);
  EXPECT_EQ(register_region(daemon.socket(), "r", object.key(), 4096).status, 404u);
  const auto reply =
      raw_request(daemon.socket(), "POST", "/v2/models/mlp/infer", region_infer("r", 1, 256));
  EXPECT_EQ(reply.status, 400u);
  EXPECT_NE(error_of(reply).find("client_shared_memory"), std::string::npos) << reply.body;
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

}  // namespace
}  // namespace infervisor::testing
