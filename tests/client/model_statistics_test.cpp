#include "client/model_statistics.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <functional>

#include "common/error.hpp"

namespace infervisor::client {
namespace {

namespace json = boost::json;

// What a Triton server sends: no "infervisor" object, no cache counters in an older one.
constexpr std::string_view kTritonModel = R"({
  "name": "mlp", "version": "1", "last_inference": 1764640000123,
  "inference_count": 12, "execution_count": 6,
  "inference_stats": {"success": {"count": 10, "ns": 123456}, "fail": {"count": 2, "ns": 5000},
    "queue": {"count": 12, "ns": 3000}, "compute_input": {"count": 12, "ns": 4000},
    "compute_infer": {"count": 12, "ns": 90000}, "compute_output": {"count": 12, "ns": 2000},
    "cache_hit": {"count": 0, "ns": 0}, "cache_miss": {"count": 0, "ns": 0}},
  "batch_stats": [{"batch_size": 2, "compute_input": {"count": 6, "ns": 4000},
    "compute_infer": {"count": 6, "ns": 90000}, "compute_output": {"count": 6, "ns": 2000}}]})";

constexpr std::string_view kExtras = R"({
  "failures": {"rejected": 0, "timeout": 0, "worker_death": 0, "model_error": 1,
               "bad_request": 1, "client_gone": 0},
  "pending": 3, "latency_us": {"p50": 812.5, "p99": 2011},
  "workers": [{"instance": 0, "state": "READY", "restarts": 0, "pid": 1234},
              {"instance": 1, "state": "RESTARTING", "restarts": 2, "pid": null},
              {"instance": 2, "state": "STARTING", "restarts": 0, "pid": 0},
              {"instance": 3, "state": "FAILED", "restarts": 5}]})";

json::value triton_model() {
  return json::parse(kTritonModel);
}

std::string body_of(const json::value& model) {
  return json::serialize(json::object{{"model_stats", json::array{model}}});
}

// The message of the kCorrupt InfervisorError decoding `body` throws (a failure if none).
std::string error_of(std::string_view body) {
  try {
    decode_model_statistics(body);
  } catch (const InfervisorError& error) {
    EXPECT_EQ(error.code(), ErrorCode::kCorrupt) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "accepted " << body;
  return {};
}

// The error for the Triton model with one change made to it.
std::string error_with(const std::function<void(json::object&)>& change) {
  auto model = triton_model();
  change(model.as_object());
  return error_of(body_of(model));
}

TEST(client_model_statistics_test, Targets) {
  EXPECT_EQ(model_statistics_target(), "/v2/models/stats");
  EXPECT_EQ(model_statistics_target("mlp"), "/v2/models/mlp/stats");
  EXPECT_EQ(model_statistics_target("mlp", "2"), "/v2/models/mlp/versions/2/stats");
  EXPECT_EQ(model_statistics_target("a/b"), "/v2/models/a%2Fb/stats");
  // A model called "stats" must not read as "every model".
  EXPECT_EQ(model_statistics_target("stats"), "/v2/models/stats/stats");
  EXPECT_THROW(model_statistics_target("", "1"), InfervisorError);
}

TEST(client_model_statistics_test, DecodesATritonBody) {
  const auto sut = decode_model_statistics(body_of(triton_model()));
  ASSERT_EQ(sut.size(), 1u);
  const auto& model = sut[0];
  EXPECT_EQ(model.name, "mlp");
  EXPECT_EQ(model.version, "1");
  EXPECT_EQ(model.last_inference_ms, 1764640000123u);
  EXPECT_EQ(model.inference_count, 12u);
  EXPECT_EQ(model.execution_count, 6u);
  EXPECT_EQ(model.inference_stats.success, (StatDuration{10, 123456}));
  EXPECT_EQ(model.inference_stats.fail, (StatDuration{2, 5000}));
  EXPECT_EQ(model.inference_stats.queue, (StatDuration{12, 3000}));
  EXPECT_EQ(model.inference_stats.compute_input, (StatDuration{12, 4000}));
  EXPECT_EQ(model.inference_stats.compute_infer, (StatDuration{12, 90000}));
  EXPECT_EQ(model.inference_stats.compute_output, (StatDuration{12, 2000}));
  ASSERT_EQ(model.batch_stats.size(), 1u);
  EXPECT_EQ(model.batch_stats[0],
            (BatchStats{2, StatDuration{6, 4000}, StatDuration{6, 90000}, StatDuration{6, 2000}}));
  EXPECT_FALSE(model.infervisor.has_value());
}

TEST(client_model_statistics_test, DecodesInfervisorExtras) {
  auto model = triton_model();
  model.as_object()["infervisor"] = json::parse(kExtras);
  const auto sut = decode_model_statistics(body_of(model));
  ASSERT_EQ(sut.size(), 1u);
  ASSERT_TRUE(sut[0].infervisor.has_value());
  const auto& extras = *sut[0].infervisor;
  EXPECT_EQ(extras.failures.size(), 6u);
  EXPECT_EQ(extras.failures.at("model_error"), 1u);
  EXPECT_EQ(extras.failures.at("bad_request"), 1u);
  EXPECT_EQ(extras.failures.at("timeout"), 0u);
  EXPECT_EQ(extras.pending, 3u);
  EXPECT_EQ(extras.p50_us, 812.5);
  EXPECT_EQ(extras.p99_us, 2011.0);
  ASSERT_EQ(extras.workers.size(), 4u);
  EXPECT_EQ(extras.workers[0], (WorkerStatus{0, "READY", 0, 1234}));
  EXPECT_EQ(extras.workers[1], (WorkerStatus{1, "RESTARTING", 2, std::nullopt}));
  EXPECT_EQ(extras.workers[2], (WorkerStatus{2, "STARTING", 0, std::nullopt}));  // pid 0: none
  EXPECT_EQ(extras.workers[3], (WorkerStatus{3, "FAILED", 5, std::nullopt}));
}

TEST(client_model_statistics_test, ExtrasAndCacheCountersMayBeLeftOut) {
  auto model = triton_model();
  model.as_object()["inference_stats"].as_object().erase("cache_hit");
  model.as_object()["inference_stats"].as_object().erase("cache_miss");
  model.as_object()["infervisor"] = json::object{};
  model.as_object()["unknown_future_field"] = json::array{1, 2};
  auto sut = decode_model_statistics(body_of(model));
  ASSERT_EQ(sut.size(), 1u);
  EXPECT_EQ(sut[0].inference_stats.cache_hit, StatDuration{});
  EXPECT_EQ(sut[0].infervisor, InfervisorStats{});

  model.as_object()["infervisor"] =
      json::parse(R"({"latency_us": {"p50": null}, "pending": null})");
  sut = decode_model_statistics(body_of(model));
  EXPECT_FALSE(sut.at(0).infervisor->p50_us.has_value());
  EXPECT_FALSE(sut.at(0).infervisor->pending.has_value());
}

TEST(client_model_statistics_test, DecodesSeveralModelsAndNone) {
  auto other = triton_model();
  other.as_object()["name"] = "resnet";
  other.as_object()["version"] = "";
  other.as_object()["batch_stats"] = json::array{};
  const auto sut = decode_model_statistics(
      json::serialize(json::object{{"model_stats", json::array{triton_model(), other}}}));
  ASSERT_EQ(sut.size(), 2u);
  EXPECT_EQ(sut[1].name, "resnet");
  EXPECT_EQ(sut[1].version, "");
  EXPECT_TRUE(decode_model_statistics(R"({"model_stats": []})").empty());
}

TEST(client_model_statistics_test, TakesTheFullUnsignedRange) {
  auto model = triton_model();
  model.as_object()["inference_stats"].as_object()["success"] =
      json::parse(R"({"count": 18446744073709551615, "ns": 9223372036854775808})");
  const auto sut = decode_model_statistics(body_of(model));
  EXPECT_EQ(sut.at(0).inference_stats.success,
            (StatDuration{18446744073709551615u, 9223372036854775808u}));
}

TEST(client_model_statistics_test, RefusesBadBodies) {
  EXPECT_NE(error_of("").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("[]").find("expected a JSON object"), std::string::npos);
  EXPECT_NE(error_of("{}").find("model_stats: missing"), std::string::npos);
  EXPECT_NE(error_of(R"({"model_stats": {}})").find("expected a JSON array"), std::string::npos);
  EXPECT_NE(error_of(R"({"model_stats": [1]})").find("model_stats[0]: expected a JSON object"),
            std::string::npos);
}

TEST(client_model_statistics_test, RefusesMissingTritonFields) {
  for (const char* key : {"name", "version", "last_inference", "inference_count", "execution_count",
                          "inference_stats", "batch_stats"}) {
    EXPECT_NE(error_with([&](json::object& model) {
                model.erase(key);
              }).find(std::string("model_stats[0].") + key + ": missing"),
              std::string::npos)
        << key;
  }
  for (const char* key :
       {"success", "fail", "queue", "compute_input", "compute_infer", "compute_output"}) {
    EXPECT_NE(error_with([&](json::object& model) {
                model["inference_stats"].as_object().erase(key);
              }).find(std::string("model_stats[0].inference_stats.") + key + ": missing"),
              std::string::npos)
        << key;
  }
  EXPECT_NE(error_with([](json::object& model) {
              model["inference_stats"].as_object()["queue"].as_object().erase("ns");
            }).find("model_stats[0].inference_stats.queue.ns: missing"),
            std::string::npos);
  EXPECT_NE(error_with([](json::object& model) {
              model["batch_stats"].as_array()[0].as_object().erase("batch_size");
            }).find("model_stats[0].batch_stats[0].batch_size: missing"),
            std::string::npos);
  EXPECT_NE(error_with([](json::object& model) {
              model["batch_stats"].as_array()[0].as_object().erase("compute_infer");
            }).find("model_stats[0].batch_stats[0].compute_infer: missing"),
            std::string::npos);
}

TEST(client_model_statistics_test, RefusesWrongTypesNegativesAndHugeNumbers) {
  const auto set = [](const char* key, json::value value) {
    return [key, value](json::object& model) { model[key] = value; };
  };
  const auto counts = [](const char* key, json::value value) {
    return [key, value](json::object& model) {
      model["inference_stats"].as_object()["compute_infer"].as_object()[key] = value;
    };
  };
  EXPECT_NE(error_with(set("name", 7)).find("name: expected a string"), std::string::npos);
  EXPECT_NE(error_with(set("name", "")).find("name: empty"), std::string::npos);
  EXPECT_NE(error_with(set("version", 1)).find("version: expected a string"), std::string::npos);
  const std::string not_unsigned = "expected a non-negative integer";
  EXPECT_NE(error_with(set("inference_count", -1)).find("inference_count: " + not_unsigned),
            std::string::npos);
  EXPECT_NE(error_with(set("execution_count", 1.5)).find("execution_count: " + not_unsigned),
            std::string::npos);
  EXPECT_NE(error_with(set("last_inference", "0")).find("last_inference: " + not_unsigned),
            std::string::npos);
  EXPECT_NE(error_with(set("last_inference", nullptr)).find(not_unsigned), std::string::npos);
  EXPECT_NE(error_with(counts("ns", -5)).find("inference_stats.compute_infer.ns: " + not_unsigned),
            std::string::npos);
  EXPECT_NE(error_with(counts("count", true)).find("compute_infer.count: " + not_unsigned),
            std::string::npos);
  EXPECT_NE(error_with(set("inference_stats", json::array{})).find("expected a JSON object"),
            std::string::npos);
  EXPECT_NE(
      error_with(set("batch_stats", json::object{})).find("batch_stats: expected a JSON array"),
      std::string::npos);
  // 2^64 no longer fits: boost::json reads it as a double, which is refused like any fraction.
  auto model = triton_model();
  std::string body = body_of(model);
  const std::string from = R"("inference_count":12)";
  body.replace(body.find(from), from.size(), R"("inference_count":18446744073709551616)");
  EXPECT_NE(error_of(body).find("inference_count: " + not_unsigned), std::string::npos);
  body = body_of(model);
  body.replace(body.find(from), from.size(), R"("inference_count":1e300)");
  EXPECT_NE(error_of(body).find("inference_count: " + not_unsigned), std::string::npos);
}

TEST(client_model_statistics_test, RefusesBadExtras) {
  const auto extras = [](std::string_view text) {
    return [text](json::object& model) { model["infervisor"] = json::parse(text); };
  };
  EXPECT_NE(error_with(extras("[]")).find("model_stats[0].infervisor: expected a JSON object"),
            std::string::npos);
  EXPECT_NE(
      error_with(extras(R"({"failures": []})")).find("infervisor.failures: expected a JSON object"),
      std::string::npos);
  EXPECT_NE(error_with(extras(R"({"failures": {"timeout": -1}})"))
                .find("infervisor.failures.timeout: expected a non-negative integer"),
            std::string::npos);
  EXPECT_NE(error_with(extras(R"({"failures": {"": 1}})")).find("a reason with no name"),
            std::string::npos);
  EXPECT_NE(error_with(extras(R"({"pending": "3"})")).find("infervisor.pending"),
            std::string::npos);
  EXPECT_NE(error_with(extras(R"({"latency_us": {"p50": -1}})"))
                .find("infervisor.latency_us.p50: expected a non-negative number"),
            std::string::npos);
  EXPECT_NE(error_with(extras(R"({"latency_us": {"p99": "1"}})")).find("latency_us.p99"),
            std::string::npos);
  EXPECT_NE(error_with(extras(R"({"latency_us": 5})")).find("latency_us: expected a JSON object"),
            std::string::npos);
  EXPECT_NE(
      error_with(extras(R"({"workers": {}})")).find("infervisor.workers: expected a JSON array"),
      std::string::npos);
  EXPECT_NE(error_with(extras(R"({"workers": [{"instance": 0, "restarts": 0}]})"))
                .find("infervisor.workers[0].state: missing"),
            std::string::npos);
  EXPECT_NE(error_with(extras(R"({"workers": [{"instance": 0, "state": "READY", "restarts": 0,
                                   "pid": -7}]})"))
                .find("infervisor.workers[0].pid: expected a non-negative integer"),
            std::string::npos);
  EXPECT_NE(
      error_with(extras(R"({"workers": [{"instance": -1, "state": "READY", "restarts": 0}]})"))
          .find("infervisor.workers[0].instance"),
      std::string::npos);
}

TEST(client_model_statistics_test, RefusesRepeatsAndModelsNotAskedFor) {
  const auto twice =
      json::serialize(json::object{{"model_stats", json::array{triton_model(), triton_model()}}});
  EXPECT_NE(error_of(twice).find("model_stats[1]: model 'mlp' version '1' appears twice"),
            std::string::npos);
  const auto body = body_of(triton_model());
  EXPECT_EQ(decode_model_statistics(body, "mlp", "1").size(), 1u);
  EXPECT_THROW(decode_model_statistics(body, "resnet"), InfervisorError);
  EXPECT_THROW(decode_model_statistics(body, "mlp", "2"), InfervisorError);
}

}  // namespace
}  // namespace infervisor::client
