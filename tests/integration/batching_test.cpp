// Dynamic batching end to end (issue 11): many clients' batch-1 jobs run as shared forwards, and
// every client still gets exactly its own rows, its own id and its own error. The real daemon and
// workers on the example and test models, driven through the socket.
#include <gtest/gtest.h>

#include <barrier>
#include <boost/json.hpp>
#include <cmath>
#include <future>
#include <thread>

#include "raw_http.hpp"
#include "running_daemon.hpp"
#include "test_tensors.hpp"
#include "tests/ops/test_ops.hpp"

namespace infervisor::testing {
namespace {

using namespace std::chrono_literals;

// A `models:` entry on one CPU worker; `extra` lines are indented four spaces.
std::string entry(const std::string& name, const std::string& file, const std::string& shape,
                  const std::string& extra) {
  return "  - name: " + name + "\n    path: " + (models_dir() / file).string() +
         "\n    instances: {count: 1, device: cpu}\n" + extra +
         "    inputs: [{name: x, dtype: FP32, shape: " + shape + "}]\n" +
         "    outputs: [{name: y, dtype: FP32, shape: " + shape + "}]\n";
}

std::string batching(int max_batch_size, const std::string& delay) {
  return "    dynamic_batching: {max_batch_size: " + std::to_string(max_batch_size) +
         ", max_queue_delay: " + delay + "}\n";
}

struct Answer {
  unsigned status = 0;
  std::string message;
  std::string id;
  std::vector<std::int64_t> shape;
  std::vector<float> y;
};

Answer infer(client::Client& client, const std::string& model, client::Tensor x,
             const std::string& id = "", std::vector<std::string> outputs = {}) {
  client::InferRequest request;
  request.model = model;
  request.id = id;
  request.inputs.push_back(std::move(x));
  request.outputs = std::move(outputs);
  try {
    const auto result = client.infer(request);
    return {200, "", result.id, result.outputs.at(0).shape, values_of(result.outputs.at(0))};
  } catch (const client::HttpError& error) {
    return {error.status(), error.server_message(), "", {}, {}};
  }
}

boost::json::object stats_of(const RunningDaemon& daemon, const std::string& model) {
  const auto reply = raw_request(daemon.socket(), "GET", "/v2/models/" + model + "/stats");
  EXPECT_EQ(reply.status, 200u) << reply.body;
  return boost::json::parse(reply.body).at("model_stats").at(0).as_object();
}

std::uint64_t number(const boost::json::value& value) {
  return value.to_number<std::uint64_t>();
}

// Rows of the executions in batch_stats with more than one row.
std::uint64_t batched_executions(const boost::json::object& stats) {
  std::uint64_t executions = 0;
  for (const auto& batch : stats.at("batch_stats").as_array()) {
    if (number(batch.at("batch_size")) > 1)
      executions += number(batch.at("compute_infer").at("count"));
  }
  return executions;
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++count;
  return count;
}

// Runs `clients` threads that start together, each with its own connection: `each(client,
// index)` returns how many of its answers were right; the sum of those.
template <class Each>
int run_clients_at_once(const RunningDaemon& daemon, int clients, Each each) {
  std::barrier start(clients);
  std::vector<std::future<int>> running;
  for (int c = 0; c < clients; ++c) {
    running.push_back(std::async(std::launch::async, [&, c] {
      auto client = daemon.client();
      start.arrive_and_wait();
      return each(client, c);
    }));
  }
  int right = 0;
  for (auto& one : running)
    right += one.get();
  return right;
}

// `jobs` requests to `model` sent at once, each on its own connection, input `x_of(i)` for the
// i-th; their answers in that order.
template <class Input>
std::vector<Answer> infer_at_once(const RunningDaemon& daemon, const std::string& model, int jobs,
                                  Input x_of) {
  std::vector<std::future<Answer>> running;
  for (int i = 0; i < jobs; ++i) {
    running.push_back(std::async(std::launch::async, [&, i] {
      auto client = daemon.client();
      return infer(client, model, x_of(i));
    }));
  }
  std::vector<Answer> answers;
  for (auto& one : running)
    answers.push_back(one.get());
  return answers;
}

// Client `client`'s input in round `round`: one row of 256 values no other client sends.
std::vector<float> mlp_input(int client, int round) {
  std::vector<float> x(256);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = std::sin(static_cast<float>(client * 977 + round * 131 + static_cast<int>(i)) * 0.01f);
  return x;
}

TEST(Batching_test, SixtyFourClientsEachGetTheirOwnRowsOfSharedForwards) {
  RunningDaemon daemon(entry("mlp", "mlp.pt", "[-1, 256]", batching(64, "2ms")) +
                       entry("mlp_alone", "mlp.pt", "[-1, 256]", ""));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  constexpr int kClients = 64;
  constexpr int kRounds = 5;
  // The unbatched answers first, one job at a time.
  std::vector<std::vector<std::vector<float>>> expected(kClients);
  {
    auto client = daemon.client();
    for (int c = 0; c < kClients; ++c) {
      for (int r = 0; r < kRounds; ++r) {
        const auto answer = infer(client, "mlp_alone", floats({1, 256}, mlp_input(c, r)));
        ASSERT_EQ(answer.status, 200u) << answer.message;
        expected[c].push_back(answer.y);
      }
    }
  }
  const int right = run_clients_at_once(daemon, kClients, [&](client::Client& client, int c) {
    int right = 0;
    for (int r = 0; r < kRounds; ++r) {
      const std::string id = fmt::format("client-{}-round-{}", c, r);
      const auto answer = infer(client, "mlp", floats({1, 256}, mlp_input(c, r)), id);
      EXPECT_EQ(answer.status, 200u) << answer.message;
      EXPECT_EQ(answer.id, id);
      EXPECT_EQ(answer.shape, (std::vector<std::int64_t>{1, 256}));
      if (answer.y.size() != 256) continue;
      bool same = true;
      for (std::size_t i = 0; i < 256; ++i) {
        // A batched matrix product may sum in another order: equal to rounding.
        same &= std::abs(answer.y[i] - expected[c][r][i]) <=
                1e-5f + 1e-5f * std::abs(expected[c][r][i]);
      }
      EXPECT_TRUE(same) << id << " did not get its own rows";
      right += same;
    }
    return right;
  });
  EXPECT_EQ(right, kClients * kRounds);
  const auto stats = stats_of(daemon, "mlp");
  const auto inferences = number(stats.at("inference_count"));
  const auto executions = number(stats.at("execution_count"));
  std::printf("64 clients x %d jobs of 1 row: %llu inferences in %llu executions\n", kRounds,
              static_cast<unsigned long long>(inferences),
              static_cast<unsigned long long>(executions));
  EXPECT_EQ(inferences, static_cast<std::uint64_t>(kClients * kRounds));
  EXPECT_LT(executions, inferences);
  EXPECT_GT(batched_executions(stats), 0u);
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Batching_test, JobsOfDifferentShapesAreNeverStackedTogether) {
  RunningDaemon daemon(entry("identity", "identity.pt", "[-1, -1]", batching(16, "5ms")));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  constexpr int kClients = 32;
  const int right = run_clients_at_once(daemon, kClients, [&](client::Client& client, int c) {
    int right = 0;
    for (int r = 0; r < 4; ++r) {
      // Half the clients send rows of 3, half rows of 5, some of them two rows at once.
      const std::int64_t width = c % 2 == 0 ? 3 : 5;
      const std::int64_t rows = c % 3 == 0 ? 2 : 1;
      std::vector<float> x(static_cast<std::size_t>(rows * width));
      for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = static_cast<float>(c * 1000 + r * 100 + static_cast<int>(i));
      const auto answer = infer(client, "identity", floats({rows, width}, x));
      EXPECT_EQ(answer.status, 200u) << answer.message;
      EXPECT_EQ(answer.shape, (std::vector<std::int64_t>{rows, width}));
      EXPECT_EQ(answer.y, x) << "client " << c << " round " << r;
      right += answer.status == 200 && answer.y == x;
    }
    return right;
  });
  EXPECT_EQ(right, kClients * 4);
  EXPECT_GT(batched_executions(stats_of(daemon, "identity")), 0u);
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Batching_test, AJobWithMoreRowsThanMaxBatchSizeIs400AndOthersWaitForNothing) {
  RunningDaemon daemon(entry("identity", "identity.pt", "[-1, -1]", batching(4, "10s")));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  auto client = daemon.client();
  const auto big = infer(client, "identity", floats({5, 1}, {1, 2, 3, 4, 5}));
  EXPECT_EQ(big.status, 400u);
  EXPECT_NE(big.message.find("max_batch_size"), std::string::npos) << big.message;
  // A full batch goes at once, however long the delay.
  const auto full = infer(client, "identity", floats({4, 1}, {1, 2, 3, 4}));
  EXPECT_EQ(full.status, 200u) << full.message;
  EXPECT_EQ(full.y, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Batching_test, ABatchWhoseForwardRaisesFailsEachOfItsJobsOnce) {
  // The batch goes only when full (4 rows): the four jobs below share one forward.
  RunningDaemon daemon(entry("faulty", "faulty.pt", "[-1]", batching(4, "10s")),
                       "log_level: debug\n");
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  auto run_four = [&](float sign) {
    return infer_at_once(daemon, "faulty", 4,
                         [&](int i) { return floats({1}, {sign * static_cast<float>(i + 1)}); });
  };
  for (const auto& answer : run_four(-1)) {
    EXPECT_EQ(answer.status, 500u);
    EXPECT_NE(answer.message.find("the first input element is negative"), std::string::npos)
        << answer.message;
  }
  EXPECT_EQ(occurrences(daemon.log(), "batch of 4 jobs (4 rows) dispatched"), 1u) << daemon.log();
  auto stats = stats_of(daemon, "faulty");
  EXPECT_EQ(number(stats.at("inference_stats").at("fail").at("count")), 4u);
  EXPECT_EQ(number(stats.at("infervisor").at("failures").at("model_error")), 4u);
  // The same worker serves the next batch.
  const auto answers = run_four(1);
  for (const auto& answer : answers) {
    EXPECT_EQ(answer.status, 200u) << answer.message;
    ASSERT_EQ(answer.y.size(), 1u);
    EXPECT_GT(answer.y[0], 0);
  }
  stats = stats_of(daemon, "faulty");
  EXPECT_EQ(number(stats.at("execution_count")), 1u);
  EXPECT_EQ(number(stats.at("inference_count")), 4u);
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Batching_test, ABatchWhoseWorkerDiesIsRetriedAsItsJobsAndOnlyThePoisonFails) {
  RunningDaemon daemon(test_op_model("poison", "poison.pt",
                                     batching(8, "10s") + "    restart_backoff_initial: 50ms\n"),
                       "log_level: debug\n");
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto answers = infer_at_once(daemon, "poison", 8, [](int i) {
    const float v = i == 5 ? test_ops::kKillValue : static_cast<float>(i);
    return floats({1, 4}, {v, 1, 2, 3});
  });
  for (int i = 0; i < 8; ++i) {
    const auto& answer = answers[i];
    if (i == 5) {
      EXPECT_EQ(answer.status, 500u);
      EXPECT_NE(answer.message.find("the worker died each of the 2 times this job ran"),
                std::string::npos)
          << answer.message;
    } else {
      EXPECT_EQ(answer.status, 200u) << i << ": " << answer.message;
      EXPECT_EQ(answer.y, (std::vector<float>{test_ops::model_output(static_cast<float>(i)),
                                              test_ops::model_output(1), test_ops::model_output(2),
                                              test_ops::model_output(3)}));
    }
  }
  EXPECT_EQ(occurrences(daemon.log(), "batch of 8 jobs (8 rows) dispatched"), 1u) << daemon.log();
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Batching_test, ABatchWhoseOutputsDoNotFitTheRingRunsAgainAsHalves) {
  // tuple returns two outputs as large as its input: 8 rows of 4 KiB in (32 KiB) fit a 64 KiB
  // ring, their 64 KiB of outputs do not; halves of 4 rows do.
  RunningDaemon daemon("  - name: tuple\n    path: " + (models_dir() / "tuple.pt").string() +
                           "\n    instances: {count: 1, device: cpu}\n    ring_size: 64KiB\n" +
                           batching(8, "10s") +
                           "    inputs: [{name: x, dtype: FP32, shape: [-1, 1024]}]\n"
                           "    outputs: [{name: output0, dtype: FP32, shape: [-1, 1024]},"
                           " {name: output1, dtype: FP32, shape: [-1, 1024]}]\n",
                       "log_level: debug\n");
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto answers = infer_at_once(daemon, "tuple", 8, [](int i) {
    return floats({1, 1024}, std::vector<float>(1024, static_cast<float>(i)));
  });
  for (int i = 0; i < 8; ++i) {
    const auto& answer = answers[i];
    EXPECT_EQ(answer.status, 200u) << answer.message;
    EXPECT_EQ(answer.y, std::vector<float>(1024, 2.0f * float(i)));
  }
  const auto log = daemon.log();
  EXPECT_NE(log.find("running it again as batches of 4 and 4 rows"), std::string::npos) << log;
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

// Triton's `priority` (issue 11, welcome): with the one worker busy, a job of level 1 queued after
// two of level 2 runs before them.
TEST(Priority_test, AMoreUrgentJobOvertakesTheQueuedOnes) {
  using Clock = std::chrono::steady_clock;
  RunningDaemon daemon(
      entry("slow", "slow.pt", "[-1, 1]", "    max_inflight: 1\n    priority_levels: 2\n"),
      "log_level: debug\n");
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  auto send = [&](float rounds, int priority) {
    return std::async(std::launch::async, [&daemon, rounds, priority] {
      const std::string body = fmt::format(
          R"({{"parameters":{{"priority":{}}},"inputs":[{{"name":"x","datatype":"FP32",)"
          R"("shape":[1,1],"data":[{}]}}]}})",
          priority, rounds);
      const auto reply = raw_request(daemon.socket(), "POST", "/v2/models/slow/infer", body);
      return std::pair(reply.status, Clock::now());
    });
  };
  const std::string queued = ": queued (";
  // The worker must still be running the first job once the urgent one is queued: a host where
  // 3000 rounds end sooner runs it again, ten times longer.
  for (const float rounds : {3000.0f, 30000.0f}) {
    const std::size_t queued_before = daemon.log_count(queued);
    const std::size_t dispatched_before = daemon.log_count(" dispatched");
    auto busy = send(rounds, 2);
    ASSERT_TRUE(daemon.wait_for_log(" dispatched", dispatched_before + 1)) << daemon.log();
    auto low_a = send(1, 2);
    ASSERT_TRUE(daemon.wait_for_log(queued, queued_before + 2)) << daemon.log();
    auto low_b = send(1, 2);
    ASSERT_TRUE(daemon.wait_for_log(queued, queued_before + 3)) << daemon.log();
    auto urgent = send(1, 1);
    ASSERT_TRUE(daemon.wait_for_log(queued, queued_before + 4)) << daemon.log();
    const bool busy_throughout = busy.wait_for(0s) != std::future_status::ready;
    const auto [busy_status, busy_done] = busy.get();
    const auto [urgent_status, urgent_done] = urgent.get();
    const auto [a_status, a_done] = low_a.get();
    const auto [b_status, b_done] = low_b.get();
    EXPECT_EQ(busy_status, 200u);
    EXPECT_EQ(urgent_status, 200u);
    EXPECT_EQ(a_status, 200u);
    EXPECT_EQ(b_status, 200u);
    if (!busy_throughout) continue;  // the worker was free before all three queued
    EXPECT_LT(urgent_done, a_done) << daemon.log();
    EXPECT_LT(urgent_done, b_done) << daemon.log();
    // Out of range, or a priority for a model without levels: 400.
    EXPECT_EQ(raw_request(daemon.socket(), "POST", "/v2/models/slow/infer",
                          R"({"parameters":{"priority":3},"inputs":[{"name":"x",)"
                          R"("datatype":"FP32","shape":[1,1],"data":[1]}]})")
                  .status,
              400u);
    EXPECT_EQ(daemon.stop().exit_code(), 0);
    return;
  }
  ADD_FAILURE() << "even 30000 rounds of the slow model ended before three jobs had queued";
}

}  // namespace
}  // namespace infervisor::testing
