// infervisorctl: the command-line client for infervisord. See ctl_usage() for what it does.
#include <fmt/format.h>
#include <unistd.h>

#include <exception>
#include <iostream>
#include <string_view>
#include <vector>

#include "client/ctl_args.hpp"
#include "client/ctl_commands.hpp"

int main(int argc, char** argv) {
  using namespace infervisor::client;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  CtlArgs parsed;
  try {
    parsed = parse_ctl_args(args);
  } catch (const UsageError& error) {
    fmt::print(stderr, "infervisorctl: {}\nrun 'infervisorctl --help' for usage\n", error.what());
    return 2;
  }
  if (parsed.command == CtlCommand::kHelp) {
    fmt::print("{}", ctl_usage());
    return 0;
  }
  try {
    return run_ctl_command(parsed, std::cout, std::cerr, ::isatty(STDOUT_FILENO) == 1);
  } catch (const std::exception& error) {
    std::cout.flush();
    fmt::print(stderr, "infervisorctl: {}\n", error.what());
    return 1;
  }
}
