# Script mode (cmake -P): writes a C++ file defining
#   std::vector<rainbow::pg::Migration> <FUNCTION>()
# from the SQL files in FILES (named NNN_name.sql; NNN is the version), so a service binary carries
# its migrations and needs no files at run time. Invoked by rainbow_embed_migrations().
string(REPLACE "|" ";" files "${FILES}")
list(SORT files)
set(body "")
foreach(f IN LISTS files)
  get_filename_component(name "${f}" NAME_WE)
  string(REGEX MATCH "^[0-9]+" version "${name}")
  if(version STREQUAL "")
    message(FATAL_ERROR "migration ${f}: name must start with its version number (e.g. 001_schema.sql)")
  endif()
  math(EXPR version "${version}")
  file(READ "${f}" sql)
  string(APPEND body "      {${version}, \"${name}\", R\"rainbow_sql(${sql})rainbow_sql\"},\n")
endforeach()
file(WRITE "${OUT}.tmp" "// Generated from ${DIR} by cmake/EmbedSql.cmake; do not edit.\n#include \"common/pg/migrations.hpp\"\n\n${NAMESPACE_OPEN}\nstd::vector<rainbow::pg::Migration> ${FUNCTION}() {\n  return {\n${body}  };\n}\n${NAMESPACE_CLOSE}\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
