// tests/support's ChildProcess: what every integration test starts its servers with. A test process
// that dies (a crash, an ASan abort) must not leave its servers running: they hold database
// connections and ports that the next test run needs.
#include "tests/support/child_process.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace rainbow::testing {
namespace {

using namespace std::chrono_literals;

TEST(ChildProcess, CapturesOutputAndExitCode) {
  ChildProcess child("/bin/sh", {"-c", "echo \"out $GREETING\"; echo err >&2; exit 3"}, {{"GREETING", "hi"}});
  EXPECT_EQ(child.Wait(10s), 3);
  EXPECT_EQ(child.Stdout(), "out hi\n");
  EXPECT_EQ(child.Stderr(), "err\n");
}

TEST(ChildProcess, ABinaryThatCannotStartIsAnErrorNamingWhy) {
  try {
    ChildProcess child("/nonexistent/server", {}, {});
    FAIL() << "no error for a missing binary";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/server"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
}

TEST(ChildProcess, DiesWithTheProcessThatStartedIt) {
  // The orphan is re-parented to this process, so its end can be observed with waitpid.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int pid_pipe[2];
  ASSERT_EQ(pipe(pid_pipe), 0);
  const pid_t test_process = fork();
  ASSERT_GE(test_process, 0);
  if (test_process == 0) {  // a test that starts a server, then dies without any cleanup
    ChildProcess server("/bin/sleep", {"60"}, {});
    const pid_t pid = server.pid();
    (void)!write(pid_pipe[1], &pid, sizeof(pid));
    _exit(1);
  }
  close(pid_pipe[1]);
  pid_t server = -1;
  ASSERT_EQ(read(pid_pipe[0], &server, sizeof(server)), static_cast<ssize_t>(sizeof(server)));
  close(pid_pipe[0]);
  int status = 0;
  ASSERT_EQ(waitpid(test_process, &status, 0), test_process);
  ASSERT_EQ(waitpid(server, &status, 0), server) << "the server outlived the process that started it";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
}

}  // namespace
}  // namespace rainbow::testing
