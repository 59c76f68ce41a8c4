// Helpers shared by the fuzz targets.
//
// FUZZ_CHECK is an assertion that holds in every build type (the fuzz build defines NDEBUG):
// a broken invariant prints what failed and aborts, so libFuzzer saves the input as a crash.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace tideline::fuzz {

// A fresh directory for targets that need files; /dev/shm when there is one, so that fsyncs
// cost nothing. Removed at exit (libFuzzer leaves through exit()); a crashed run leaves it.
inline std::filesystem::path MakeScratchDir(const char* prefix) {
  std::error_code ec;
  const std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                         ? "/dev/shm"
                                         : std::filesystem::temp_directory_path();
  std::string pattern = (base / (std::string(prefix) + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  static std::string to_remove;  // one scratch directory per process
  to_remove = pattern;
  std::atexit([] {
    std::error_code ignored;  // best effort: nothing to do about a failure at exit
    std::filesystem::remove_all(to_remove, ignored);
  });
  return pattern;
}

}  // namespace tideline::fuzz
