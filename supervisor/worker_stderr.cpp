#include "supervisor/worker_stderr.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

#include "common/error.hpp"

namespace infervisor::supervisor {

WorkerStderr::WorkerStderr(boost::asio::io_context& io, std::function<std::string()> name)
    : name_(std::move(name)), watch_(io) {}

WorkerStderr::~WorkerStderr() {
  // The descriptor belongs to read_end_.
  if (watch_.is_open()) watch_.release();
}

void WorkerStderr::open() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw InfervisorError(system_error("pipe2"));
  read_end_.reset(fds[0]);
  write_end_.reset(fds[1]);
  // The child's end must block: a worker that logs faster than we read waits instead of losing
  // lines (posix_spawn's dup2 keeps the status flags of the open file description).
  ::fcntl(write_end_.get(), F_SETFL, 0);
}

void WorkerStderr::child_spawned() {
  write_end_.reset();
  watch_.assign(read_end_.get());
  read_more();
}

void WorkerStderr::read_more() {
  watch_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this](const boost::system::error_code& ec) {
                      if (ec) return;
                      const auto n = ::read(read_end_.get(), buffer_.data(), buffer_.size());
                      if (n > 0) {
                        consume({buffer_.data(), static_cast<std::size_t>(n)});
                        read_more();
                      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                        read_more();
                      } else {
                        finish_line();  // end of file: the worker and its children are gone
                      }
                    });
}

void WorkerStderr::drain() noexcept {
  if (!read_end_) return;
  while (true) {
    const auto n = ::read(read_end_.get(), buffer_.data(), buffer_.size());
    if (n <= 0) break;
    consume({buffer_.data(), static_cast<std::size_t>(n)});
  }
  finish_line();
}

void WorkerStderr::consume(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto newline = bytes.find('\n');
    const auto piece = bytes.substr(0, newline);
    const std::size_t room = kMaxLineBytes - std::min(kMaxLineBytes, line_.size());
    if (piece.size() > room) line_cut_ = true;
    line_.append(piece.substr(0, room));
    if (newline == std::string_view::npos) return;
    finish_line();
    bytes.remove_prefix(newline + 1);
  }
}

void WorkerStderr::finish_line() {
  if (line_.empty() && !line_cut_) return;
  if (line_cut_) line_ += " [cut]";
  // The worker's own log lines carry their time, level and the worker's name: they pass as they
  // are. Anything else (a library's warning, an abort message) is logged under the worker's name.
  const bool own_log_line = line_.find("infervisor-worker[") < 40;
  if (own_log_line) {
    std::fwrite(line_.data(), 1, line_.size(), stderr);
    std::fputc('\n', stderr);
  } else {
    spdlog::info("{}: {}", name_(), line_);
  }
  kept_.push_back(std::move(line_));
  if (kept_.size() > kKeptLines) kept_.pop_front();
  line_.clear();
  line_cut_ = false;
}

std::string WorkerStderr::tail() const {
  std::string text;
  for (const auto& line : kept_) {
    if (!text.empty()) text += '\n';
    text += line;
  }
  return text;
}

}  // namespace infervisor::supervisor
