// Accepts connections on one socket (Unix-domain or TCP) and starts an HttpConnection for each.
#pragma once

#include <fcntl.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>

#include "supervisor/http_connection.hpp"

namespace infervisor::supervisor {

template <class Protocol>
class HttpListener {
 public:
  HttpListener(boost::asio::io_context& io, typename Protocol::acceptor acceptor, Router& router,
               ConnectionRegistry& registry, const HttpLimits& limits, const ServiceState& state)
      : io_(io),
        acceptor_(std::move(acceptor)),
        router_(router),
        registry_(registry),
        limits_(limits),
        state_(state),
        retry_timer_(io) {
    keep_from_children(acceptor_.native_handle());
  }

  void start() { accept_next(); }
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
          keep_from_children(socket.native_handle());
          std::make_shared<HttpConnection<Protocol>>(std::move(socket), router_, registry_, limits_,
                                                     state_)
              ->start();
          accept_next();
        });
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
  boost::asio::steady_timer retry_timer_;
};

}  // namespace infervisor::supervisor
