#include "supervisor/tcp_peer_owner.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>

#include "common/unique_fd.hpp"

namespace infervisor::supervisor {
namespace {

namespace ip = boost::asio::ip;

constexpr std::string_view kEstablished = "01";  // TCP_ESTABLISHED, as the kernel prints st
// Fields of a line, split on blanks: "sl:" local rem st tx:rx tr:when retrnsmt uid timeout inode.
// A line must reach the inode, so a line cut short in its uid never passes for a smaller uid.
constexpr std::size_t kLocalField = 1;
constexpr std::size_t kRemoteField = 2;
constexpr std::size_t kStateField = 3;
constexpr std::size_t kUidField = 7;
constexpr std::size_t kFieldsNeeded = 10;

// An address as its raw (network-order) bytes, and a port: what a line's ADDR:PORT means, and
// what an endpoint is, in one form that compares.
struct RawEndpoint {
  std::size_t address_size = 0;  // 4 (IPv4) or 16 (IPv6)
  std::array<unsigned char, 16> address{};
  std::uint16_t port = 0;
  bool operator==(const RawEndpoint&) const = default;
};

RawEndpoint raw(const ip::tcp::endpoint& endpoint) noexcept {
  RawEndpoint out;
  const auto address = endpoint.address();
  if (address.is_v4()) {
    const auto bytes = address.to_v4().to_bytes();
    std::memcpy(out.address.data(), bytes.data(), bytes.size());
    out.address_size = bytes.size();
  } else {
    const auto bytes = address.to_v6().to_bytes();
    std::memcpy(out.address.data(), bytes.data(), bytes.size());
    out.address_size = bytes.size();
  }
  out.port = endpoint.port();
  return out;
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Exactly text.size() hex digits (at most 8), or nullopt.
std::optional<std::uint32_t> fixed_hex(std::string_view text) noexcept {
  if (text.empty() || text.size() > 8) return std::nullopt;
  std::uint32_t value = 0;
  for (const char c : text) {
    const int digit = hex_digit(c);
    if (digit < 0) return std::nullopt;
    value = (value << 4) | static_cast<std::uint32_t>(digit);
  }
  return value;
}

// "0100007F:1F90" or 32 hex digits ":" 4. Each 8-digit word is a 32-bit word of the address as
// the kernel holds it (network order in memory), printed as a host integer: copying the value
// back into memory gives the address bytes again, whatever the host's byte order.
std::optional<RawEndpoint> parse_endpoint(std::string_view field) noexcept {
  const auto colon = field.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto address = field.substr(0, colon);
  const auto port = fixed_hex(field.substr(colon + 1));
  if (!port || field.size() - colon - 1 != 4) return std::nullopt;
  if (address.size() != 8 && address.size() != 32) return std::nullopt;
  RawEndpoint out;
  out.address_size = address.size() / 2;
  for (std::size_t word = 0; word * 8 < address.size(); ++word) {
    const auto value = fixed_hex(address.substr(word * 8, 8));
    if (!value) return std::nullopt;
    std::memcpy(out.address.data() + word * 4, &*value, 4);
  }
  out.port = static_cast<std::uint16_t>(*port);
  return out;
}

// "sl:" as the kernel prints it: a decimal slot number and a colon.
bool is_slot(std::string_view field) noexcept {
  if (field.size() < 2 || field.back() != ':') return false;
  for (const char c : field.substr(0, field.size() - 1)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::optional<uid_t> parse_uid(std::string_view field) noexcept {
  // from_chars takes no sign for an unsigned type and reports overflow; the whole field must go.
  std::uint32_t value = 0;
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (error != std::errc() || end != field.data() + field.size()) return std::nullopt;
  // (uid_t)-1 is no uid at all (setresuid's "unchanged"); the kernel never prints it.
  if (value == static_cast<std::uint32_t>(static_cast<uid_t>(-1))) return std::nullopt;
  return static_cast<uid_t>(value);
}

bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r';
}

// The uid of one line if it is a well-formed ESTABLISHED entry for (local, remote).
std::optional<uid_t> owner_in_line(std::string_view line, const RawEndpoint& local,
                                   const RawEndpoint& remote) noexcept {
  std::array<std::string_view, kFieldsNeeded> fields;
  std::size_t count = 0;
  std::size_t at = 0;
  while (count < fields.size()) {
    while (at < line.size() && is_blank(line[at]))
      ++at;
    if (at == line.size()) break;
    const auto start = at;
    while (at < line.size() && !is_blank(line[at]))
      ++at;
    fields[count++] = line.substr(start, at - start);
  }
  if (count < kFieldsNeeded || !is_slot(fields[0])) return std::nullopt;
  if (fields[kStateField] != kEstablished) return std::nullopt;
  const auto line_local = parse_endpoint(fields[kLocalField]);
  const auto line_remote = parse_endpoint(fields[kRemoteField]);
  if (!line_local || !line_remote || *line_local != local || *line_remote != remote) {
    return std::nullopt;
  }
  return parse_uid(fields[kUidField]);
}

bool is_loopback(const ip::address& address) noexcept {
  if (address.is_loopback()) return true;
  return address.is_v6() && address.to_v6().is_v4_mapped() &&
         ip::make_address_v4(ip::v4_mapped, address.to_v6()).is_loopback();
}

ip::tcp::endpoint unmapped(const ip::tcp::endpoint& endpoint) noexcept {
  const auto address = endpoint.address();
  if (!address.is_v6() || !address.to_v6().is_v4_mapped()) return endpoint;
  return {ip::make_address_v4(ip::v4_mapped, address.to_v6()), endpoint.port()};
}

// The whole file, or nullopt. /proc files are generated as they are read, a page or so per
// read(); with thousands of sockets the text is megabytes, so it grows as it comes.
std::optional<std::string> read_whole_file(const char* path) {
  const UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string text;
  constexpr std::size_t kChunk = 64 * 1024;
  for (;;) {
    const auto used = text.size();
    text.resize(used + kChunk);
    const auto got = ::read(fd.get(), text.data() + used, kChunk);
    if (got < 0 && errno == EINTR) {
      text.resize(used);
      continue;
    }
    if (got < 0) return std::nullopt;
    text.resize(used + static_cast<std::size_t>(got));
    if (got == 0) return text;
  }
}

std::optional<uid_t> owner_in_file(const char* path, const ip::tcp::endpoint& peer,
                                   const ip::tcp::endpoint& local) {
  const auto text = read_whole_file(path);
  if (!text) return std::nullopt;
  return find_tcp_socket_owner(*text, peer, local);
}

}  // namespace

std::optional<uid_t> find_tcp_socket_owner(std::string_view proc_net_tcp_text,
                                           const ip::tcp::endpoint& socket_local,
                                           const ip::tcp::endpoint& socket_remote) noexcept {
  const auto local = raw(socket_local);
  const auto remote = raw(socket_remote);
  std::optional<uid_t> owner;
  while (!proc_net_tcp_text.empty()) {
    const auto end = proc_net_tcp_text.find('\n');
    const auto line = proc_net_tcp_text.substr(0, end);
    proc_net_tcp_text.remove_prefix(end == std::string_view::npos ? line.size() : end + 1);
    const auto found = owner_in_line(line, local, remote);
    if (!found) continue;
    if (owner && *owner != *found) return std::nullopt;  // one 4-tuple, two owners: no answer
    owner = found;
  }
  return owner;
}

std::optional<uid_t> loopback_peer_uid(const ip::tcp::endpoint& peer,
                                       const ip::tcp::endpoint& local) noexcept {
  if (!is_loopback(peer.address())) return std::nullopt;
  try {
    if (peer.address().is_v4()) return owner_in_file("/proc/net/tcp", peer, local);
    // A v6 listener's IPv4 client: an AF_INET socket (in /proc/net/tcp) unless the client, too,
    // used AF_INET6 and connected to the mapped address.
    if (peer.address().to_v6().is_v4_mapped()) {
      const auto local4 = unmapped(local);
      if (local4.address().is_v4()) {
        if (auto owner = owner_in_file("/proc/net/tcp", unmapped(peer), local4)) return owner;
      }
    }
    return owner_in_file("/proc/net/tcp6", peer, local);
  } catch (...) {  // std::bad_alloc from a huge file: no uid, never a thrown accept loop
    return std::nullopt;
  }
}

}  // namespace infervisor::supervisor
