#include "bench/e2e/in_process_baseline.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "common/blas_threads.hpp"
#include "common/child_process.hpp"
#include "common/unique_fd.hpp"

namespace infervisor::bench::e2e {
namespace json = boost::json;
namespace {

std::string read_to_end(int fd) {
  std::string text;
  char chunk[4096];
  while (true) {
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "read from the baseline");
    if (n == 0) return text;
    text.append(chunk, static_cast<std::size_t>(n));
  }
}

double number_at(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr || !value->is_number()) {
    throw std::runtime_error(fmt::format("the baseline's JSON has no number '{}'", key));
  }
  return value->to_number<double>();
}

const json::object& object_at(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr || !value->is_object()) {
    throw std::runtime_error(fmt::format("the baseline's JSON has no object '{}'", key));
  }
  return value->get_object();
}

}  // namespace

InProcessBaseline run_in_process_baseline(const std::filesystem::path& reference,
                                          const std::filesystem::path& model,
                                          const std::string& input_spec, int threads,
                                          int iterations, const std::vector<std::string>& extra) {
  std::vector<std::string> args{"--model",
                                model.string(),
                                "--bench",
                                "--input-spec",
                                input_spec,
                                "--threads",
                                std::to_string(threads),
                                "--iterations",
                                std::to_string(iterations)};
  args.insert(args.end(), extra.begin(), extra.end());
  const std::string command = fmt::format("{} {}", reference.string(), fmt::join(args, " "));
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe");
  UniqueFd read_end(ends[0]);
  UniqueFd write_end(ends[1]);
  SpawnOptions spawn;
  spawn.stdout_fd = write_end.get();
  // As the daemon does for its workers: the BLAS gets the forward's intra-op threads.
  int intra_op_threads = 1;
  for (std::size_t i = 0; i + 1 < extra.size(); ++i) {
    if (extra[i] == "--intra-op-threads") intra_op_threads = std::stoi(extra[i + 1]);
  }
  spawn.environment = blas_thread_environment(intra_op_threads);
  ChildProcess process = ChildProcess::spawn(reference, args, spawn);
  write_end.reset();  // EOF comes when the child's copy closes
  const std::string output = read_to_end(read_end.get());
  const auto status = process.wait_for(std::chrono::seconds(600));
  if (!status || !status->success()) {
    throw std::runtime_error(fmt::format(
        "`{}` {}", command, status ? status->describe() : "did not exit after closing stdout"));
  }

  boost::system::error_code ec;
  const json::value root = json::parse(output, ec);
  if (ec || !root.is_object()) {
    throw std::runtime_error(fmt::format("`{}` printed no JSON object: {}", command, output));
  }
  const auto& top = root.get_object();
  const auto& latency = object_at(top, "latency_us");
  const auto& throughput = object_at(top, "throughput");
  InProcessBaseline baseline;
  if (const auto* torch = top.if_contains("torch"); torch && torch->is_string()) {
    baseline.torch_version = std::string(torch->get_string());
  }
  baseline.latency_iterations = static_cast<int>(number_at(latency, "iterations"));
  baseline.p50_us = number_at(latency, "p50");
  baseline.p99_us = number_at(latency, "p99");
  baseline.mean_us = number_at(latency, "mean");
  baseline.threads = static_cast<int>(number_at(throughput, "threads"));
  baseline.forwards = number_at(throughput, "forwards");
  baseline.forwards_per_s = number_at(throughput, "forwards_per_s");
  if (const auto* threads_value = top.if_contains("intra_op_threads");
      threads_value && threads_value->is_number()) {
    baseline.intra_op_threads = threads_value->to_number<int>();
  }
  if (const auto* threads_value = top.if_contains("interop_threads");
      threads_value && threads_value->is_number()) {
    baseline.interop_threads = threads_value->to_number<int>();
  }
  if (const auto* text = top.if_contains("device_description"); text && text->is_string()) {
    baseline.device_description = std::string(text->get_string());
  }
  if (const auto* stages = top.if_contains("stages_us"); stages && stages->is_object()) {
    baseline.input_copy_us = number_at(stages->get_object(), "input_copy");
    baseline.forward_us = number_at(stages->get_object(), "forward");
    baseline.output_copy_us = number_at(stages->get_object(), "output_copy");
  }
  return baseline;
}

}  // namespace infervisor::bench::e2e
