#include "common/npy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

#include "common/error.hpp"
#include "common/shape.hpp"
#include "common/unique_fd.hpp"

namespace infervisor {
namespace {

// .npy stores little-endian data and we hand its bytes on unchanged.
static_assert(std::endian::native == std::endian::little, "npy I/O assumes a little-endian host");

constexpr std::string_view kMagic{"\x93NUMPY", 6};
// Version 1.0 has a 2-byte header length after the magic and version; 2.0 and 3.0 a 4-byte one.
constexpr std::size_t kPreambleV1 = kMagic.size() + 2 + 2;
constexpr std::size_t kPreambleV2 = kMagic.size() + 2 + 4;
// The format asks writers to pad so the data starts on a 64-byte boundary (readers must not care).
constexpr std::size_t kHeaderAlign = 64;

struct Descr {
  DType dtype;
  std::string_view text;  // what we write
};

// Every DType but bfloat16, which NumPy has no descriptor for.
constexpr std::array<Descr, 9> kDescrs{{
    {DType::kBool, "|b1"},
    {DType::kUInt8, "|u1"},
    {DType::kInt8, "|i1"},
    {DType::kInt16, "<i2"},
    {DType::kInt32, "<i4"},
    {DType::kInt64, "<i8"},
    {DType::kFloat16, "<f2"},
    {DType::kFloat32, "<f4"},
    {DType::kFloat64, "<f8"},
}};

[[noreturn]] void fail(ErrorCode code, std::string_view origin, std::string_view message) {
  throw InfervisorError(code, fmt::format("{}: {}", origin, message));
}

// Printable form of untrusted header text for error messages: at most 40 characters, with
// control and non-ASCII bytes escaped so a hostile file cannot garble the terminal.
std::string quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 40;
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  return out + "'";
}

DType dtype_from_descr(std::string_view descr, std::string_view origin) {
  if (descr.empty()) fail(ErrorCode::kInvalidArgument, origin, "empty dtype descriptor");
  const char order = descr.front();
  const std::string_view kind_and_size = descr.substr(1);
  for (const auto& entry : kDescrs) {
    if (entry.text.substr(1) != kind_and_size) continue;
    // Byte order means nothing for one-byte types, so every marker names the same layout there.
    if (dtype_size(entry.dtype) == 1 &&
        (order == '|' || order == '<' || order == '>' || order == '=')) {
      return entry.dtype;
    }
    if (order == '<' || order == '=') return entry.dtype;  // '=' is native, and native is little
    if (order == '>') {
      fail(ErrorCode::kInvalidArgument, origin,
           fmt::format("dtype {} is big-endian; only little-endian arrays are supported "
                       "(convert with a.astype(a.dtype.newbyteorder('<')))",
                       quote(descr)));
    }
    break;
  }
  if (kind_and_size == "V2") {
    fail(ErrorCode::kInvalidArgument, origin,
         fmt::format("dtype {} is raw 2-byte records (how bfloat16 arrays are saved); .npy cannot "
                     "say bfloat16, save the array as float32 instead",
                     quote(descr)));
  }
  fail(ErrorCode::kInvalidArgument, origin,
       fmt::format("unsupported dtype descriptor {}; expected one of |b1 |u1 |i1 <i2 <i4 <i8 <f2 "
                   "<f4 <f8",
                   quote(descr)));
}

std::string_view descr_for(DType dtype) {
  for (const auto& entry : kDescrs) {
    if (entry.dtype == dtype) return entry.text;
  }
  throw InfervisorError(ErrorCode::kInvalidArgument,
                        fmt::format("dtype {} has no .npy descriptor; convert it to float32 first",
                                    dtype_name(dtype)));
}

// The header is a Python dict literal, e.g. "{'descr': '<f4', 'fortran_order': False,
// 'shape': (2, 3), }". This reads exactly the subset NumPy writes (string keys; string, bool and
// int-tuple values; trailing commas; Python 2's "3L" ints) and refuses everything else, checking
// every index against the end so garbage cannot read past the header.
class HeaderParser {
 public:
  struct Header {
    std::string descr;
    bool fortran_order = false;
    std::vector<std::int64_t> shape;
  };

  HeaderParser(std::string_view text, std::string_view origin) : text_(text), origin_(origin) {}

  Header parse() {
    Header header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        if (std::exchange(seen_descr, true)) duplicate(key);
        skip_space();
        if (peek() == '[') {
          fail(ErrorCode::kInvalidArgument, origin_,
               "structured dtypes (a list 'descr') are not supported; save a plain array");
        }
        header.descr = parse_string();
      } else if (key == "fortran_order") {
        if (std::exchange(seen_order, true)) duplicate(key);
        header.fortran_order = parse_bool();
      } else if (key == "shape") {
        if (std::exchange(seen_shape, true)) duplicate(key);
        header.shape = parse_int_tuple();
      } else {
        bad(fmt::format("unexpected key {}; expected only 'descr', 'fortran_order', 'shape'",
                        quote(key)));
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') bad("expected ',' or '}' after a value");
    }
    ++pos_;  // '}'
    // NumPy pads the header with spaces and ends it with '\n'; nothing else may follow the dict.
    skip_space();
    if (pos_ != text_.size()) bad("unexpected text after the header dict");
    if (!seen_descr || !seen_order || !seen_shape) {
      bad("header lacks one of 'descr', 'fortran_order', 'shape'");
    }
    return header;
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\t' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  void expect(char c) {
    skip_space();
    if (peek() != c) bad(fmt::format("expected '{}'", c));
    ++pos_;
  }

  std::string parse_string() {
    skip_space();
    const char quote_char = peek();
    if (quote_char != '\'' && quote_char != '"') bad("expected a quoted string");
    const auto end = text_.find(quote_char, pos_ + 1);
    if (end == std::string_view::npos) bad("unterminated string");
    const auto value = text_.substr(pos_ + 1, end - pos_ - 1);
    // Nothing NumPy writes needs an escape; refusing them keeps the reader small and exact.
    if (value.find('\\') != std::string_view::npos) bad("escapes in strings are not supported");
    pos_ = end + 1;
    return std::string(value);
  }

  bool parse_bool() {
    skip_space();
    const auto rest = text_.substr(pos_);
    if (rest.starts_with("True")) {
      pos_ += 4;
      return true;
    }
    if (rest.starts_with("False")) {
      pos_ += 5;
      return false;
    }
    bad("'fortran_order' must be True or False");
  }

  std::vector<std::int64_t> parse_int_tuple() {
    std::vector<std::int64_t> dims;
    expect('(');
    while (true) {
      skip_space();
      if (peek() == ')') break;
      dims.push_back(parse_dim());
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') bad("expected ',' or ')' in 'shape'");
    }
    ++pos_;  // ')'
    return dims;
  }

  std::int64_t parse_dim() {
    const char* begin = text_.data() + pos_;
    const char* end = text_.data() + text_.size();
    std::int64_t value = 0;
    const auto [stop, ec] = std::from_chars(begin, end, value);
    if (ec == std::errc::result_out_of_range) bad("a 'shape' dimension does not fit 64 bits");
    if (ec != std::errc{}) bad("expected an integer in 'shape'");
    if (value < 0) bad(fmt::format("'shape' has negative dimension {}", value));
    pos_ += static_cast<std::size_t>(stop - begin);
    if (peek() == 'L') ++pos_;  // Python 2 wrote long ints as "3L"
    return value;
  }

  [[noreturn]] void duplicate(std::string_view key) {
    bad(fmt::format("key {} appears twice", quote(key)));
  }

  [[noreturn]] void bad(std::string_view what) {
    fail(ErrorCode::kCorrupt, origin_,
         fmt::format("bad .npy header at offset {}: {} (header: {})", pos_, what, quote(text_)));
  }

  std::string_view text_;
  std::string_view origin_;
  std::size_t pos_ = 0;
};

std::uint32_t read_le(std::span<const std::byte> bytes) {
  std::uint32_t value = 0;
  for (std::size_t i = bytes.size(); i-- > 0;) {
    value = (value << 8) | std::to_integer<std::uint32_t>(bytes[i]);
  }
  return value;
}

}  // namespace

NpyArray parse_npy(std::span<const std::byte> bytes, std::string_view origin) {
  if (bytes.size() < kPreambleV1 || std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    fail(ErrorCode::kCorrupt, origin, "not a .npy file (no \\x93NUMPY magic)");
  }
  const auto major = std::to_integer<unsigned>(bytes[6]);
  const auto minor = std::to_integer<unsigned>(bytes[7]);
  if (minor != 0 || major < 1 || major > 3) {
    fail(ErrorCode::kInvalidArgument, origin,
         fmt::format(".npy format version {}.{} is not supported; expected 1.0, 2.0 or 3.0", major,
                     minor));
  }
  const std::size_t preamble = major == 1 ? kPreambleV1 : kPreambleV2;
  if (bytes.size() < preamble) fail(ErrorCode::kCorrupt, origin, "truncated .npy preamble");
  const std::size_t header_len = read_le(bytes.subspan(8, preamble - 8));
  if (header_len > bytes.size() - preamble) {
    fail(
        ErrorCode::kCorrupt, origin,
        fmt::format("truncated .npy header: it claims {} bytes, the file has {} after the preamble",
                    header_len, bytes.size() - preamble));
  }
  const std::string_view header_text(reinterpret_cast<const char*>(bytes.data() + preamble),
                                     header_len);
  const auto header = HeaderParser(header_text, origin).parse();

  NpyArray array;
  array.dtype = dtype_from_descr(header.descr, origin);
  if (header.fortran_order) {
    fail(ErrorCode::kInvalidArgument, origin,
         "array is stored in Fortran order; only C order is supported (save "
         "np.ascontiguousarray(a))");
  }
  array.shape = header.shape;
  const auto expected = checked_byte_size(array.dtype, array.shape);
  if (!expected) {
    fail(ErrorCode::kCorrupt, origin,
         fmt::format("shape {} overflows 64 bits", shape_to_string(array.shape)));
  }
  const auto data = bytes.subspan(preamble + header_len);
  if (data.size() != *expected) {
    fail(ErrorCode::kCorrupt, origin,
         fmt::format("{} {} needs {} data bytes, found {}", dtype_name(array.dtype),
                     shape_to_string(array.shape), *expected, data.size()));
  }
  if (array.dtype == DType::kBool) {
    // A bool byte other than 0 or 1 is undefined behaviour once read as bool downstream.
    for (std::size_t i = 0; i < data.size(); ++i) {
      if (std::to_integer<unsigned>(data[i]) > 1) {
        fail(ErrorCode::kCorrupt, origin,
             fmt::format("bool element {} has value {}, expected 0 or 1", i,
                         std::to_integer<unsigned>(data[i])));
      }
    }
  }
  array.data.assign(data.begin(), data.end());
  return array;
}

NpyArray read_npy(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw InfervisorError(system_error(fmt::format("open {}", path.string())));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    throw InfervisorError(system_error(fmt::format("stat {}", path.string())));
  }
  if (!S_ISREG(info.st_mode)) {
    throw InfervisorError(ErrorCode::kInvalidArgument,
                          fmt::format("{}: not a regular file", path.string()));
  }
  std::vector<std::byte> bytes(static_cast<std::size_t>(info.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw InfervisorError(system_error(fmt::format("read {}", path.string())));
    if (n == 0) break;  // the file shrank under us; parse_npy reports the short data
    done += static_cast<std::size_t>(n);
  }
  bytes.resize(done);
  return parse_npy(bytes, path.string());
}

std::vector<std::byte> encode_npy(DType dtype, std::span<const std::int64_t> shape,
                                  std::span<const std::byte> data) {
  const auto descr = descr_for(dtype);
  const auto expected = checked_byte_size(dtype, shape);
  if (!expected) {
    throw InfervisorError(ErrorCode::kInvalidArgument,
                          fmt::format("cannot write .npy: shape {} has a negative dimension or "
                                      "overflows 64 bits",
                                      shape_to_string(shape)));
  }
  if (data.size() != *expected) {
    throw InfervisorError(
        ErrorCode::kInvalidArgument,
        fmt::format("cannot write .npy: {} {} needs {} bytes, given {}", dtype_name(dtype),
                    shape_to_string(shape), *expected, data.size()));
  }
  // Python's repr of a 1-tuple keeps its trailing comma: "(3,)".
  std::string dims;
  for (const auto dim : shape)
    dims += fmt::format("{}, ", dim);
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  if (shape.size() == 1) dims.pop_back();
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, dims);

  // Pad with spaces so the data starts on a 64-byte boundary; the header ends in '\n'.
  const auto padded_length = [&](std::size_t preamble) {
    const std::size_t unpadded = preamble + header.size() + 1;
    return header.size() + 1 + (kHeaderAlign - unpadded % kHeaderAlign) % kHeaderAlign;
  };
  // Version 1.0 stores the header length in 16 bits; only a shape of thousands of dims needs 2.0.
  const bool v1 = padded_length(kPreambleV1) <= 0xffff;
  const std::size_t preamble = v1 ? kPreambleV1 : kPreambleV2;
  const std::size_t header_length = padded_length(preamble);
  if (header_length > 0xffffffffu) {
    throw InfervisorError(ErrorCode::kTooLarge, "cannot write .npy: header exceeds 4 GiB");
  }
  header.resize(header_length - 1, ' ');
  header += '\n';

  std::string head(kMagic);
  head += static_cast<char>(v1 ? 1 : 2);
  head += '\0';
  const std::size_t length_width = preamble - head.size();
  for (std::size_t i = 0; i < length_width; ++i) {
    head += static_cast<char>((header_length >> (8 * i)) & 0xff);  // little-endian length
  }
  head += header;
  std::vector<std::byte> out(head.size() + data.size());
  std::memcpy(out.data(), head.data(), head.size());
  if (!data.empty()) std::memcpy(out.data() + head.size(), data.data(), data.size());
  return out;
}

void write_npy(const std::filesystem::path& path, DType dtype, std::span<const std::int64_t> shape,
               std::span<const std::byte> data) {
  const auto bytes = encode_npy(dtype, shape, data);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) throw InfervisorError(system_error(fmt::format("create {}", path.string())));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw InfervisorError(system_error(fmt::format("write {}", path.string())));
    done += static_cast<std::size_t>(n);
  }
  // close() is where some file systems report a failed write (NFS, quota): check it.
  if (::close(fd.release()) != 0) {
    throw InfervisorError(system_error(fmt::format("close {}", path.string())));
  }
}

}  // namespace infervisor
