// Supervision end to end (issue 7): every accepted job gets exactly one answer through worker
// crashes, poison inputs, hangs, models that cannot load, unloads and recycling. The real daemon,
// workers and test-op models (tests/ops/test_ops.hpp), driven through the socket.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <boost/json.hpp>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "raw_http.hpp"
#include "running_daemon.hpp"
#include "test_tensors.hpp"
#include "tests/ops/test_ops.hpp"

namespace infervisor::testing {
namespace {

using namespace std::chrono_literals;
using test_ops::model_output;

struct Outcome {
  unsigned status = 0;
  std::string message;
  std::vector<float> y;
};

Outcome infer(client::Client& client, const std::string& model, const std::vector<float>& x) {
  client::InferRequest request;
  request.model = model;
  request.inputs.push_back(floats({static_cast<std::int64_t>(x.size() / 4), 4}, x));
  request.binary = true;
  try {
    const auto result = client.infer(request);
    return {200, "", values_of(result.outputs.at(0))};
  } catch (const client::HttpError& error) {
    return {error.status(), error.server_message(), {}};
  }
}

std::vector<float> expected_y(const std::vector<float>& x) {
  std::vector<float> y;
  for (float v : x)
    y.push_back(model_output(v));
  return y;
}

template <class Condition>
bool eventually(Condition condition, std::chrono::seconds limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

bool log_has(const RunningDaemon& daemon, const std::string& text) {
  return daemon.log().find(text) != std::string::npos;
}

// The state and reason the repository index gives `model`.
std::pair<std::string, std::string> index_state(client::Client& client, const std::string& model) {
  try {
    for (const auto& entry : client.repository_index()) {
      if (entry.name == model) return {entry.state, entry.reason};
    }
  } catch (const std::exception& error) {
    return {"(unreachable)", error.what()};  // not listening yet
  }
  return {"(missing)", ""};
}

// Runs `jobs` jobs from `clients` threads; each job's input is distinct so its answer proves it
// is its own. Returns how many got each status; every job must be answered exactly once (the
// client returns once per request, and a wrong output counts as status 1).
std::map<unsigned, int> run_jobs(
    const RunningDaemon& daemon, const std::string& model, int clients, int jobs_per_client,
    std::string* sample_error, const std::function<bool()>& more = [] { return false; }) {
  std::mutex mutex;
  std::map<unsigned, int> counts;
  std::vector<std::future<void>> threads;
  for (int t = 0; t < clients; ++t) {
    threads.push_back(std::async(std::launch::async, [&, t] {
      auto client = daemon.client(120s);
      std::mt19937 random(static_cast<unsigned>(t));
      std::uniform_int_distribution<int> value(-50, 50);
      for (int j = 0; j < jobs_per_client || more(); ++j) {
        std::vector<float> x(4);
        for (auto& v : x)
          v = static_cast<float>(value(random));
        const auto outcome = infer(client, model, x);
        std::lock_guard lock(mutex);
        if (outcome.status == 200 && outcome.y != expected_y(x)) {
          ++counts[1];
        } else {
          ++counts[outcome.status];
        }
        if (outcome.status != 200 && sample_error && sample_error->size() < 2000)
          *sample_error += fmt::format("[{}] {}\n", outcome.status, outcome.message);
      }
    }));
  }
  for (auto& thread : threads)
    thread.get();
  return counts;
}

// 16 clients, 2,000 jobs, a random worker (starting or ready) SIGKILLed every 200 ms. The values
// below are what lets the killer alone never fail the model: up to 20 kills in 4 s count as
// deaths, so max_restarts must be above that, a job can land on several doomed workers in a row,
// and a backoff that grows to seconds would make the run slow, not less right.
constexpr const char* kChaosSettings =
    "    instances: {count: 2}\n"
    "    max_restarts: 1000\n"
    "    max_job_retries: 50\n"
    "    restart_backoff_initial: 50ms\n"
    "    restart_backoff_max: 200ms\n";

std::map<unsigned, int> chaos(const std::string& policy, std::string* sample_error,
                              std::atomic<int>* kills) {
  RunningDaemon daemon(test_op_model("poison", "poison.pt",
                                     kChaosSettings + ("    on_worker_death: " + policy + "\n")));
  daemon.start();
  EXPECT_TRUE(daemon.wait_ready()) << daemon.log();
  std::atomic<bool> done{false};
  // Every 200 ms a random worker that has reported READY (per the daemon's log), and every
  // fourth time one still starting if there is one: a worker takes longer than 200 ms to load,
  // so killing starting ones as often would leave no worker to serve at all.
  auto killer = std::async(std::launch::async, [&] {
    std::mt19937 random(42);
    for (int round = 0; !done; ++round) {
      std::this_thread::sleep_for(200ms);
      const auto log = daemon.log();
      std::vector<pid_t> ready, starting;
      for (const pid_t pid : daemon.worker_pids()) {
        const bool is_ready = log.find(fmt::format("(pid {}): ready in", pid)) != std::string::npos;
        (is_ready ? ready : starting).push_back(pid);
      }
      // (Only while another worker serves: under a sanitizer a start takes seconds, and killing
      // every start would leave nothing to serve the jobs.)
      auto& pool = round % 4 == 3 && !starting.empty() && !ready.empty() ? starting : ready;
      if (pool.empty()) continue;
      if (::kill(pool[random() % pool.size()], SIGKILL) == 0) ++*kills;
    }
  });
  // At least 2,000 jobs, and on until the killer has struck 10 times.
  const auto counts =
      run_jobs(daemon, "poison", 16, 125, sample_error, [&] { return kills->load() < 10; });
  done = true;
  killer.get();
  EXPECT_EQ(daemon.stop().exit_code(), 0) << daemon.log();
  return counts;
}

TEST(Supervision_test, ChaosWithRetryAnswersEveryJobRight) {
  std::string error;
  std::atomic<int> kills = 0;
  const auto counts = chaos("retry", &error, &kills);
  int total = 0;
  for (const auto& [status, count] : counts)
    total += count;
  std::printf(
      "chaos, on_worker_death: retry: %d jobs, %d workers killed: %d answered 200, %d "
      "otherwise\n",
      total, kills.load(), counts.count(200) ? counts.at(200) : 0,
      total - (counts.count(200) ? counts.at(200) : 0));
  EXPECT_GE(total, 2000);
  EXPECT_GE(kills.load(), 10);
  EXPECT_EQ(counts.count(200) ? counts.at(200) : 0, total) << "first error: " << error;
}

TEST(Supervision_test, ChaosWithFailAnswersEachJobOnceWithItsResultOrItsWorkersDeath) {
  std::string error;
  std::atomic<int> kills = 0;
  const auto counts = chaos("fail", &error, &kills);
  std::printf("first: %s\n", error.substr(0, error.find('\n')).c_str());
  int total = 0;
  for (const auto& [status, count] : counts)
    total += count;
  const int ok = counts.count(200) ? counts.at(200) : 0;
  const int died = counts.count(500) ? counts.at(500) : 0;
  std::printf(
      "chaos, on_worker_death: fail: %d jobs, %d workers killed: %d answered 200, %d "
      "answered 500 naming the death, %d otherwise\n",
      total, kills.load(), ok, died, total - ok - died);
  EXPECT_GE(total, 2000);
  EXPECT_EQ(ok + died, total);
  EXPECT_GT(ok, 0);
  if (died > 0) {
    EXPECT_NE(error.find("killed by signal 9"), std::string::npos) << error;
  }
}

TEST(Supervision_test, APoisonInputFailsAloneAndTheJobsBesideItSucceed) {
  RunningDaemon daemon(test_op_model("poison", "poison.pt",
                                     "    max_inflight: 16\n    restart_backoff_initial: 50ms\n"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  // The 16 go out at once; the ones in the worker's ring when the poison kills it are retried,
  // each alone, and the poison once more.
  std::vector<std::future<Outcome>> jobs;
  for (int i = 0; i < 16; ++i) {
    jobs.push_back(std::async(std::launch::async, [&, i] {
      auto client = daemon.client();
      const float v = i == 7 ? test_ops::kKillValue : static_cast<float>(i);
      return infer(client, "poison", {v, 1, 2, 3});
    }));
  }
  int ok = 0;
  for (int i = 0; i < 16; ++i) {
    const auto outcome = jobs[i].get();
    if (i == 7) {
      EXPECT_EQ(outcome.status, 500u);
      EXPECT_NE(outcome.message.find("the worker died each of the 2 times this job ran"),
                std::string::npos)
          << outcome.message;
    } else {
      EXPECT_EQ(outcome.status, 200u) << i << ": " << outcome.message;
      EXPECT_EQ(outcome.y, expected_y({static_cast<float>(i), 1, 2, 3}));
      ok += outcome.status == 200;
    }
  }
  std::printf("poison among 16 jobs: the poison failed alone, %d of 15 others succeeded\n", ok);
  auto client = daemon.client();
  EXPECT_EQ(infer(client, "poison", {1, 2, 3, 4}).status, 200u);
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Supervision_test, AHangingJobGets504AfterJobTimeoutAndItsWorkerIsReplaced) {
  // (job_timeout counts queue time: the job after the hung one waits for the replacement to load.)
  RunningDaemon daemon(test_op_model("hang", "hang.pt", "    job_timeout: 3s\n"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto before = daemon.worker_pids();
  ASSERT_EQ(before.size(), 1u);
  auto client = daemon.client();
  const auto hung = infer(client, "hang", {test_ops::kHangValue, 0, 0, 0});
  EXPECT_EQ(hung.status, 504u) << hung.message;
  EXPECT_NE(hung.message.find("job_timeout"), std::string::npos) << hung.message;
  // The next job waits for the replacement, then is answered.
  // (The killed worker no longer counts as ready: this waits for its replacement.)
  ASSERT_TRUE(eventually([&] { return client.model_ready("hang"); }, 120s)) << daemon.log();
  const auto later = infer(client, "hang", {1, 2, 3, 4});
  EXPECT_EQ(later.status, 200u) << later.message;
  EXPECT_EQ(later.y, expected_y({1, 2, 3, 4}));
  const auto after = daemon.worker_pids();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0], before[0]);
  EXPECT_TRUE(log_has(daemon, "ran past job_timeout")) << daemon.log();
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Supervision_test, AClientTimeoutAnswers504WithoutKillingTheWorker) {
  RunningDaemon daemon(test_op_model("hang", "hang.pt", "    job_timeout: 60s\n"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto before = daemon.worker_pids();
  // {"parameters": {"timeout": 300000}} (microseconds, as Triton's) on a job that never returns.
  const std::string body =
      R"({"parameters":{"timeout":300000},"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],)"
      R"("data":[777,0,0,0]}]})";
  const auto reply = raw_request(daemon.socket(), "POST", "/v2/models/hang/infer", body);
  EXPECT_EQ(reply.status, 504u) << reply.body;
  EXPECT_NE(reply.body.find("timeout of 300 ms"), std::string::npos) << reply.body;
  EXPECT_EQ(daemon.worker_pids(), before);  // only job_timeout kills a worker
  daemon.kill_hard();
}

TEST(Supervision_test, QueuedJobsWaitForTheReplacementOfAKilledWorker) {
  RunningDaemon daemon(
      test_op_model("poison", "poison.pt", "    restart_backoff_initial: 300ms\n"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto workers = daemon.worker_pids();
  ASSERT_EQ(workers.size(), 1u);
  ASSERT_EQ(::kill(workers[0], SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return log_has(daemon, "killed by signal 9"); })) << daemon.log();
  // No worker is ready now: the jobs wait for the replacement instead of failing.
  auto client = daemon.client();
  EXPECT_FALSE(client.model_ready("poison"));
  const auto outcome = infer(client, "poison", {1, 2, 3, 4});
  EXPECT_EQ(outcome.status, 200u) << outcome.message;
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Supervision_test, AJobQueuedPastQueueTimeoutGets503WithRetryAfter) {
  RunningDaemon daemon(test_op_model("hang", "hang.pt",
                                     "    queue_timeout: 300ms\n    max_inflight: 1\n"
                                     "    job_timeout: 30s\n"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  auto blocker = std::async(std::launch::async, [&] {
    auto client = daemon.client();
    return infer(client, "hang", {test_ops::kHangValue, 0, 0, 0});
  });
  ASSERT_TRUE(eventually([&] { return log_has(daemon, "infervisor_test::hang"); })) << daemon.log();
  const std::string body =
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]})";
  const auto reply = raw_request(daemon.socket(), "POST", "/v2/models/hang/infer", body);
  EXPECT_EQ(reply.status, 503u) << reply.body;
  EXPECT_TRUE(reply.headers.count("retry-after") || reply.headers.count("Retry-After"));
  EXPECT_NE(reply.body.find("queue_timeout"), std::string::npos) << reply.body;
  daemon.kill_hard();
  blocker.wait();
}

TEST(Supervision_test, AModelThatCannotLoadIsFailedEverywhereAndLoadStartsItAgain) {
  const auto file = std::filesystem::temp_directory_path() / fmt::format("late-{}.pt", ::getpid());
  std::ofstream(file) << "not yet a TorchScript archive";
  RunningDaemon daemon("  - name: late\n    path: " + file.string() +
                           "\n    max_restarts: 2\n    restart_backoff_initial: 20ms\n"
                           "    inputs: [{name: x, dtype: FP32, shape: [-1, 256]}]\n"
                           "    outputs: [{name: y, dtype: FP32, shape: [-1, 256]}]\n"
                           "  - name: mlp\n    path: " +
                           (models_dir() / "mlp.pt").string() +
                           "\n    inputs: [{name: x, dtype: FP32, shape: [-1, 256]}]\n"
                           "    outputs: [{name: y, dtype: FP32, shape: [-1, 256]}]\n",
                       "exit_on_error: false\n");
  daemon.start();
  auto client = daemon.client();
  ASSERT_TRUE(eventually([&] { return index_state(client, "late").first == "FAILED"; }, 120s))
      << daemon.log();
  const auto [state, reason] = index_state(client, "late");
  EXPECT_NE(reason.find("3 worker deaths"), std::string::npos) << reason;
  EXPECT_NE(reason.find("late-"), std::string::npos) << reason;  // the worker's own words
  // The other model serves; the failed one says why, in every place a user looks.
  EXPECT_EQ(index_state(client, "mlp").first, "READY");
  EXPECT_FALSE(client.server_ready());
  std::string message;
  client::InferRequest request;
  request.model = "late";
  request.inputs.push_back({"x", DType::kFloat32, {1, 256}, std::vector<std::byte>(1024)});
  try {
    client.infer(request);
    ADD_FAILURE() << "a FAILED model answered";
  } catch (const client::HttpError& error) {
    EXPECT_EQ(error.status(), 503u);
    EXPECT_NE(error.server_message().find("FAILED"), std::string::npos);
  }
  const auto metadata = raw_request(daemon.socket(), "GET", "/v2/models/late");
  EXPECT_NE(metadata.body.find(R"("state":"FAILED")"), std::string::npos) << metadata.body;
  EXPECT_TRUE(log_has(daemon, "is FAILED")) << daemon.log();

  // A good file in its place, and `infervisorctl load`: it serves.
  std::filesystem::copy_file(models_dir() / "mlp.pt", file,
                             std::filesystem::copy_options::overwrite_existing);
  const auto loaded = ChildProcess::spawn(bin_dir() / "infervisorctl",
                                          {"--socket", daemon.socket().string(), "load", "late"})
                          .wait();
  EXPECT_TRUE(loaded.success()) << loaded.describe() << daemon.log();
  EXPECT_EQ(index_state(client, "late").first, "READY");
  EXPECT_EQ(client.infer(request).outputs.size(), 1u);
  EXPECT_TRUE(client.server_ready());
  EXPECT_EQ(daemon.stop().exit_code(), 0);
  std::filesystem::remove(file);
}

TEST(Supervision_test, UnloadDrainsAndStopsAModelWhichThenAnswers503) {
  RunningDaemon daemon(test_op_model("poison", "poison.pt", "    instances: {count: 2}\n"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  auto client = daemon.client();
  client.unload_model("poison");
  EXPECT_EQ(index_state(client, "poison").first, "UNAVAILABLE");
  EXPECT_TRUE(daemon.worker_pids().empty());
  const auto refused = infer(client, "poison", {1, 2, 3, 4});
  EXPECT_EQ(refused.status, 503u);
  EXPECT_NE(refused.message.find("UNAVAILABLE"), std::string::npos) << refused.message;
  EXPECT_TRUE(client.server_ready());  // an unloaded model does not make the server unready
  client.load_model("poison");
  EXPECT_EQ(infer(client, "poison", {1, 2, 3, 4}).status, 200u);
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Supervision_test, RecyclingAfterNJobsUnderSteadyTrafficFailsNoJob) {
  RunningDaemon daemon(test_op_model("poison", "poison.pt",
                                     "    instances: {count: 2}\n    max_jobs_per_worker: 40\n"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto before = daemon.worker_pids();
  std::string error;
  const auto counts = run_jobs(daemon, "poison", 8, 50, &error);
  EXPECT_EQ(counts.size(), 1u) << "first error: " << error;
  EXPECT_EQ(counts.count(200) ? counts.at(200) : 0, 400);
  EXPECT_TRUE(log_has(daemon, "max_jobs_per_worker")) << daemon.log();
  EXPECT_NE(daemon.worker_pids(), before);
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer's shadow memory is anonymous memory too: a worker starts far above 200 MiB.
constexpr const char* kRssLimit = "1GiB";
#else
constexpr const char* kRssLimit = "200MiB";
#endif

TEST(Supervision_test, ALeakingWorkerIsRecycledByMaxWorkerRssWithoutFailingAJob) {
  RunningDaemon daemon(
      test_op_model("leak", "leak.pt",
                    fmt::format("    max_worker_rss: {}\n    recycle: drain_first\n", kRssLimit)));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  auto client = daemon.client();
  int ok = 0;
  // Each call keeps 16 MiB; the daemon looks at RssAnon once a second.
  for (int i = 0; i < 200 && !log_has(daemon, "max_worker_rss"); ++i) {
    ok += infer(client, "leak", {1, 2, 3, 4}).status == 200;
    std::this_thread::sleep_for(20ms);  // pacing for the 1 s memory check, not synchronization
  }
  EXPECT_TRUE(log_has(daemon, "max_worker_rss")) << daemon.log();
  for (int i = 0; i < 5; ++i)
    ok += infer(client, "leak", {1, 2, 3, 4}).status == 200;
  EXPECT_TRUE(eventually([&] { return log_has(daemon, "worker 0: replaced"); }, 120s))
      << daemon.log();
  EXPECT_EQ(infer(client, "leak", {1, 2, 3, 4}).status, 200u);
  EXPECT_GT(ok, 5);
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

}  // namespace
}  // namespace infervisor::testing

namespace infervisor::testing {
namespace {

TEST(Supervision_test, LoadingAReadyModelAgainReplacesItsWorkersWithoutFailingAJob) {
  // The model file is a copy, as a user's would be: load picks up whatever is there now.
  const auto file =
      std::filesystem::temp_directory_path() / fmt::format("reload-{}.pt", ::getpid());
  std::filesystem::copy_file(models_dir() / "poison.pt", file,
                             std::filesystem::copy_options::overwrite_existing);
  RunningDaemon daemon("  - name: poison\n    path: " + file.string() + "\n    libraries: [" +
                       std::string(INFERVISOR_TEST_OPS_LIBRARY) +
                       "]\n    instances: {count: 2}\n"
                       "    inputs: [{name: x, dtype: FP32, shape: [-1, 4]}]\n"
                       "    outputs: [{name: y, dtype: FP32, shape: [-1, 4]}]\n");
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto before = daemon.worker_pids();
  std::atomic<bool> loaded{false};
  std::string error;
  auto traffic = std::async(std::launch::async, [&] {
    return run_jobs(daemon, "poison", 4, 20, &error, [&] { return !loaded.load(); });
  });
  auto client = daemon.client(120s);
  client.load_model("poison");  // returns once both workers are fresh
  loaded = true;
  const auto counts = traffic.get();
  EXPECT_EQ(counts.size(), 1u) << "first error: " << error;
  EXPECT_TRUE(counts.count(200));
  const auto after = daemon.worker_pids();
  ASSERT_EQ(after.size(), 2u);
  for (const pid_t pid : after)
    EXPECT_EQ(std::count(before.begin(), before.end(), pid), 0) << "worker " << pid << " is old";
  EXPECT_EQ(daemon.stop().exit_code(), 0);
  std::filesystem::remove(file);
}

TEST(Supervision_test, QueuedBytesBeyondMaxQueuedBytesAre503) {
  RunningDaemon daemon(
      test_op_model("hang", "hang.pt", "    max_inflight: 1\n    job_timeout: 30s\n"),
      "max_queued_bytes: 4096\nlog_level: debug\n");
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  auto blocker = std::async(std::launch::async, [&] {
    auto client = daemon.client();
    return infer(client, "hang", {test_ops::kHangValue, 0, 0, 0});
  });
  ASSERT_TRUE(eventually([&] { return log_has(daemon, "infervisor_test::hang"); })) << daemon.log();
  // A JSON body of about 3,000 bytes (padded with spaces) waits in the queue...
  const std::string body =
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]})" +
      std::string(3000, ' ');
  auto queued = std::async(std::launch::async, [&] {
    return raw_request(daemon.socket(), "POST", "/v2/models/hang/infer", body);
  });
  ASSERT_TRUE(eventually([&] { return log_has(daemon, "job 2: queued"); })) << daemon.log();
  // ...so a second one would pass 4,096 bytes: refused at once, naming the key.
  const auto refused = raw_request(daemon.socket(), "POST", "/v2/models/hang/infer", body);
  EXPECT_EQ(refused.status, 503u) << refused.body;
  EXPECT_NE(refused.body.find("max_queued_bytes"), std::string::npos) << refused.body;
  daemon.kill_hard();
  blocker.wait();
  queued.wait();
}

}  // namespace
}  // namespace infervisor::testing
