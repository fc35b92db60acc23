// Accepts connections on one socket (Unix-domain or TCP) and starts an HttpConnection for each.
#pragma once

#include <boost/asio/io_context.hpp>
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
        state_(state) {}

  void start() { accept_next(); }
  void stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  void accept_next() {
    acceptor_.async_accept(
        [this](const boost::system::error_code& ec, typename Protocol::socket socket) {
          if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
          if (!ec) {
            std::make_shared<HttpConnection<Protocol>>(std::move(socket), router_, registry_,
                                                       limits_, state_)
                ->start();
          }
          // EMFILE and the like: keep serving the connections we have and try again.
          accept_next();
        });
  }

  boost::asio::io_context& io_;
  typename Protocol::acceptor acceptor_;
  Router& router_;
  ConnectionRegistry& registry_;
  const HttpLimits& limits_;
  const ServiceState& state_;
};

}  // namespace infervisor::supervisor
