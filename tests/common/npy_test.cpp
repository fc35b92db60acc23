#include "common/npy.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/shape.hpp"
#include "tests/common/temp_dir.hpp"

namespace infervisor {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;
using Dims = std::vector<std::int64_t>;

// Golden files, byte for byte as NumPy writes them. NumPy was not installed where these were made,
// so they were assembled from the format spec (numpy.lib.format): magic, version, little-endian
// header length, the dict padded with spaces to a 64-byte boundary (16 before NumPy 1.9) and '\n'.
// NumPy >= 1.22 also leaves 21 - len(str(shape[0])) spare spaces after the dict for in-place
// growth. np.save(f, np.arange(6, dtype='<f4').reshape(2, 3))
constexpr std::string_view kFloat32Matrix =
    "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }       "
    "                                                   \n\x00\x00\x00\x00\x00\x00\x80?\x00"
    "\x00\x00@\x00\x00@@\x00\x00\x80@\x00\x00\xa0@"sv;

// np.save(f, np.array(True))
constexpr std::string_view kBoolScalar =
    "\x93NUMPY\x01\x00v\x00{'descr': '|b1', 'fortran_order': False, 'shape': (), }           "
    "                                                   \n\x01"sv;

// np.save(f, np.array([-1, 0, 1 << 40]))
constexpr std::string_view kInt64Vector =
    "\x93NUMPY\x01\x00v\x00{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }         "
    "                                                   \n\xff\xff\xff\xff\xff\xff\xff\xff"
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00"sv;

// np.save(f, np.array([1.0, -2.0, 0.5], dtype=np.float16))
constexpr std::string_view kFloat16Vector =
    "\x93NUMPY\x01\x00v\x00{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }         "
    "                                                   \n\x00<\x00\xc0\x00"
    "8"sv;

// np.save(f, np.zeros((0, 4)))
constexpr std::string_view kFloat64Empty =
    "\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4), }       "
    "                                                   \n"sv;

// NumPy < 1.9 (16-byte alignment, no growth padding): np.save(f, np.array([7, 255],
// dtype=np.uint8))
constexpr std::string_view kUInt8Old =
    "\x93NUMPY\x01\x00"
    "F\x00{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }      "
    "      \n\x07\xff"sv;

// Python 2 NumPy wrote longs as '2L': np.save(f, np.array([[1, 2], [3, 4]], dtype=np.int32))
constexpr std::string_view kInt32Python2 =
    "\x93NUMPY\x01\x00"
    "F\x00{'descr': '<i4', 'fortran_order': False, 'shape': (2L, 2L), }  "
    "      \n\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00"sv;

// np.lib.format.write_array(f, np.array([-3, 300], dtype=np.int16), version=(2, 0))
constexpr std::string_view kInt16Version2 =
    "\x93NUMPY\x02\x00t\x00\x00\x00{'descr': '<i2', 'fortran_order': False, 'shape': (2,), } "
    "                                                         \n\xfd\xff,\x01"sv;

// np.lib.format.write_array(f, np.array([-128, 127], dtype=np.int8), version=(3, 0))
constexpr std::string_view kInt8Version3 =
    "\x93NUMPY\x03\x00t\x00\x00\x00{'descr': '|i1', 'fortran_order': False, 'shape': (2,), } "
    "                                                         \n\x80\x7f"sv;

std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

template <class T>
std::vector<T> values_of(const NpyArray& array) {
  std::vector<T> out(array.data.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), array.data.data(), array.data.size());
  return out;
}

// The message of the InfervisorError `parse` throws, or a test failure if it throws none.
template <class F>
std::string error_of(F&& parse) {
  try {
    parse();
  } catch (const InfervisorError& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected an InfervisorError";
  return {};
}

std::string npy_with_header(std::string_view dict, std::string_view data = {}) {
  std::string header(dict);
  header += '\n';
  std::string out = "\x93NUMPY\x01\x00"s;
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + std::string(data);
}

TEST(npy_test, ReadsNumPyFloat32Matrix) {
  const auto sut = parse_npy(bytes_of(kFloat32Matrix));
  EXPECT_EQ(sut.dtype, DType::kFloat32);
  EXPECT_EQ(sut.shape, (Dims{2, 3}));
  EXPECT_EQ(values_of<float>(sut), (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

TEST(npy_test, ReadsNumPyBoolScalar) {
  const auto sut = parse_npy(bytes_of(kBoolScalar));
  EXPECT_EQ(sut.dtype, DType::kBool);
  EXPECT_TRUE(sut.shape.empty());
  ASSERT_EQ(sut.data.size(), 1u);
  EXPECT_EQ(sut.data[0], std::byte{1});
}

TEST(npy_test, ReadsNumPyInt64Vector) {
  const auto sut = parse_npy(bytes_of(kInt64Vector));
  EXPECT_EQ(sut.dtype, DType::kInt64);
  EXPECT_EQ(sut.shape, (Dims{3}));
  EXPECT_EQ(values_of<std::int64_t>(sut), (std::vector<std::int64_t>{-1, 0, 1LL << 40}));
}

TEST(npy_test, ReadsNumPyFloat16Vector) {
  const auto sut = parse_npy(bytes_of(kFloat16Vector));
  EXPECT_EQ(sut.dtype, DType::kFloat16);
  EXPECT_EQ(sut.shape, (Dims{3}));
  EXPECT_EQ(values_of<std::uint16_t>(sut), (std::vector<std::uint16_t>{0x3c00, 0xc000, 0x3800}));
}

TEST(npy_test, ReadsNumPyEmptyArray) {
  const auto sut = parse_npy(bytes_of(kFloat64Empty));
  EXPECT_EQ(sut.dtype, DType::kFloat64);
  EXPECT_EQ(sut.shape, (Dims{0, 4}));
  EXPECT_TRUE(sut.data.empty());
}

TEST(npy_test, ReadsOldNumPyWith16ByteAlignment) {
  const auto sut = parse_npy(bytes_of(kUInt8Old));
  EXPECT_EQ(sut.dtype, DType::kUInt8);
  EXPECT_EQ(values_of<std::uint8_t>(sut), (std::vector<std::uint8_t>{7, 255}));
}

TEST(npy_test, ReadsPython2LongDims) {
  const auto sut = parse_npy(bytes_of(kInt32Python2));
  EXPECT_EQ(sut.dtype, DType::kInt32);
  EXPECT_EQ(sut.shape, (Dims{2, 2}));
  EXPECT_EQ(values_of<std::int32_t>(sut), (std::vector<std::int32_t>{1, 2, 3, 4}));
}

TEST(npy_test, ReadsVersion2And3) {
  const auto v2 = parse_npy(bytes_of(kInt16Version2));
  EXPECT_EQ(v2.dtype, DType::kInt16);
  EXPECT_EQ(values_of<std::int16_t>(v2), (std::vector<std::int16_t>{-3, 300}));
  const auto v3 = parse_npy(bytes_of(kInt8Version3));
  EXPECT_EQ(v3.dtype, DType::kInt8);
  EXPECT_EQ(values_of<std::int8_t>(v3), (std::vector<std::int8_t>{-128, 127}));
}

TEST(npy_test, WritesTheHeaderNumPyWould) {
  std::vector<float> values{0, 1, 2, 3, 4, 5};
  const Dims shape{2, 3};
  const auto sut = encode_npy(DType::kFloat32, shape, std::as_bytes(std::span(values)));
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  // 10 preamble bytes + 60 dict bytes + '\n' pass 64, so the header pads to 128: length 118.
  std::string expected = "\x93NUMPY\x01\x00\x76\x00"s + dict;
  expected += std::string(128 - expected.size() - 1, ' ') + "\n";
  expected.append(kFloat32Matrix.substr(kFloat32Matrix.size() - 24));
  ASSERT_EQ(sut.size(), expected.size());
  EXPECT_EQ(std::memcmp(sut.data(), expected.data(), expected.size()), 0);
}

TEST(npy_test, WritesOneTupleAndScalarShapesAsPythonDoes) {
  const std::int32_t one = 7;
  const auto vector = encode_npy(DType::kInt32, Dims{1}, std::as_bytes(std::span(&one, 1)));
  const std::string_view vector_text(reinterpret_cast<const char*>(vector.data()), vector.size());
  EXPECT_NE(vector_text.find("'shape': (1,), }"), std::string_view::npos);
  const auto scalar = encode_npy(DType::kInt32, Dims{}, std::as_bytes(std::span(&one, 1)));
  const std::string_view scalar_text(reinterpret_cast<const char*>(scalar.data()), scalar.size());
  EXPECT_NE(scalar_text.find("'shape': (), }"), std::string_view::npos);
}

// Every dtype .npy can hold, in shapes from scalar to 4-d, including zero-size ones: the written
// header is aligned and the bytes come back unchanged.
TEST(npy_test, RoundTripsEveryDTypeAndShape) {
  const std::vector<Dims> shapes{{}, {0}, {1}, {3}, {2, 3}, {1, 0, 5}, {2, 2, 2, 2}, {5, 1}};
  std::mt19937 random(42);
  for (const DType dtype : kAllDTypes) {
    if (dtype == DType::kBFloat16) continue;
    for (const auto& shape : shapes) {
      std::vector<std::byte> data(*checked_byte_size(dtype, shape));
      for (auto& byte : data) {
        byte = static_cast<std::byte>(dtype == DType::kBool ? random() % 2 : random() % 256);
      }
      const auto file = encode_npy(dtype, shape, data);
      const auto header_length =
          std::to_integer<std::size_t>(file[8]) | std::to_integer<std::size_t>(file[9]) << 8;
      EXPECT_EQ((10 + header_length) % 64, 0u);
      EXPECT_EQ(file[10 + header_length - 1], std::byte{'\n'});
      const auto sut = parse_npy(file);
      EXPECT_EQ(sut.dtype, dtype) << dtype_name(dtype) << shape_to_string(shape);
      EXPECT_EQ(sut.shape, shape) << dtype_name(dtype) << shape_to_string(shape);
      EXPECT_EQ(sut.data, data) << dtype_name(dtype) << shape_to_string(shape);
    }
  }
}

TEST(npy_test, AHugeRankNeedsVersion2) {
  const Dims shape(30000, 1);
  const std::uint8_t value = 9;
  const auto file = encode_npy(DType::kUInt8, shape, std::as_bytes(std::span(&value, 1)));
  EXPECT_EQ(file[6], std::byte{2});
  std::uint32_t header_length = 0;
  std::memcpy(&header_length, file.data() + 8, 4);
  EXPECT_EQ((12 + header_length) % 64, 0u);
  const auto sut = parse_npy(file);
  EXPECT_EQ(sut.shape, shape);
  EXPECT_EQ(sut.data, (std::vector<std::byte>{std::byte{9}}));
}

TEST(npy_test, WriteRefusesBFloat16) {
  const std::uint16_t value = 0x3f80;
  const auto message =
      error_of([&] { encode_npy(DType::kBFloat16, Dims{1}, std::as_bytes(std::span(&value, 1))); });
  EXPECT_NE(message.find("bfloat16"), std::string::npos) << message;
}

TEST(npy_test, WriteRefusesDataThatDoesNotMatchTheShape) {
  const std::vector<float> values(5);
  const auto data = std::as_bytes(std::span(values));
  EXPECT_THROW(encode_npy(DType::kFloat32, Dims{2, 3}, data), InfervisorError);
  EXPECT_THROW(encode_npy(DType::kFloat32, Dims{-5}, data), InfervisorError);
  EXPECT_THROW(encode_npy(DType::kFloat32, Dims{1LL << 62, 1LL << 62}, data), InfervisorError);
}

TEST(npy_test, WriteAndReadAFile) {
  testing::TempDir dir;
  const std::vector<double> values{1.5, -2.25};
  write_npy(dir / "x.npy", DType::kFloat64, Dims{2}, std::as_bytes(std::span(values)));
  const auto sut = read_npy(dir / "x.npy");
  EXPECT_EQ(sut.dtype, DType::kFloat64);
  EXPECT_EQ(values_of<double>(sut), values);
}

TEST(npy_test, ReadErrorsNameTheFile) {
  testing::TempDir dir;
  const auto missing = error_of([&] { read_npy(dir / "missing.npy"); });
  EXPECT_NE(missing.find("missing.npy"), std::string::npos) << missing;
  const auto directory = error_of([&] { read_npy(dir.path()); });
  EXPECT_NE(directory.find(dir.path().string()), std::string::npos) << directory;
  const auto unwritable = error_of(
      [&] { write_npy(dir / "no" / "such" / "dir.npy", DType::kInt8, Dims{}, bytes_of("\x01")); });
  EXPECT_NE(unwritable.find("dir.npy"), std::string::npos) << unwritable;
}

TEST(npy_test, ParseErrorsNameTheOrigin) {
  const auto message = error_of([] { parse_npy(bytes_of("nope"), "inputs/x.npy"); });
  EXPECT_NE(message.find("inputs/x.npy"), std::string::npos) << message;
}

TEST(npy_test, AcceptsEveryLittleEndianSpelling) {
  const std::string one_float("\x00\x00\x80\x3f", 4);
  EXPECT_EQ(parse_npy(bytes_of(npy_with_header(
                          "{'descr': '=f4', 'fortran_order': False, 'shape': (1,)}", one_float)))
                .dtype,
            DType::kFloat32);
  // Double quotes, no trailing comma, any key order, extra whitespace: all valid Python.
  EXPECT_EQ(parse_npy(bytes_of(npy_with_header(
                          "{ \"shape\" : ( 1 , ) ,\"fortran_order\":False, \"descr\":\"<f4\" }",
                          one_float)))
                .shape,
            (Dims{1}));
  // Byte order means nothing for one-byte types.
  for (const char* descr : {"|u1", "<u1", "=u1", ">u1"}) {
    const auto text =
        fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': (1,), }}", descr);
    EXPECT_EQ(parse_npy(bytes_of(npy_with_header(text, "\x05"))).dtype, DType::kUInt8) << descr;
  }
}

TEST(npy_test, RefusesBigEndianWithAClearMessage) {
  const auto message = error_of([] {
    parse_npy(bytes_of(npy_with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
                                       "\x3f\x80\x00\x00"sv)));
  });
  EXPECT_NE(message.find("big-endian"), std::string::npos) << message;
}

TEST(npy_test, RefusesFortranOrderWithAClearMessage) {
  const auto message = error_of([] {
    parse_npy(bytes_of(npy_with_header("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2), }",
                                       "\x01\x02\x03\x04")));
  });
  EXPECT_NE(message.find("Fortran order"), std::string::npos) << message;
}

TEST(npy_test, RefusesUnsupportedDescriptors) {
  for (const char* descr : {"<u2", "<u4", "<u8", "<c8", "|S5", "|O", "<U3", "|f4", "<f16", "", "f4",
                            "<V2", "<M8[ns]"}) {
    const auto text =
        fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': (), }}", descr);
    const auto message =
        error_of([&] { parse_npy(bytes_of(npy_with_header(text, "\0\0\0\0"sv))); });
    EXPECT_NE(message.find("dtype"), std::string::npos) << descr << ": " << message;
  }
  const auto structured = error_of([] {
    parse_npy(bytes_of(npy_with_header(
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (), }", "\0\0\0\0"sv)));
  });
  EXPECT_NE(structured.find("structured"), std::string::npos) << structured;
}

TEST(npy_test, RefusesDataLengthMismatch) {
  const auto short_data = kFloat32Matrix.substr(0, kFloat32Matrix.size() - 1);
  const auto message = error_of([&] { parse_npy(bytes_of(short_data)); });
  EXPECT_NE(message.find("needs 24 data bytes, found 23"), std::string::npos) << message;
  const auto long_data = std::string(kFloat32Matrix) + "x";
  EXPECT_THROW(parse_npy(bytes_of(long_data)), InfervisorError);
}

TEST(npy_test, RefusesMalformedHeaders) {
  const char* bad[] = {
      "",
      "{}",
      "{'descr': '<f4', 'fortran_order': False}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
      "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
      "{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1, ,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': [1]}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} trailing",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1",
      "{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}",
      "{'descr': '<\\x66\\x34', 'fortran_order': False, 'shape': (1,)}",
      "{'descr' '<f4', 'fortran_order': False, 'shape': (1,)}",
      "{descr: '<f4', 'fortran_order': False, 'shape': (1,)}",
      "{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}",
  };
  for (const char* dict : bad) {
    EXPECT_THROW(parse_npy(bytes_of(npy_with_header(dict, "\0\0\0\0"sv))), InfervisorError) << dict;
  }
}

TEST(npy_test, RefusesBadPreambles) {
  EXPECT_THROW(parse_npy({}), InfervisorError);
  EXPECT_THROW(parse_npy(bytes_of("\x93NUMPY"sv)), InfervisorError);
  EXPECT_THROW(parse_npy(bytes_of("\x93NUMPZ\x01\x00\x00\x00"sv)), InfervisorError);
  std::string v4(kFloat32Matrix);
  v4[6] = 4;
  EXPECT_NE(error_of([&] { parse_npy(bytes_of(v4)); }).find("version 4.0"), std::string::npos);
  std::string v1_1(kFloat32Matrix);
  v1_1[7] = 1;
  EXPECT_THROW(parse_npy(bytes_of(v1_1)), InfervisorError);
  // A header length past the end of the file.
  std::string long_header(kFloat32Matrix);
  long_header[9] = '\x7f';
  EXPECT_NE(error_of([&] { parse_npy(bytes_of(long_header)); }).find("truncated"),
            std::string::npos);
  // Version 2.0 with a 4 GiB header length.
  std::string huge(kInt16Version2);
  huge[8] = huge[9] = huge[10] = huge[11] = '\xff';
  EXPECT_THROW(parse_npy(bytes_of(huge)), InfervisorError);
}

TEST(npy_test, RefusesBoolBytesOtherThanZeroAndOne) {
  const auto message = error_of([] {
    parse_npy(bytes_of(
        npy_with_header("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", "\x01\x02")));
  });
  EXPECT_NE(message.find("element 1 has value 2"), std::string::npos) << message;
}

std::vector<std::string_view> golden_files() {
  return {kFloat32Matrix, kBoolScalar,   kInt64Vector,   kFloat16Vector, kFloat64Empty,
          kUInt8Old,      kInt32Python2, kInt16Version2, kInt8Version3};
}

// Any prefix of a valid file is either the whole file or a clean InfervisorError.
TEST(npy_test, EveryTruncationIsACleanError) {
  for (const auto file : golden_files()) {
    for (std::size_t length = 0; length < file.size(); ++length) {
      const auto prefix = file.substr(0, length);
      // An empty array's file ends with its header, so only a cut inside the header can fail.
      EXPECT_THROW(parse_npy(bytes_of(prefix)), InfervisorError) << length;
    }
    EXPECT_NO_THROW(parse_npy(bytes_of(file)));
  }
}

// Random byte flips and garbage never crash (ASan/UBSan build) and fail only with InfervisorError.
TEST(npy_test, RandomCorruptionNeverCrashes) {
  std::mt19937 random(1234);
  int parsed = 0, refused = 0;
  for (const auto file : golden_files()) {
    for (int round = 0; round < 3000; ++round) {
      std::string corrupt(file);
      const int flips = 1 + static_cast<int>(random() % 4);
      for (int i = 0; i < flips; ++i) {
        corrupt[random() % corrupt.size()] = static_cast<char>(random() % 256);
      }
      if (random() % 4 == 0) corrupt.resize(random() % (corrupt.size() + 1));
      try {
        const auto sut = parse_npy(bytes_of(corrupt));
        // Whatever parsed is self-consistent.
        EXPECT_EQ(sut.data.size(), checked_byte_size(sut.dtype, sut.shape));
        ++parsed;
      } catch (const InfervisorError&) {
        ++refused;
      }
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(parsed, 0);
}

TEST(npy_test, RandomHeadersNeverCrash) {
  std::mt19937 random(99);
  const std::string alphabet = "{}()[]:,' \"\n\t<|=>bfiu12348LTrueFalsdcphoN-0x\\";
  for (int round = 0; round < 20000; ++round) {
    std::string dict(random() % 80, ' ');
    for (auto& c : dict)
      c = alphabet[random() % alphabet.size()];
    try {
      parse_npy(bytes_of(npy_with_header(dict, "\0\0\0\0\0\0\0\0"sv)));
    } catch (const InfervisorError&) {
    }
  }
}

}  // namespace
}  // namespace infervisor
