#include "client/ctl_args.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <initializer_list>

namespace infervisor::client {
namespace {

CtlArgs parse(std::initializer_list<std::string_view> args) {
  const std::vector<std::string_view> list(args);
  return parse_ctl_args(list);
}

TEST(client_ctl_args_test, ParsesHealthWithGlobalOptions) {
  const auto sut = parse({"--socket", "/tmp/s.sock", "--timeout=2.5", "health"});
  EXPECT_EQ(sut.command, CtlCommand::kHealth);
  EXPECT_EQ(sut.socket, std::filesystem::path("/tmp/s.sock"));
  EXPECT_EQ(sut.timeout_seconds, 2.5);
  EXPECT_FALSE(sut.url.has_value());
}

TEST(client_ctl_args_test, OptionsMayFollowTheCommand) {
  const auto sut = parse({"models", "--url", "http://h:8000"});
  EXPECT_EQ(sut.command, CtlCommand::kModels);
  EXPECT_EQ(sut.url, "http://h:8000");
}

TEST(client_ctl_args_test, ParsesInfer) {
  const auto sut = parse({"infer", "resnet", "--input", "x=a.npy", "--input=mask=dir/m=1.npy",
                          "--output", "y", "--output=z", "--out", "results", "--json"});
  EXPECT_EQ(sut.command, CtlCommand::kInfer);
  EXPECT_EQ(sut.model, "resnet");
  ASSERT_EQ(sut.inputs.size(), 2u);
  EXPECT_EQ(sut.inputs[0].name, "x");
  EXPECT_EQ(sut.inputs[0].file, "a.npy");
  EXPECT_EQ(sut.inputs[1].name, "mask");
  EXPECT_EQ(sut.inputs[1].file, "dir/m=1.npy");
  EXPECT_EQ(sut.outputs, (std::vector<std::string>{"y", "z"}));
  EXPECT_EQ(sut.out_dir, std::filesystem::path("results"));
  EXPECT_TRUE(sut.json);
  EXPECT_FALSE(sut.shm);
}

TEST(client_ctl_args_test, ParsesInferShm) {
  const auto sut = parse({"infer", "m", "--shm", "--input", "x=a.npy"});
  EXPECT_EQ(sut.command, CtlCommand::kInfer);
  EXPECT_TRUE(sut.shm);
  EXPECT_FALSE(sut.json);
  EXPECT_TRUE(parse({"--shm", "infer", "m", "--input=x=a.npy", "--json"}).shm);
  EXPECT_NE(ctl_usage().find("--shm"), std::string_view::npos);
}

TEST(client_ctl_args_test, ParsesInferPriority) {
  EXPECT_EQ(parse({"infer", "m", "--input", "x=a.npy"}).priority, 0u);
  EXPECT_EQ(parse({"infer", "m", "--priority", "2", "--input", "x=a.npy"}).priority, 2u);
  EXPECT_NE(ctl_usage().find("--priority"), std::string_view::npos);
}

TEST(client_ctl_args_test, ParsesMetadata) {
  const auto sut = parse({"metadata", "m"});
  EXPECT_EQ(sut.command, CtlCommand::kMetadata);
  EXPECT_EQ(sut.model, "m");
}

TEST(client_ctl_args_test, ParsesStatsWithOrWithoutAModel) {
  auto sut = parse({"stats"});
  EXPECT_EQ(sut.command, CtlCommand::kStats);
  EXPECT_EQ(sut.model, "");
  sut = parse({"stats", "mlp", "--socket", "/tmp/s"});
  EXPECT_EQ(sut.command, CtlCommand::kStats);
  EXPECT_EQ(sut.model, "mlp");
  EXPECT_NE(ctl_usage().find("stats [MODEL]"), std::string_view::npos);
}

TEST(client_ctl_args_test, ParsesTop) {
  auto sut = parse({"top"});
  EXPECT_EQ(sut.command, CtlCommand::kTop);
  EXPECT_EQ(sut.model, "");
  EXPECT_EQ(sut.interval_seconds, 1.0);
  EXPECT_FALSE(sut.count.has_value());
  sut = parse({"top", "mlp", "--interval", "0.5", "--count=3"});
  EXPECT_EQ(sut.model, "mlp");
  EXPECT_EQ(sut.interval_seconds, 0.5);
  EXPECT_EQ(sut.count, 3);
  sut = parse({"--count", "1", "top"});
  EXPECT_EQ(sut.count, 1);
  EXPECT_NE(ctl_usage().find("top [MODEL] [--interval SECONDS] [--count N]"),
            std::string_view::npos);
}

TEST(client_ctl_args_test, HelpWinsAnywhere) {
  EXPECT_EQ(parse({"--help"}).command, CtlCommand::kHelp);
  EXPECT_EQ(parse({"infer", "-h"}).command, CtlCommand::kHelp);
  EXPECT_NE(ctl_usage().find("infervisorctl"), std::string_view::npos);
}

TEST(client_ctl_args_test, RefusesBadCommandLines) {
  const std::vector<std::vector<std::string_view>> bad{
      {},
      {"frobnicate"},
      {"health", "extra"},
      {"metadata"},
      {"metadata", "a", "b"},
      {"infer", "m"},
      {"infer", "--input", "x=a.npy"},
      {"infer", "m", "--input", "x"},
      {"infer", "m", "--input", "=a.npy"},
      {"infer", "m", "--input", "x="},
      {"infer", "m", "--input", "x=a.npy", "--input", "x=b.npy"},
      {"infer", "m", "--input"},
      {"infer", "m", "--input", "x=a.npy", "--output="},
      {"infer", "m", "--input", "x=a.npy", "--json=yes"},
      {"health", "--json"},
      {"health", "--shm"},
      {"metadata", "m", "--shm"},
      {"infer", "m", "--input", "x=a.npy", "--shm=yes"},
      {"models", "--out", "d"},
      {"health", "--socket", "a", "--url", "http://h:1"},
      {"health", "--socket", "a", "--socket", "b"},
      {"health", "--timeout", "0"},
      {"health", "--timeout", "-1"},
      {"health", "--timeout", "abc"},
      {"health", "--timeout", "nan"},
      {"health", "--timeout", "1e9"},
      {"health", "--verbose"},
      {"health", "-v"},
      {"stats", "a", "b"},
      {"stats", "--interval", "1"},
      {"stats", "--count", "1"},
      {"models", "--count", "1"},
      {"stats", "m", "--shm"},
      {"top", "a", "b"},
      {"top", "--json"},
      {"top", "--interval", "0"},
      {"top", "--interval", "0.01"},
      {"top", "--interval", "-1"},
      {"top", "--interval", "inf"},
      {"top", "--interval", "1e9"},
      {"top", "--interval"},
      {"top", "--count", "0"},
      {"top", "--count", "-2"},
      {"top", "--count", "1.5"},
      {"top", "--count", "x"},
      {"infer", "m", "--input", "x=a.npy", "--priority", "0"},
      {"infer", "m", "--input", "x=a.npy", "--priority", "-1"},
      {"infer", "m", "--input", "x=a.npy", "--priority", "high"},
      {"stats", "--priority", "1"},
  };
  for (const auto& args : bad) {
    EXPECT_THROW(parse_ctl_args(args), UsageError) << fmt::format("{}", fmt::join(args, " "));
  }
}

}  // namespace
}  // namespace infervisor::client
