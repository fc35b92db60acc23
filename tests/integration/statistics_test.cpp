// Triton's statistics extension against the real daemon (issue 11): the counters match a known
// sequence of jobs, by outcome, and the workers' restarts show.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstring>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>

#include "raw_http.hpp"
#include "raw_socket.hpp"
#include "running_daemon.hpp"

namespace infervisor::testing {
namespace {

using namespace std::chrono_literals;

std::string entry(const std::string& name, const std::string& file, const std::string& shape) {
  return "  - name: " + name + "\n    path: " + (models_dir() / file).string() +
         "\n    instances: {count: 1, device: cpu}\n"
         "    inputs: [{name: x, dtype: FP32, shape: " +
         shape + "}]\n" + "    outputs: [{name: y, dtype: FP32, shape: " + shape + "}]\n";
}

// x of `elements` FP32 values `value`: [elements / 256, 256] (`matrix`) or [elements].
std::string infer_body(std::size_t elements, float value, bool matrix) {
  std::string data;
  for (std::size_t i = 0; i < elements; ++i)
    fmt::format_to(std::back_inserter(data), "{}{}", i ? "," : "", value);
  return fmt::format(
      R"({{"inputs":[{{"name":"x","datatype":"FP32","shape":{},"data":[{}]}}]}})",
      matrix ? fmt::format("[{},256]", elements / 256) : fmt::format("[{}]", elements), data);
}

boost::json::object stats_of(const RunningDaemon& daemon, const std::string& model) {
  const auto reply = raw_request(daemon.socket(), "GET", "/v2/models/" + model + "/stats");
  EXPECT_EQ(reply.status, 200u) << reply.body;
  const auto document = boost::json::parse(reply.body);
  const auto& models = document.at("model_stats").as_array();
  EXPECT_EQ(models.size(), 1u);
  return models.at(0).as_object();
}

std::uint64_t count_of(const boost::json::object& stats, const char* what) {
  return stats.at("inference_stats").at(what).at("count").to_number<std::uint64_t>();
}
std::uint64_t ns_of(const boost::json::object& stats, const char* what) {
  return stats.at("inference_stats").at(what).at("ns").to_number<std::uint64_t>();
}
std::uint64_t failures(const boost::json::object& stats, const char* reason) {
  return stats.at("infervisor").at("failures").at(reason).to_number<std::uint64_t>();
}

TEST(Statistics_test, CountersMatchAKnownSequenceOfJobs) {
  RunningDaemon daemon(entry("mlp", "mlp.pt", "[-1, 256]") + entry("faulty", "faulty.pt", "[-1]"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  auto zero = stats_of(daemon, "mlp");
  EXPECT_EQ(zero.at("inference_count"), 0);
  EXPECT_EQ(zero.at("last_inference"), 0);

  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(
        raw_request(daemon.socket(), "POST", "/v2/models/mlp/infer", infer_body(256, 0.25f, true))
            .status,
        200u);
  }
  // A batch of 4 rows: 4 inferences in one execution, as Triton counts them.
  ASSERT_EQ(
      raw_request(daemon.socket(), "POST", "/v2/models/mlp/infer", infer_body(4 * 256, 0.25f, true))
          .status,
      200u);
  EXPECT_EQ(raw_request(daemon.socket(), "POST", "/v2/models/mlp/infer", R"({"inputs":[]})").status,
            400u);
  EXPECT_EQ(raw_request(daemon.socket(), "POST", "/v2/models/mlp/infer", "not json").status, 400u);
  EXPECT_EQ(
      raw_request(daemon.socket(), "POST", "/v2/models/faulty/infer", infer_body(4, -1.0f, false))
          .status,
      500u);
  EXPECT_EQ(
      raw_request(daemon.socket(), "POST", "/v2/models/faulty/infer", infer_body(4, 1.0f, false))
          .status,
      200u);

  const auto mlp = stats_of(daemon, "mlp");
  EXPECT_EQ(mlp.at("name"), "mlp");
  EXPECT_EQ(mlp.at("inference_count"), 9);
  EXPECT_EQ(mlp.at("execution_count"), 6);
  EXPECT_GT(mlp.at("last_inference").to_number<std::uint64_t>(), 0u);
  EXPECT_EQ(count_of(mlp, "success"), 6u);
  EXPECT_EQ(count_of(mlp, "fail"), 2u);
  for (const char* stage : {"queue", "compute_input", "compute_infer", "compute_output"})
    EXPECT_EQ(count_of(mlp, stage), 6u) << stage;
  EXPECT_GT(ns_of(mlp, "compute_infer"), 0u);
  // Each request's whole time holds its queue and compute times.
  EXPECT_GE(ns_of(mlp, "success"), ns_of(mlp, "queue") + ns_of(mlp, "compute_infer"));
  EXPECT_EQ(failures(mlp, "bad_request"), 2u);
  EXPECT_EQ(failures(mlp, "model_error"), 0u);
  const auto& batches = mlp.at("batch_stats").as_array();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].at("batch_size"), 1);
  EXPECT_EQ(batches[0].at("compute_infer").at("count"), 5);
  EXPECT_EQ(batches[1].at("batch_size"), 4);
  EXPECT_EQ(batches[1].at("compute_infer").at("count"), 1);
  const auto& latency = mlp.at("infervisor").at("latency_us");
  EXPECT_GT(latency.at("p50").to_number<double>(), 0);
  EXPECT_GE(latency.at("p99").to_number<double>(), latency.at("p50").to_number<double>());
  EXPECT_EQ(mlp.at("infervisor").at("pending"), 0);

  const auto faulty = stats_of(daemon, "faulty");
  EXPECT_EQ(count_of(faulty, "success"), 1u);
  EXPECT_EQ(count_of(faulty, "fail"), 1u);
  EXPECT_EQ(failures(faulty, "model_error"), 1u);

  // Every model, in config order; an unknown one is 404.
  const auto all = boost::json::parse(raw_request(daemon.socket(), "GET", "/v2/models/stats").body);
  ASSERT_EQ(all.at("model_stats").as_array().size(), 2u);
  EXPECT_EQ(all.at("model_stats").at(1).at("name"), "faulty");
  EXPECT_EQ(raw_request(daemon.socket(), "GET", "/v2/models/nope/stats").status, 404u);
  EXPECT_EQ(raw_request(daemon.socket(), "GET", "/v2/models/mlp/versions/1/stats").status, 200u);

  // A killed worker is replaced: its slot counts a restart.
  const auto& workers = mlp.at("infervisor").at("workers").as_array();
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_EQ(workers[0].at("state"), "READY");
  EXPECT_EQ(workers[0].at("restarts"), 0);
  const auto pid = static_cast<pid_t>(workers[0].at("pid").to_number<std::int64_t>());
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  bool replaced = false;
  for (int i = 0; i < 100 && !replaced; ++i) {
    std::this_thread::sleep_for(100ms);
    const auto now = stats_of(daemon, "mlp").at("infervisor").at("workers").at(0);
    replaced = now.at("state") == "READY" && now.at("restarts") == 1;
  }
  EXPECT_TRUE(replaced) << daemon.log();
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Statistics_test, AModelNamedStatsIsAConfigError) {
  RunningDaemon daemon(entry("stats", "mlp.pt", "[-1, 256]"));
  daemon.start();
  const auto status = daemon.wait_exit(30s);
  ASSERT_TRUE(status);
  EXPECT_NE(status->exit_code(), 0);
  EXPECT_NE(daemon.log().find("'stats' is reserved"), std::string::npos) << daemon.log();
}

// A strict reader of the Prometheus text format (0.0.4): every line is a HELP or TYPE comment or
// a sample `name{label="value",...} number`; names and label names are valid; every sample
// belongs to a family with a TYPE; histogram buckets are cumulative and end with +Inf ==
// _count. Returns the samples by their full text before the value, or fails the test.
std::map<std::string, double> parse_exposition(const std::string& text) {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
  const auto valid_name = [](std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
    });
  };
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (line.starts_with("# HELP ")) {
      const auto name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(valid_name(name)) << line;
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      std::istringstream fields(line.substr(7));
      std::string name, type;
      fields >> name >> type;
      EXPECT_TRUE(valid_name(name)) << line;
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram" ||
                  type == "summary" || type == "untyped")
          << line;
      EXPECT_FALSE(types.contains(name)) << "TYPE given twice: " << line;
      types[name] = type;
      continue;
    }
    EXPECT_NE(line[0], '#') << "unknown comment: " << line;
    const auto brace = line.find('{');
    const auto space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    if (space == std::string::npos) continue;
    const std::string name = line.substr(0, std::min(brace, space));
    EXPECT_TRUE(valid_name(name)) << line;
    if (brace != std::string::npos && brace < space) {
      const auto close = line.find('}', brace);
      EXPECT_EQ(close + 1, space) << line;
      std::string labels = line.substr(brace + 1, close - brace - 1);
      while (!labels.empty()) {
        const auto equals = labels.find('=');
        EXPECT_NE(equals, std::string::npos) << line;
        if (equals == std::string::npos) break;
        EXPECT_TRUE(valid_name(labels.substr(0, equals))) << line;
        EXPECT_EQ(labels[equals + 1], '"') << line;
        const auto end = labels.find('"', equals + 2);
        EXPECT_NE(end, std::string::npos) << line;
        if (end == std::string::npos) break;
        labels = labels.substr(end + 1);
        if (!labels.empty()) {
          EXPECT_EQ(labels[0], ',') << line;
          labels = labels.substr(1);
        }
      }
    }
    const std::string value = line.substr(space + 1);
    char* parsed_end = nullptr;
    const double number = value == "+Inf" ? INFINITY : std::strtod(value.c_str(), &parsed_end);
    EXPECT_TRUE(value == "+Inf" || (parsed_end && *parsed_end == '\0')) << line;
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!types.contains(family) && family.ends_with(suffix))
        family = family.substr(0, family.size() - std::strlen(suffix));
    }
    EXPECT_TRUE(types.contains(family)) << "no TYPE for " << line;
    EXPECT_FALSE(samples.contains(line.substr(0, space))) << "sample twice: " << line;
    samples[line.substr(0, space)] = number;
  }
  return samples;
}

TEST(Metrics_test, TheTextIsValidExpositionAndCountsAKnownSequence) {
  if (!INFERVISOR_WITH_PROMETHEUS) GTEST_SKIP() << "built without prometheus-cpp";
  RunningDaemon daemon(entry("mlp", "mlp.pt", "[-1, 256]"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(
        raw_request(daemon.socket(), "POST", "/v2/models/mlp/infer", infer_body(256, 0.5f, true))
            .status,
        200u);
  }
  EXPECT_EQ(raw_request(daemon.socket(), "POST", "/v2/models/mlp/infer", "{}").status, 400u);
  const auto reply = raw_request(daemon.socket(), "GET", "/metrics");
  ASSERT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.headers.count("Content-Type"), 1u);
  EXPECT_EQ(reply.headers.count("Content-Type") ? reply.headers.at("Content-Type") : "",
            "text/plain; version=0.0.4; charset=utf-8");
  const auto parsed = parse_exposition(reply.body);
  struct {
    const std::map<std::string, double>& samples;
    const std::string& text;
    double at(const std::string& key) const {
      const auto it = samples.find(key);
      if (it != samples.end()) return it->second;
      ADD_FAILURE() << "no sample " << key << " in\n" << text;
      return NAN;
    }
  } samples{parsed, reply.body};
  const std::string model = R"(model="mlp",version="1")";
  EXPECT_EQ(samples.at("infervisor_requests_total{" + model + R"(,outcome="success"})"), 3);
  EXPECT_EQ(samples.at("infervisor_requests_total{" + model + R"(,outcome="bad_request"})"), 1);
  EXPECT_EQ(samples.at("infervisor_requests_total{" + model + R"(,outcome="worker_death"})"), 0);
  EXPECT_EQ(samples.at("infervisor_inferences_total{" + model + "}"), 3);
  EXPECT_EQ(samples.at("infervisor_executions_total{" + model + "}"), 3);
  EXPECT_EQ(samples.at("infervisor_request_duration_seconds_count{" + model + "}"), 3);
  EXPECT_EQ(samples.at("infervisor_request_duration_seconds_bucket{" + model + R"(,le="+Inf"})"),
            3);
  EXPECT_GT(samples.at("infervisor_compute_infer_duration_seconds_total{" + model + "}"), 0);
  EXPECT_EQ(samples.at("infervisor_pending_jobs{" + model + "}"), 0);
  EXPECT_EQ(samples.at("infervisor_worker_state{" + model + R"(,instance="0",state="READY"})"), 1);
  EXPECT_GT(samples.at("infervisor_worker_resident_anonymous_bytes{" + model + R"(,instance="0"})"),
            0);
  EXPECT_GE(samples.at("infervisor_connections"), 1);
  EXPECT_GT(samples.at("infervisor_uptime_seconds"), 0);
  for (const auto& [sample, value] : parsed) {
    if (sample.starts_with("infervisor_request_duration_seconds_bucket")) {
      EXPECT_LE(value, 3);
    }
  }
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

}  // namespace
}  // namespace infervisor::testing
