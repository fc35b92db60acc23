// What each infervisorctl command does, given its parsed command line: talks to the server and
// prints. Kept apart from main() so tests can run the commands against a fake server.
#pragma once

#include <ostream>

#include "client/client.hpp"
#include "client/ctl_args.hpp"

namespace infervisor::client {

// Endpoint and timeouts from --socket / --url / --timeout (default: default_socket_path()).
ClientOptions ctl_client_options(const CtlArgs& args);

// Runs args.command (not kHelp). Writes results to `out` and notes to `err`. Returns the exit
// status: 0, or 1 when `health` finds the server not ready. Throws InfervisorError on failure,
// its message naming what failed (the request and HTTP status, or the file). `out_is_terminal`:
// `top` clears the screen (ANSI) before each refresh instead of separating them by a blank line.
int run_ctl_command(const CtlArgs& args, std::ostream& out, std::ostream& err,
                    bool out_is_terminal = false);

}  // namespace infervisor::client
