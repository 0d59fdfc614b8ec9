# One helper gives every module of ours the same flags and an alias rainbow::<name>.
# Third-party headers are included as SYSTEM so -Werror applies to our code only.
# Partial aggregate initialisation ({brokers, "client"}) is idiomatic for our config structs.
set(RAINBOW_WARNINGS -Wall -Wextra -Werror -Wpedantic -Wno-missing-field-initializers)

function(rainbow_warnings target)
  target_compile_options(${target} PRIVATE ${RAINBOW_WARNINGS})
endfunction()

# rainbow_library(<name> SOURCES ... [DEPS ...] [PRIVATE_DEPS ...])
function(rainbow_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  add_library(rainbow::${name} ALIAS ${name})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  rainbow_warnings(${name})
endfunction()

# rainbow_executable(<name> SOURCES ... [DEPS ...])
function(rainbow_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  rainbow_warnings(${name})
endfunction()

# rainbow_test(<name> SOURCES ... [DEPS ...] [LABELS ...]): a GoogleTest binary registered with ctest.
# Integration tests carry the label "integration" and read the stack's env (scripts/stack env).
function(rainbow_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  rainbow_warnings(${name})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
  if("unit" IN_LIST ARG_LABELS)
    # `cmake --build --target unit_tests` builds just these (the sanitizer job in CI).
    if(NOT TARGET unit_tests)
      add_custom_target(unit_tests)
    endif()
    add_dependencies(unit_tests ${name})
  endif()
endfunction()

# rainbow_integration_test(<name> SOURCES ... DEPS ... [TIMEOUT s]): runs against the real servers of
# the test stack (scripts/stack --test); one at a time (RESOURCE_LOCK), since some restart a server.
function(rainbow_integration_test name)
  rainbow_test(${name} ${ARGN} LABELS integration)
  set_tests_properties(${name} PROPERTIES RESOURCE_LOCK stack)
endfunction()

# rainbow_embed_migrations(<out_var> DIR <dir> FUNCTION <name> NAMESPACE <ns>): generates a .cpp
# (in the build tree) defining `std::vector<rainbow::pg::Migration> <ns>::<name>()` from <dir>/*.sql,
# and sets <out_var> to it for use in SOURCES.
function(rainbow_embed_migrations out_var)
  cmake_parse_arguments(ARG "" "DIR;FUNCTION;NAMESPACE" "" ${ARGN})
  file(GLOB sql_files CONFIGURE_DEPENDS ${ARG_DIR}/*.sql)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${ARG_FUNCTION}_embedded.cpp)
  string(REPLACE ";" "|" files_arg "${sql_files}")
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DDIR=${ARG_DIR} -DFUNCTION=${ARG_FUNCTION}
            "-DNAMESPACE_OPEN=namespace ${ARG_NAMESPACE} {" "-DNAMESPACE_CLOSE=}  // namespace ${ARG_NAMESPACE}"
            "-DFILES=${files_arg}" -P ${PROJECT_SOURCE_DIR}/cmake/EmbedSql.cmake
    DEPENDS ${sql_files} ${PROJECT_SOURCE_DIR}/cmake/EmbedSql.cmake
    COMMENT "Embedding SQL migrations of ${ARG_DIR}" VERBATIM)
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()

# rainbow_fuzz(<name> SOURCES ... CORPUS <dir> [MAX_LEN n] [RUNS n]): a libFuzzer target (only with
# RAINBOW_FUZZ, i.e. the fuzz preset: clang) and its short CI run (ctest label "fuzz"), seeded with
# <dir> read-only (new inputs go to a scratch directory in the build tree, listed first). SOURCES name
# the code under test itself, not its library, so it carries the fuzzer's coverage instrumentation.
function(rainbow_fuzz name)
  cmake_parse_arguments(ARG "" "CORPUS;MAX_LEN;RUNS" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_MAX_LEN)
    set(ARG_MAX_LEN 4096)
  endif()
  if(NOT ARG_RUNS)
    set(ARG_RUNS 50000)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  rainbow_warnings(${name})
  add_test(NAME ${name}_short
    COMMAND sh -c "mkdir -p corpus-work && exec \"$0\" -runs=${ARG_RUNS} -max_len=${ARG_MAX_LEN} corpus-work \"$1\""
            $<TARGET_FILE:${name}> ${ARG_CORPUS}
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(${name}_short PROPERTIES LABELS "fuzz" TIMEOUT 300)
endfunction()

# rainbow_service(<name>
#     SOURCES <src/...>...            the service's logic (src/), without main.cpp
#     [DEPS <target>...]              public dependencies of the library
#     [PRIVATE_DEPS <target>...]      private dependencies of the library
#     [MAIN <file>]                   the executable's main (default: main.cpp)
#     [FUZZ <target> FUZZ_SOURCES <file>... FUZZ_CORPUS <dir> [FUZZ_MAX_LEN n] [FUZZ_DEPS <target>...]])
# The one CMake call of a service folder (services/<name>/CMakeLists.txt); <name> is the folder name
# and the binary's name (e.g. loader). It creates:
#   - the object library <name_with_underscores>_lib (alias rainbow::<name_with_underscores>), linked
#     by the executable, the service's tests and its benchmark;
#   - the executable <name> from MAIN, with RAINBOW_VERSION (the project version, one for all
#     services) defined as a string literal;
#   - the service's tests: tests/CMakeLists.txt when RAINBOW_BUILD_TESTS (it sees
#     RAINBOW_SERVICE_LIB, the library's name);
#   - the libFuzzer target FUZZ and its short CI run, when RAINBOW_FUZZ (see rainbow_fuzz).
# The variable RAINBOW_SERVICE_LIB is also set in the caller's scope, for extra executables.
function(rainbow_service name)
  cmake_parse_arguments(ARG "" "MAIN;FUZZ;FUZZ_CORPUS;FUZZ_MAX_LEN" "SOURCES;DEPS;PRIVATE_DEPS;FUZZ_SOURCES;FUZZ_DEPS"
                        ${ARGN})
  string(REPLACE "-" "_" id "${name}")
  set(lib ${id}_lib)
  if(NOT ARG_MAIN)
    set(ARG_MAIN main.cpp)
  endif()
  add_library(${lib} STATIC ${ARG_SOURCES})
  add_library(rainbow::${id} ALIAS ${lib})
  target_include_directories(${lib} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${lib} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  rainbow_warnings(${lib})

  rainbow_executable(${name} SOURCES ${ARG_MAIN} DEPS ${lib})
  target_compile_definitions(${name} PRIVATE RAINBOW_VERSION="${RAINBOW_VERSION}")

  set(RAINBOW_SERVICE_LIB ${lib})
  if(RAINBOW_BUILD_TESTS AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/tests/CMakeLists.txt)
    add_subdirectory(tests)
  endif()
  if(RAINBOW_FUZZ AND ARG_FUZZ)
    set(max_len)
    if(ARG_FUZZ_MAX_LEN)
      set(max_len MAX_LEN ${ARG_FUZZ_MAX_LEN})
    endif()
    rainbow_fuzz(${ARG_FUZZ} SOURCES ${ARG_FUZZ_SOURCES} DEPS ${ARG_FUZZ_DEPS} CORPUS ${ARG_FUZZ_CORPUS} ${max_len})
  endif()
  set(RAINBOW_SERVICE_LIB ${lib} PARENT_SCOPE)
endfunction()

# rainbow_embed_text(<out_var> DIR <dir> GLOB <pattern> HEADER <header> NAMESPACE <ns>): generates a .cpp
# (in the build tree) defining `const char* const <ns>::k<Stem>` (PascalCase of the file's stem, e.g.
# lua/lease_sweep.lua -> kLeaseSweep) with each file's text, for files in <dir> matching <pattern>
# (e.g. *.lua); <header> (repo-relative) declares them extern. Sets <out_var> to the .cpp for SOURCES.
function(rainbow_embed_text out_var)
  cmake_parse_arguments(ARG "" "DIR;GLOB;HEADER;NAMESPACE" "" ${ARGN})
  file(GLOB text_files CONFIGURE_DEPENDS ${ARG_DIR}/${ARG_GLOB})
  string(MAKE_C_IDENTIFIER "${ARG_NAMESPACE}" id)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${id}_embedded_text.cpp)
  string(REPLACE ";" "|" files_arg "${text_files}")
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DDIR=${ARG_DIR} -DHEADER=${ARG_HEADER} -DNAMESPACE=${ARG_NAMESPACE}
            "-DFILES=${files_arg}" -P ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
    DEPENDS ${text_files} ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
    COMMENT "Embedding ${ARG_GLOB} of ${ARG_DIR}" VERBATIM)
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
