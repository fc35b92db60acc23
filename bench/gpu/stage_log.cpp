#include "bench/gpu/stage_log.hpp"

#include <fstream>
#include <regex>
#include <string>

namespace infervisor::bench::gpu {

std::uint64_t log_size(const std::filesystem::path& log) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(log, ec);
  return ec ? 0 : size;
}

StageMeans read_stage_means(const std::filesystem::path& log, std::uint64_t from,
                            std::uint64_t to) {
  std::ifstream in(log, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(from));
  std::string text(to > from ? to - from : 0, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  static const std::regex line(
      R"(job [0-9]+ times: queue ([0-9.]+) us, worker ([0-9.]+) us \(input copy ([0-9.]+) us, )"
      R"(forward ([0-9.]+) us, output copy ([0-9.]+) us\))");
  StageMeans sums;
  for (std::sregex_iterator it(text.begin(), text.end(), line), end; it != end; ++it) {
    ++sums.jobs;
    sums.queue_us += std::stod((*it)[1]);
    sums.worker_us += std::stod((*it)[2]);
    sums.input_copy_us += std::stod((*it)[3]);
    sums.forward_us += std::stod((*it)[4]);
    sums.output_copy_us += std::stod((*it)[5]);
  }
  if (sums.jobs == 0) return sums;
  const auto n = static_cast<double>(sums.jobs);
  return {sums.jobs,           sums.queue_us / n,      sums.worker_us / n, sums.input_copy_us / n,
          sums.forward_us / n, sums.output_copy_us / n};
}

}  // namespace infervisor::bench::gpu
