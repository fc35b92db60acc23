#include "common/json_element.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <boost/json/parse.hpp>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace infervisor {
namespace {

// An element of type T read from JSON text, or the error.
template <class T>
struct Read {
  JsonElementError error;
  T element;
};

template <class T>
Read<T> read(std::string_view text) {
  const auto value = boost::json::parse(text);
  std::byte bytes[sizeof(T)] = {};
  const auto error = read_json_element<T>(value, bytes);
  T element{};
  std::memcpy(&element, bytes, sizeof(T));
  return {error, element};
}

// The element `text` reads as (the test fails where it is refused), and the reason it is refused.
template <class T>
T accepted(std::string_view text) {
  const auto result = read<T>(text);
  EXPECT_EQ(result.error, JsonElementError::kNone) << text;
  return result.element;
}

template <class T>
JsonElementError refused(std::string_view text) {
  const auto result = read<T>(text);
  EXPECT_NE(result.error, JsonElementError::kNone) << text << " was taken";
  return result.error;
}

template <class T>
std::string written(T element) {
  std::string out;
  append_json_element(out, element);
  return out;
}

std::uint16_t bits(Float16 element) {
  return element.bits;
}
std::uint16_t bits(BFloat16 element) {
  return element.bits;
}

TEST(json_element_test, EveryDTypeReadsAndWritesItsValues) {
  EXPECT_EQ(accepted<Bool>("true").byte, 1);
  EXPECT_EQ(accepted<Bool>("false").byte, 0);
  EXPECT_EQ(accepted<std::uint8_t>("255"), 255);
  EXPECT_EQ(accepted<std::int8_t>("-128"), -128);
  EXPECT_EQ(accepted<std::int16_t>("-32768"), -32768);
  EXPECT_EQ(accepted<std::int32_t>("2147483647"), 2147483647);
  EXPECT_EQ(accepted<std::int64_t>("-9223372036854775808"),
            std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(accepted<std::int64_t>("9223372036854775807"),
            std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(bits(accepted<Float16>("-2.5")), 0xc100);
  EXPECT_EQ(bits(accepted<BFloat16>("1.5")), 0x3fc0);
  EXPECT_EQ(accepted<float>("0.1"), 0.1f);
  EXPECT_EQ(accepted<double>("0.1"), 0.1);

  EXPECT_EQ(written(Bool{1}), "true");
  EXPECT_EQ(written(Bool{0}), "false");
  EXPECT_EQ(written(std::uint8_t{255}), "255");  // a number, not a character
  EXPECT_EQ(written(std::int8_t{-128}), "-128");
  EXPECT_EQ(written(std::int16_t{-32768}), "-32768");
  EXPECT_EQ(written(std::int32_t{2147483647}), "2147483647");
  EXPECT_EQ(written(std::numeric_limits<std::int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(written(Float16{0xc100}), "-2.5");
  EXPECT_EQ(written(BFloat16{0x3fc0}), "1.5");
  EXPECT_EQ(written(0.1f), "0.1");  // the float's shortest form, not its double expansion
  EXPECT_EQ(written(0.1), "0.1");
  EXPECT_EQ(written(1.0f), "1");
}

TEST(json_element_test, TheVisitorGivesEachDTypeItsElementType) {
  for (const DType dtype : kAllDTypes) {
    const auto size = visit_dtype(dtype, []<class T>(std::type_identity<T>) { return sizeof(T); });
    EXPECT_EQ(size, dtype_size(dtype)) << kserve_name(dtype);
  }
  EXPECT_TRUE(visit_dtype(DType::kBool,
                          []<class T>(std::type_identity<T>) { return std::is_same_v<T, Bool>; }));
  EXPECT_TRUE(visit_dtype(
      DType::kFloat16, []<class T>(std::type_identity<T>) { return std::is_same_v<T, Float16>; }));
  EXPECT_TRUE(visit_dtype(DType::kBFloat16, []<class T>(std::type_identity<T>) {
    return std::is_same_v<T, BFloat16>;
  }));
  EXPECT_THROW(visit_dtype(static_cast<DType>(99), [](auto) { return 0; }), std::invalid_argument);
}

TEST(json_element_test, IntegersOutsideTheDTypeAreRefused) {
  EXPECT_EQ(refused<std::uint8_t>("256"), JsonElementError::kOutOfRange);
  EXPECT_EQ(refused<std::uint8_t>("-1"), JsonElementError::kOutOfRange);
  EXPECT_EQ(refused<std::int8_t>("-129"), JsonElementError::kOutOfRange);
  EXPECT_EQ(refused<std::int8_t>("128"), JsonElementError::kOutOfRange);
  EXPECT_EQ(refused<std::int16_t>("32768"), JsonElementError::kOutOfRange);
  EXPECT_EQ(refused<std::int32_t>("-2147483649"), JsonElementError::kOutOfRange);
  // A uint64 to Boost.JSON; beyond uint64 a double; beyond a double infinite.
  EXPECT_EQ(refused<std::int64_t>("9223372036854775808"), JsonElementError::kOutOfRange);
  EXPECT_EQ(refused<std::int64_t>("18446744073709551616"), JsonElementError::kOutOfRange);
  EXPECT_EQ(refused<std::int64_t>("1e400"), JsonElementError::kOutOfRange);
  EXPECT_EQ(refused<std::int64_t>("-1e400"), JsonElementError::kOutOfRange);
}

// The rule for doubles where an integer belongs: taken when integral, in range and below 2^50.
TEST(json_element_test, IntegralDoublesAreIntegersBelow2To50) {
  EXPECT_EQ(accepted<std::int32_t>("3.0"), 3);
  EXPECT_EQ(accepted<std::int32_t>("1e3"), 1000);
  EXPECT_EQ(accepted<std::int32_t>("-0.0"), 0);
  EXPECT_EQ(accepted<std::uint8_t>("255.0"), 255);
  EXPECT_EQ(accepted<std::int8_t>("-128.0"), -128);
  EXPECT_EQ(accepted<std::int64_t>("1125899906842623.0"), (std::int64_t{1} << 50) - 1);
  EXPECT_EQ(accepted<std::int64_t>("-1.125899906842623e15"), -(std::int64_t{1} << 50) + 1);

  EXPECT_EQ(refused<std::int32_t>("2.5"), JsonElementError::kNotIntegral);
  EXPECT_EQ(refused<std::int64_t>("-0.5"), JsonElementError::kNotIntegral);
  EXPECT_EQ(refused<std::uint8_t>("256.0"), JsonElementError::kOutOfRange);
  EXPECT_EQ(refused<std::int8_t>("-129.0"), JsonElementError::kOutOfRange);
  EXPECT_EQ(refused<std::int32_t>("2147483648.0"), JsonElementError::kOutOfRange);
  EXPECT_EQ(refused<std::int64_t>("9223372036854775808.0"), JsonElementError::kOutOfRange);
  EXPECT_EQ(refused<std::int64_t>("1e19"), JsonElementError::kOutOfRange);
  // From 2^50 on a double may not be the integer written: 2^53 + 1 parses to 2^53, and Boost.JSON
  // 1.81 parses 9007199254740991.0 (2^53 - 1) as 9007199254740990.
  EXPECT_EQ(refused<std::int64_t>("1125899906842624.0"), JsonElementError::kInexact);
  EXPECT_EQ(refused<std::int64_t>("-1125899906842624.5"), JsonElementError::kInexact);
  EXPECT_EQ(refused<std::int64_t>("9007199254740991.0"), JsonElementError::kInexact);
  EXPECT_EQ(refused<std::int64_t>("9007199254740993.0"), JsonElementError::kInexact);
  EXPECT_EQ(refused<std::int64_t>("1e16"), JsonElementError::kInexact);
  EXPECT_EQ(refused<std::int64_t>("-9223372036854775808.0"), JsonElementError::kInexact);
  // Written as plain integers, the same values are exact.
  EXPECT_EQ(accepted<std::int64_t>("9007199254740993"), (std::int64_t{1} << 53) + 1);
  EXPECT_EQ(accepted<std::int64_t>("10000000000000000"), 10000000000000000);
}

TEST(json_element_test, BoolTakesTrueFalseZeroAndOne) {
  EXPECT_EQ(accepted<Bool>("1").byte, 1);
  EXPECT_EQ(accepted<Bool>("0").byte, 0);
  EXPECT_EQ(accepted<Bool>("1.0").byte, 1);
  for (const char* text : {"2", "-1", "0.5", "null", "\"true\"", "[true]", "{}"}) {
    EXPECT_EQ(refused<Bool>(text), JsonElementError::kWrongType) << text;
  }
  // Written, any nonzero byte is true; bytes from a peer are checked before (bool_bytes.hpp).
  EXPECT_EQ(written(Bool{2}), "true");
}

TEST(json_element_test, StringsObjectsArraysAndBoolsAreNotNumbers) {
  for (const char* text : {"\"1\"", "{}", "{\"a\":1}", "[1]", "true"}) {
    EXPECT_EQ(refused<std::uint8_t>(text), JsonElementError::kWrongType) << text;
    EXPECT_EQ(refused<std::int64_t>(text), JsonElementError::kWrongType) << text;
    EXPECT_EQ(refused<Float16>(text), JsonElementError::kWrongType) << text;
    EXPECT_EQ(refused<BFloat16>(text), JsonElementError::kWrongType) << text;
    EXPECT_EQ(refused<float>(text), JsonElementError::kWrongType) << text;
    EXPECT_EQ(refused<double>(text), JsonElementError::kWrongType) << text;
  }
  EXPECT_EQ(refused<std::int32_t>("null"), JsonElementError::kWrongType);
}

// JSON has no NaN: null is its spelling, both ways. Infinity is never read; written, it is null.
TEST(json_element_test, NullIsNaNForFloatsAndNonFiniteValuesAreWrittenAsNull) {
  EXPECT_TRUE(std::isnan(element_value(accepted<Float16>("null"))));
  EXPECT_TRUE(std::isnan(element_value(accepted<BFloat16>("null"))));
  EXPECT_TRUE(std::isnan(accepted<float>("null")));
  EXPECT_TRUE(std::isnan(accepted<double>("null")));

  std::string out;
  EXPECT_FALSE(append_json_element(out, std::numeric_limits<float>::quiet_NaN()));
  EXPECT_FALSE(append_json_element(out, -std::numeric_limits<double>::infinity()));
  EXPECT_FALSE(append_json_element(out, Float16{0x7c00}));   // +inf
  EXPECT_FALSE(append_json_element(out, BFloat16{0x7fc0}));  // NaN
  EXPECT_EQ(out, "nullnullnullnull");
  EXPECT_TRUE(json_element_value(std::numeric_limits<float>::infinity()).is_null());
  EXPECT_TRUE(json_element_value(Float16{0x7e00}).is_null());
}

TEST(json_element_test, FloatsBeyondTheFiniteRangeAreRefusedNotMadeInfinite) {
  for (const char* text : {"1e400", "-1e400"}) {
    EXPECT_EQ(refused<Float16>(text), JsonElementError::kOutOfRange) << text;
    EXPECT_EQ(refused<BFloat16>(text), JsonElementError::kOutOfRange) << text;
    EXPECT_EQ(refused<float>(text), JsonElementError::kOutOfRange) << text;
    EXPECT_EQ(refused<double>(text), JsonElementError::kOutOfRange) << text;
  }
  // FP16: 65519 still rounds to 65504, 65520 rounds to infinity.
  EXPECT_EQ(bits(accepted<Float16>("65504")), 0x7bff);
  EXPECT_EQ(bits(accepted<Float16>("-65519")), 0xfbff);
  EXPECT_EQ(refused<Float16>("65520"), JsonElementError::kOutOfRange);
  EXPECT_EQ(refused<Float16>("-70000"), JsonElementError::kOutOfRange);
  EXPECT_EQ(bits(accepted<BFloat16>("3.3895313892515355e38")), 0x7f7f);
  EXPECT_EQ(refused<BFloat16>("3.4e38"), JsonElementError::kOutOfRange);
  // FP32: what rounds to FLT_MAX is FLT_MAX, up to half an ulp above it.
  EXPECT_EQ(accepted<float>("-3.4028234663852886e38"), -std::numeric_limits<float>::max());
  EXPECT_EQ(accepted<float>("3.40282356e38"), std::numeric_limits<float>::max());
  EXPECT_EQ(refused<float>("3.4028236e38"), JsonElementError::kOutOfRange);
  EXPECT_EQ(refused<float>("1e39"), JsonElementError::kOutOfRange);
  EXPECT_EQ(refused<float>("1.8e308"), JsonElementError::kOutOfRange);
  EXPECT_EQ(accepted<double>("1.7976931348623157e308"), std::numeric_limits<double>::max());
  EXPECT_EQ(refused<double>("1.8e308"), JsonElementError::kOutOfRange);
  // Underflow is rounding, not an error; integers beyond int64 are numbers like any other.
  EXPECT_EQ(accepted<double>("1e-400"), 0.0);
  EXPECT_EQ(bits(accepted<Float16>("1e-10")), 0x0000);
  EXPECT_EQ(accepted<double>("18446744073709551615"), 18446744073709551615.0);
}

// What the writer writes reads back as the same bits: every FP16 and BF16 value, a spread of
// floats, signed zeros and the extremes. Doubles are read back with std::from_chars, which rounds
// correctly; Boost.JSON 1.81's parser does not always (common/json_element.hpp).
TEST(json_element_test, WrittenElementsReadBackExactly) {
  const auto round_trip = []<class T>(T element) {
    std::string text;
    if (!append_json_element(text, element)) return;  // NaN or infinity: null
    T back{};
    if constexpr (std::is_same_v<T, double>) {
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), back);
      ASSERT_TRUE(ec == std::errc{} && end == text.data() + text.size()) << text;
    } else {
      const auto result = read<T>(text);
      ASSERT_EQ(result.error, JsonElementError::kNone) << text;
      back = result.element;
    }
    EXPECT_EQ(std::memcmp(&back, &element, sizeof(T)), 0) << text;
  };
  for (std::uint32_t pattern = 0; pattern < 0x10000; ++pattern) {
    round_trip(Float16{static_cast<std::uint16_t>(pattern)});
    round_trip(BFloat16{static_cast<std::uint16_t>(pattern)});
  }
  std::mt19937_64 random(7);
  for (int i = 0; i < 200000; ++i) {
    const auto raw = random();
    round_trip(std::bit_cast<float>(static_cast<std::uint32_t>(raw)));
    round_trip(std::bit_cast<double>(raw));
  }
  for (const float value :
       {0.0f, -0.0f, std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
        -std::numeric_limits<float>::min()}) {
    round_trip(value);
  }
  round_trip(-0.0);
  round_trip(std::numeric_limits<double>::max());
  round_trip(std::numeric_limits<double>::denorm_min());
  round_trip(std::numeric_limits<std::int64_t>::min());
  round_trip(std::numeric_limits<std::int64_t>::max());
  round_trip(std::uint8_t{255});
  round_trip(Bool{1});
  round_trip(Bool{0});
  EXPECT_EQ(written(-0.0f), "-0.0");  // "-0" would parse as the integer 0
  // The one float whose shortest form, 7.038531e-26, reads back through a double as the next
  // float up (an exhaustive run over every float found no other).
  for (const float trap : {0x1.5c87fap-84f, -0x1.5c87fap-84f}) {
    round_trip(trap);
    EXPECT_NE(fmt::format("{}", trap).find("7.038531e-26"), std::string::npos);
    EXPECT_NE(static_cast<float>(std::stod(fmt::format("{}", trap))), trap);
  }
  EXPECT_EQ(written(0x1.5c87fap-84f), "7.03853069e-26");
  EXPECT_TRUE(std::signbit(accepted<double>("-0.0")));
}

// The document form holds a float's exact value as a double: it reads back as the same float.
TEST(json_element_test, DocumentValuesHoldTheExactElement) {
  EXPECT_EQ(json_element_value(0.1f).as_double(), static_cast<double>(0.1f));
  EXPECT_EQ(json_element_value(Float16{0x3c00}).as_double(), 1.0);
  EXPECT_EQ(json_element_value(std::int8_t{-5}).as_int64(), -5);
  EXPECT_EQ(json_element_value(Bool{1}).as_bool(), true);
  float back = 0;
  std::byte bytes[4];
  ASSERT_EQ(read_json_element<float>(json_element_value(0.1f), bytes), JsonElementError::kNone);
  std::memcpy(&back, bytes, 4);
  EXPECT_EQ(back, 0.1f);
}

TEST(json_element_test, ErrorTextsNameTheProblemAndWhatIsWanted) {
  const auto text = [](DType dtype, std::string_view json) {
    const auto value = boost::json::parse(json);
    std::byte bytes[8];
    const auto error = visit_dtype(
        dtype, [&]<class T>(std::type_identity<T>) { return read_json_element<T>(value, bytes); });
    return json_element_error_text(dtype, value, error);
  };
  EXPECT_EQ(text(DType::kInt32, "2.5"),
            "2.5, not an integer: INT32 data needs an integer in [-2147483648, 2147483647]");
  EXPECT_EQ(text(DType::kUInt8, "256"),
            "256, out of range: UINT8 data needs an integer in [0, 255]");
  EXPECT_EQ(text(DType::kInt8, "\"1\""),
            "\"1\", not a number: INT8 data needs an integer in [-128, 127]");
  EXPECT_EQ(text(DType::kInt64, "1e400"),
            "a number above 1.8e308, out of range: INT64 data needs an integer in "
            "[-9223372036854775808, 9223372036854775807]");
  EXPECT_NE(text(DType::kInt64, "9007199254740994.0").find("plain integers"), std::string::npos);
  EXPECT_EQ(text(DType::kBool, "2"), "2, not a bool: BOOL data needs true, false, 0 or 1");
  EXPECT_EQ(text(DType::kFloat32, "{}"),
            "{}, not a number: FP32 data needs a number (or null for NaN)");
  EXPECT_EQ(text(DType::kFloat16, "70000"), "outside the finite range of FP16 (+-65504)");
  EXPECT_EQ(text(DType::kBFloat16, "1e39"), "outside the finite range of BF16 (+-3.38953e+38)");
  EXPECT_EQ(text(DType::kFloat32, "1e39"), "outside the finite range of FP32 (+-3.40282e+38)");
  EXPECT_EQ(text(DType::kFloat64, "1e400"), "outside the finite range of FP64 (+-1.79769e+308)");
  // Long values are cut, on a character boundary.
  const auto long_string = "\"" + std::string(38, 'a') + "\xc3\xa9\"";
  EXPECT_EQ(json_value_excerpt(boost::json::parse(long_string)),
            "\"" + std::string(38, 'a') + "...");
}

}  // namespace
}  // namespace infervisor
