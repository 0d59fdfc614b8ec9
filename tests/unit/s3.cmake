rainbow_test(s3_encoding_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/s3_encoding_test.cpp
  DEPS rainbow::s3
  LABELS unit)
