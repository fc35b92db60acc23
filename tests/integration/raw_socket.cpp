#include "raw_socket.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <cstring>
#include <fstream>
#include <thread>

#include "running_daemon.hpp"

namespace infervisor::testing {

UniqueFd connect_unix(const std::filesystem::path& socket) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket.c_str(), sizeof(address.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0)
    return {};
  return fd;
}

UniqueFd connect_tcp(std::uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0)
    return {};
  return fd;
}

std::uint16_t free_loopback_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return probe.local_endpoint().port();
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string http_request(std::string_view method, std::string_view target, std::string_view body,
                         std::string_view headers) {
  return fmt::format("{} {} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n{}\r\n{}", method,
                     target, body.size(), headers, body);
}

std::string RawResponse::header(const std::string& lower_case_name) const {
  const auto it = headers.find(lower_case_name);
  return it == headers.end() ? "" : it->second;
}

bool ResponseReader::read_more(std::chrono::milliseconds patience) {
  if (ended_) return false;
  pollfd entry{fd_, POLLIN, 0};
  if (::poll(&entry, 1, static_cast<int>(patience.count())) != 1) return false;
  char chunk[65536];
  const auto n = ::recv(fd_, chunk, sizeof(chunk), 0);
  if (n <= 0) {
    ended_ = true;
    return false;
  }
  pending_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

std::optional<RawResponse> ResponseReader::next(std::chrono::milliseconds patience, bool head) {
  std::size_t end = 0;
  while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
    if (!read_more(patience)) return std::nullopt;
  }
  RawResponse response;
  const std::string head_text = pending_.substr(0, end);
  if (head_text.size() < 12) return std::nullopt;
  response.status = static_cast<unsigned>(std::stoul(head_text.substr(9, 3)));
  for (std::size_t line = head_text.find("\r\n"); line != std::string::npos;) {
    const auto next_line = head_text.find("\r\n", line + 2);
    const auto field = head_text.substr(
        line + 2, next_line == std::string::npos ? std::string::npos : next_line - line - 2);
    if (const auto colon = field.find(':'); colon != std::string::npos) {
      std::string name = field.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      const auto value = field.find_first_not_of(' ', colon + 1);
      response.headers[name] = value == std::string::npos ? "" : field.substr(value);
    }
    line = next_line;
  }
  const auto length_text = response.header("content-length");
  const std::size_t length = head || length_text.empty() ? 0 : std::stoul(length_text);
  while (pending_.size() < end + 4 + length) {
    if (!read_more(patience)) return std::nullopt;
  }
  response.body = pending_.substr(end + 4, length);
  pending_.erase(0, end + 4 + length);
  return response;
}

bool ResponseReader::closes(std::chrono::milliseconds patience) {
  while (read_more(patience)) {
  }
  return ended_ && pending_.empty();
}

std::size_t resident_bytes(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6)) * 1024;
  }
  return 0;
}

bool wait_for_log(const RunningDaemon& daemon, std::string_view text,
                  std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (daemon.log().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace infervisor::testing
