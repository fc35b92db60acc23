# One place for the warning flags every target uses.
add_library(infervisor_warnings INTERFACE)
target_compile_options(infervisor_warnings INTERFACE -Wall -Wextra -Wpedantic)
