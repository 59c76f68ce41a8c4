// gtest main that can also act as the crash-test child (see recovery_test.cc).
#include <gtest/gtest.h>

#include <cstdlib>

namespace tideline::storage {
int RunCrashChild(const char* data_dir);
}

int main(int argc, char** argv) {
  if (const char* dir = std::getenv("TIDELINE_CRASH_CHILD_DIR")) {
    return tideline::storage::RunCrashChild(dir);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
