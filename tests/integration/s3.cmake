rainbow_test(s3_client_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/s3_client_test.cpp
  DEPS rainbow::s3 test_support
  LABELS integration
  TIMEOUT 600)
