// Fuzzes the /proc/net/tcp{,6} reader (supervisor/tcp_peer_owner.hpp) as the daemon uses it on
// each loopback TCP connection. The first byte picks the connection looked up (IPv4, IPv6 or
// v4-mapped, as in the seeds), the rest is the file's text. It never throws (noexcept), and a
// finding is a sanitizer report or an answer that changes when the text gains a header line or
// is repeated: the answer is a property of the set of lines, not of where they are.
#include <cstdint>
#include <string>
#include <string_view>

#include "supervisor/tcp_peer_owner.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace infervisor;
  namespace ip = boost::asio::ip;
  if (size == 0) return 0;
  struct Connection {
    const char* client;
    const char* daemon;
  };
  // The client's end at port 0xC862, the daemon's at 0x1F40 (8000).
  static constexpr Connection kConnections[] = {
      {"127.0.0.1", "127.0.0.1"}, {"::1", "::1"}, {"::ffff:127.0.0.1", "::ffff:127.0.0.1"}};
  const auto& connection = kConnections[data[0] % 3];
  const ip::tcp::endpoint client(ip::make_address(connection.client), 0xC862);
  const ip::tcp::endpoint daemon(ip::make_address(connection.daemon), 0x1F40);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  const auto owner = supervisor::find_tcp_socket_owner(text, client, daemon);
  const std::string with_header =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n" +
      std::string(text);
  fuzz_check(supervisor::find_tcp_socket_owner(with_header, client, daemon) == owner);
  const std::string twice = std::string(text) + "\n" + std::string(text);
  fuzz_check(supervisor::find_tcp_socket_owner(twice, client, daemon) == owner);
  return 0;
}
