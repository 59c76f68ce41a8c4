#include "test_util/temp_dir.h"

#include <stdlib.h>

#include <stdexcept>
#include <system_error>

namespace tideline::testing {

TempDir::TempDir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed for " + pattern);
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  // Best effort: a leftover temp directory must not fail a test.
  std::filesystem::remove_all(path_, ec);
}

}  // namespace tideline::testing
