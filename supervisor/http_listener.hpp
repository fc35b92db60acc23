// Accepts connections on one socket (Unix-domain or TCP) and starts an HttpConnection for each:
// it learns who the peer is (peer_credentials.hpp), refuses a Unix peer that allow_uids and
// allow_groups do not admit (403 to its first request), and keeps the connections within
// max_connections: the one idle longest makes room, and only when none is idle does the new one
// get 503 and close.
#pragma once

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>

#include "supervisor/http_connection.hpp"
#include "supervisor/peer_access.hpp"
#include "supervisor/peer_credentials.hpp"

namespace infervisor::supervisor {

template <class Protocol>
class HttpListener {
 public:
  // `access` applies to Unix-socket peers; TCP has no credentials to judge (README: TCP is for
  // trusted networks).
  HttpListener(boost::asio::io_context& io, typename Protocol::acceptor acceptor, Router& router,
               ConnectionRegistry& registry, const HttpLimits& limits, const ServiceState& state,
               PeerAccess access = {})
      : io_(io),
        acceptor_(std::move(acceptor)),
        router_(router),
        registry_(registry),
        limits_(limits),
        state_(state),
        access_(std::move(access)),
        retry_timer_(io) {
    keep_from_children(acceptor_.native_handle());
  }

  void start() { accept_next(); }

  // At the drain: the connections waiting in the listen backlog were made before it, so they are
  // accepted and served (each request that had begun to arrive gets its normal answer); then the
  // acceptor closes.
  void accept_backlog_then_stop() {
    boost::system::error_code ec;
    acceptor_.non_blocking(true, ec);
    std::size_t accepted = 0;
    while (!ec && acceptor_.is_open()) {
      typename Protocol::socket socket(io_);
      acceptor_.accept(socket, ec);  // would_block once the backlog is empty
      if (ec) break;
      admit(std::move(socket));
      ++accepted;
    }
    if (accepted > 0)
      spdlog::info("accepted {} connection(s) waiting in the listen backlog", accepted);
    stop();
  }

  void stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    retry_timer_.cancel();
  }

 private:
  void accept_next() {
    acceptor_.async_accept(
        [this](const boost::system::error_code& ec, typename Protocol::socket socket) {
          if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
          if (ec) {
            // EMFILE and the like: keep serving the connections we have and try again soon
            // (at once would spin on the same error).
            retry_timer_.expires_after(std::chrono::milliseconds(10));
            retry_timer_.async_wait([this](const boost::system::error_code& timer_ec) {
              if (!timer_ec && acceptor_.is_open()) accept_next();
            });
            return;
          }
          admit(std::move(socket));
          accept_next();
        });
  }

  void admit(typename Protocol::socket socket) {
    keep_from_children(socket.native_handle());
    auto context = describe_peer(socket);
    auto refusal = judge(socket.native_handle(), context);
    const bool full =
        registry_.size() >= limits_.max_connections && !registry_.close_longest_idle();
    auto connection = std::make_shared<HttpConnection<Protocol>>(
        std::move(socket), router_, registry_, limits_, state_, std::move(context));
    if (full) {
      spdlog::warn("refused a connection: max_connections ({}) are open and none is idle",
                   limits_.max_connections);
      auto reply = error_reply(503, fmt::format("the daemon has max_connections ({}) open; try "
                                                "again later",
                                                limits_.max_connections));
      reply.headers.emplace_back("Retry-After", "1");
      return connection->refuse_at_once(std::move(reply));
    }
    connection->start(std::move(refusal));
  }

  // Why this peer may not use the socket (and a log line saying who it was), or nullopt.
  std::optional<std::string> judge(int fd, const RequestContext& context) const {
    if (access_.everyone() || context.transport != RequestContext::Transport::kUnix) return {};
    if (!context.peer_uid || !context.peer_gid) {
      spdlog::warn("refused a connection: the kernel did not say who the peer is (SO_PEERCRED)");
      return "the daemon cannot tell who you are (no SO_PEERCRED)";
    }
    if (access_.allows_uid(*context.peer_uid)) return {};
    const auto groups = peer_groups(fd, *context.peer_uid, *context.peer_gid);
    auto refusal = access_.refusal(*context.peer_uid, *context.peer_gid, groups);
    if (refusal) {
      spdlog::warn(
          "refused a connection from uid {} gid {} pid {}: not in allow_uids and in none "
          "of allow_groups",
          *context.peer_uid, *context.peer_gid, context.peer_pid.value_or(0));
    }
    return refusal;
  }

  // Asio opens and accepts sockets without close-on-exec: without this, every worker spawned
  // later would hold the listening socket and the client connections open at that moment.
  // (Workers are spawned from this same thread, so there is no window between accept and here.)
  static void keep_from_children(int fd) noexcept { ::fcntl(fd, F_SETFD, FD_CLOEXEC); }

  boost::asio::io_context& io_;
  typename Protocol::acceptor acceptor_;
  Router& router_;
  ConnectionRegistry& registry_;
  const HttpLimits& limits_;
  const ServiceState& state_;
  PeerAccess access_;
  boost::asio::steady_timer retry_timer_;
};

}  // namespace infervisor::supervisor
