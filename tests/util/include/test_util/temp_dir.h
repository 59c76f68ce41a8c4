// A fresh, empty directory that is removed (with its contents) when the object dies.
#pragma once

#include <filesystem>
#include <string>

namespace tideline::testing {

class TempDir {
 public:
  // Created under $TMPDIR (or /tmp) with a unique name starting with `prefix`.
  explicit TempDir(const std::string& prefix = "tideline-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path() / name, not created.
  std::filesystem::path Sub(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace tideline::testing
