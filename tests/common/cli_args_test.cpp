#include "common/cli_args.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace infervisor {

void PrintTo(const CliArg& arg, std::ostream* out) {
  *out << "{'" << arg.flag << "', '" << arg.value << "'}";
}

namespace {

std::vector<CliArg> split(std::vector<std::string_view> words,
                          std::vector<std::string_view> switches = {}) {
  return split_cli(words, switches);
}

// The message of the UsageError that `split` throws, or "" if it does not.
std::string error_of(std::vector<std::string_view> words,
                     std::vector<std::string_view> switches = {}) {
  try {
    split(std::move(words), std::move(switches));
  } catch (const UsageError& error) {
    return error.what();
  }
  return "";
}

TEST(CliArgs, FlagsTakeTheNextWordOrWhatFollowsTheirEqualsSign) {
  EXPECT_EQ(split({"--model", "m.pt", "--out=dir", "--empty=", "--input", "x=a.npy"}),
            (std::vector<CliArg>{
                {"--model", "m.pt"}, {"--out", "dir"}, {"--empty", ""}, {"--input", "x=a.npy"}}));
}

TEST(CliArgs, AFlagsValueMayLookLikeAFlag) {
  // "--wakeup-fd -1", "--output --json": the value is the next word, whatever it is.
  EXPECT_EQ(split({"--wakeup-fd", "-1", "--output", "--json"}, {"--json"}),
            (std::vector<CliArg>{{"--wakeup-fd", "-1"}, {"--output", "--json"}}));
}

TEST(CliArgs, SwitchesTakeNoValueAndPositionalWordsKeepTheirPlace) {
  EXPECT_EQ(split({"infer", "--quick", "m", "-h", "-x", "--seed", "3", "tail"}, {"--quick", "-h"}),
            (std::vector<CliArg>{{"", "infer"},
                                 {"--quick", ""},
                                 {"", "m"},
                                 {"-h", ""},
                                 {"", "-x"},  // not a switch: a word the program judges
                                 {"--seed", "3"},
                                 {"", "tail"}}));
  EXPECT_TRUE(split({}).empty());
}

TEST(CliArgs, AMissingValueOrAValueForASwitchIsAUsageError) {
  EXPECT_EQ(error_of({"--config", "a", "--config"}), "--config needs a value and none follows it");
  EXPECT_EQ(error_of({"--json=yes"}, {"--json"}), "--json takes no value");
  EXPECT_EQ(error_of({"--json", "--x", "1"}, {"--json"}), "");
}

TEST(CliArgs, SplitsArgvLikeStringViews) {
  std::string a = "--threads", b = "4", c = "word";
  const std::array<char*, 3> argv{a.data(), b.data(), c.data()};
  EXPECT_EQ(split_cli(std::span<char* const>(argv)),
            (std::vector<CliArg>{{"--threads", "4"}, {"", "word"}}));
}

TEST(CliArgs, IntegersAreWholeAndInRange) {
  EXPECT_EQ(parse_int_flag({"--threads", "4"}, 1, 1024), 4);
  EXPECT_EQ(parse_int_flag({"--wakeup-fd", "-1"}, -1, 10), -1);
  for (const std::string_view bad : {"0", "1025", "4x", "", " 4", "4.0", "99999999999999999999"}) {
    try {
      parse_int_flag({"--threads", bad}, 1, 1024);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& error) {
      EXPECT_EQ(std::string(error.what()),
                "--threads '" + std::string(bad) + "' is not an integer in [1, 1024]");
    }
  }
}

TEST(CliArgs, NumbersAreFiniteAndInRange) {
  EXPECT_DOUBLE_EQ(parse_number_flag({"--seconds", "2.5"}, 0.1, 600), 2.5);
  EXPECT_DOUBLE_EQ(parse_number_flag({"--seconds", "1e2"}, 0.1, 600), 100);
  for (const std::string_view bad : {"0.01", "601", "nan", "inf", "2s", ""}) {
    EXPECT_THROW(parse_number_flag({"--seconds", bad}, 0.1, 600), UsageError) << bad;
  }
}

TEST(CliArgs, AUsageErrorIsAnInvalidArgument) {
  const UsageError error("x");
  EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace infervisor
