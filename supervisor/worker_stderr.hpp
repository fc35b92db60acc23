// A worker's standard error, read through a pipe on the daemon's event loop: every line goes to
// the daemon's log under the worker's name, and the last few are kept, so that the reason a model
// FAILED can show what its dying worker said (a Python-free TorchScript traceback, a CUDA error,
// an abort message from a custom op).
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <deque>
#include <functional>
#include <string>

#include "common/unique_fd.hpp"

namespace infervisor::supervisor {

class WorkerStderr {
 public:
  static constexpr std::size_t kKeptLines = 8;
  static constexpr std::size_t kMaxLineBytes = 1024;  // longer lines are cut (and say so)

  // `name` prefixes each forwarded line ("model 'm' worker 0 (pid 42)").
  WorkerStderr(boost::asio::io_context& io, std::function<std::string()> name);
  WorkerStderr(const WorkerStderr&) = delete;
  WorkerStderr& operator=(const WorkerStderr&) = delete;
  ~WorkerStderr();

  // Creates the pipe; the write end is what the child gets as its stderr (close it in the parent
  // once the child is spawned, with child_spawned()).
  void open();
  int child_end() const noexcept { return write_end_.get(); }
  void child_spawned();

  // Reads whatever is in the pipe now (the worker has exited: nothing more will come).
  void drain() noexcept;
  // The kept lines, oldest first, joined with newlines; empty if the worker said nothing.
  std::string tail() const;

 private:
  void read_more();
  void consume(std::string_view bytes);
  void finish_line();

  std::function<std::string()> name_;
  UniqueFd read_end_;
  UniqueFd write_end_;
  boost::asio::posix::stream_descriptor watch_;
  std::array<char, 4096> buffer_{};
  std::string line_;
  bool line_cut_ = false;
  std::deque<std::string> kept_;
};

}  // namespace infervisor::supervisor
