# TASKRING_SANITIZE=address -> ASan + UBSan (the whole suite); =thread -> TSan (concurrency tests).
if(TASKRING_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(TASKRING_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT TASKRING_SANITIZE STREQUAL "")
  message(FATAL_ERROR "TASKRING_SANITIZE must be empty, 'address' or 'thread'")
endif()

# A sanitizer build exists to run the tests: -O1 (what ASan and TSan recommend) and line tables
# only (-g1: stack traces keep their file:line) compile a heavy test file 2.4 times as fast as
# RelWithDebInfo's -O2 -g with the sanitizers on. The C ABI tests compile C, hence both.
if(NOT TASKRING_SANITIZE STREQUAL "")
  set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O1 -g1 -DNDEBUG")
  set(CMAKE_C_FLAGS_RELWITHDEBINFO "-O1 -g1 -DNDEBUG")
endif()
