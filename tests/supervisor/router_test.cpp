#include "supervisor/router.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace infervisor::supervisor {
namespace {
namespace http = boost::beast::http;

class Router_test : public ::testing::Test, public ServiceState, public ModelPool::Events {
 protected:
  Router_test() {
    model_.name = "m";
    model_.version = "2";
    model_.inputs = {{"x", DType::kFloat32, {-1, 2}}};
    model_.outputs = {{"y", DType::kFloat32, {-1, 2}}};
    config_.models = {model_};
    pool_ = std::make_unique<ModelPool>(
        io_, config_, config_.models[0], 2, [] { return 1; }, queued_bytes_, *this);
  }

  // ServiceState
  bool draining() const override { return draining_; }
  bool all_models_ready() const override { return ready_; }
  ModelPool* find_pool(std::string_view name) override {
    return name == "m" ? pool_.get() : nullptr;
  }
  std::vector<ModelState> model_states() const override {
    return {{&config_.models[0], false, "LOADING", ""}};
  }
  std::uint64_t next_job_id() override { return ++jobs_; }
  // ModelPool::Events
  void on_pool_ready(ModelPool&) override {}
  void on_pool_failed(ModelPool&, const std::string&, bool) override {}
  void on_pool_changed(ModelPool&) override {}

  HttpReply call(http::verb verb, std::string target, std::string body = "") {
    HttpRequest request(verb, target, 11);
    request.body() = std::move(body);
    std::optional<HttpReply> reply;
    Router(*this).handle(std::move(request), context_, [&](HttpReply r) {
      EXPECT_FALSE(reply) << "answered twice";
      reply = std::move(r);
    });
    EXPECT_TRUE(reply) << "no answer for " << target;
    return reply.value_or(HttpReply{});
  }

  boost::asio::io_context io_;
  RequestContext context_;
  QueuedBytes queued_bytes_;
  ModelConfig model_;
  DaemonConfig config_;
  std::unique_ptr<ModelPool> pool_;
  bool draining_ = false;
  bool ready_ = true;
  std::uint64_t jobs_ = 0;
};

TEST_F(Router_test, HealthEndpoints) {
  EXPECT_EQ(call(http::verb::get, "/v2/health/live").status, 200u);
  EXPECT_EQ(call(http::verb::get, "/v2/health/ready").status, 200u);
  ready_ = false;
  EXPECT_EQ(call(http::verb::get, "/v2/health/ready").status, 503u);
  ready_ = true;
  draining_ = true;
  EXPECT_EQ(call(http::verb::get, "/v2/health/ready").status, 503u);
  EXPECT_EQ(call(http::verb::get, "/v2/health/live").status, 200u);
}

TEST_F(Router_test, MetadataEndpoints) {
  const auto server = call(http::verb::get, "/v2");
  EXPECT_EQ(server.status, 200u);
  EXPECT_EQ(boost::json::parse(server.body).at("name"), "infervisor");
  EXPECT_EQ(call(http::verb::get, "/v2/").status, 200u);
  const auto model = call(http::verb::get, "/v2/models/m");
  EXPECT_EQ(model.status, 200u);
  EXPECT_EQ(boost::json::parse(model.body).at("inputs").at(0).at("name"), "x");
  EXPECT_EQ(call(http::verb::get, "/v2/models/m/versions/2").status, 200u);
  EXPECT_EQ(call(http::verb::get, "/v2/models/m/versions/1").status, 404u);
  // No worker is running in this test, so the model is not ready.
  EXPECT_EQ(call(http::verb::get, "/v2/models/m/ready").status, 503u);
  const auto index = call(http::verb::post, "/v2/repository/index");
  EXPECT_EQ(boost::json::parse(index.body).at(0).at("name"), "m");
  // Only the ready ones, when asked: here none is.
  EXPECT_EQ(call(http::verb::post, "/v2/repository/index", R"({"ready":true})").body, "[]");
  EXPECT_EQ(call(http::verb::post, "/v2/repository/index", R"({"ready":false})").body, index.body);
  EXPECT_EQ(call(http::verb::post, "/v2/repository/index", "[1]").status, 400u);
}

TEST_F(Router_test, UnknownThingsAre404AndWrongMethodsAre405) {
  EXPECT_EQ(call(http::verb::get, "/v2/models/nope").status, 404u);
  EXPECT_EQ(call(http::verb::post, "/v2/models/nope/infer", "{}").status, 404u);
  EXPECT_EQ(call(http::verb::get, "/v3").status, 404u);
  EXPECT_EQ(call(http::verb::get, "/").status, 404u);
  EXPECT_EQ(call(http::verb::get, "/v2/models/m/explain").status, 404u);
  EXPECT_EQ(call(http::verb::post, "/v2/health/live").status, 405u);
  EXPECT_EQ(call(http::verb::get, "/v2/models/m/infer").status, 405u);
  const auto reply = call(http::verb::get, "/v2/models/nope");
  EXPECT_NE(boost::json::parse(reply.body).at("error").as_string().find("nope"), std::string::npos);
}

TEST_F(Router_test, InferChecksTheRequestThenQueuesItUntilAWorkerIsReady) {
  EXPECT_EQ(call(http::verb::post, "/v2/models/m/infer", "{bad json").status, 400u);
  draining_ = true;
  context_.before_drain = false;  // a request that began after SIGTERM
  EXPECT_EQ(call(http::verb::post, "/v2/models/m/infer", "{}").status, 503u);
  draining_ = false;
  context_.before_drain = true;
  // No worker runs in this test: the model is still loading, and a good job waits for one.
  HttpRequest request(http::verb::post, "/v2/models/m/infer", 11);
  request.body() = R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,2]}]})";
  std::optional<HttpReply> reply;
  const auto job = Router(*this).handle(std::move(request), context_,
                                        [&](HttpReply r) { reply = std::move(r); });
  EXPECT_FALSE(reply);
  EXPECT_FALSE(job.expired());
  EXPECT_EQ(pool_->queued(), 1u);
  pool_.reset();  // the daemon stops: the queued job is answered, not dropped
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 503u);
}

TEST_F(Router_test, RepositoryCallsAreForTheUnixSocketUnlessTcpAdmin) {
  context_.transport = RequestContext::Transport::kTcp;
  EXPECT_EQ(call(http::verb::post, "/v2/repository/models/m/unload").status, 403u);
  context_.transport = RequestContext::Transport::kUnix;
  EXPECT_EQ(call(http::verb::post, "/v2/repository/models/nope/load").status, 404u);
  EXPECT_EQ(call(http::verb::get, "/v2/repository/models/m/load").status, 405u);
}

TEST_F(Router_test, InferRejectsABadHeaderLength) {
  HttpRequest request(http::verb::post, "/v2/models/m/infer", 11);
  request.set("Inference-Header-Content-Length", "999");
  request.body() = "{}";
  std::optional<HttpReply> reply;
  Router(*this).handle(std::move(request), RequestContext{},
                       [&](HttpReply r) { reply = std::move(r); });
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 400u);
}

}  // namespace
}  // namespace infervisor::supervisor
