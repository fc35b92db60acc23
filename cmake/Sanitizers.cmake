# Sanitizer builds apply to every target, so a test binary and the daemons it spawns agree.
# -g1 (line tables, function names) is all a sanitizer report needs; full debug info of the
# Asio/Beast and libtorch headers only slows every compilation and link of a CI run.
if(INFERVISOR_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -g1 -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(INFERVISOR_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -g1)
  add_link_options(-fsanitize=thread)
elseif(NOT INFERVISOR_SANITIZE STREQUAL "")
  message(FATAL_ERROR "INFERVISOR_SANITIZE must be '', 'address' or 'thread', not '${INFERVISOR_SANITIZE}'")
endif()
