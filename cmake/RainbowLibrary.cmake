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
