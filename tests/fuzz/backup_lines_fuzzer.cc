// Backup files (pipeline/include/pipeline/backup.h): lines of a <type>-failed backup file, which
// an operator may have edited or which a crash may have cut short, read back by
// `tideline backup list` and `tideline backup redrive`.
//
// The line parser is file-local in redrive.cc, so the input goes through the public path: it is
// written as one backup file, listed (ListBackupFiles), then redriven (RedriveBackups) into a
// destination that accepts every other document and fails the rest, so the rewrite of failed
// lines runs too. Every non-empty line is accounted for exactly once.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stop_token>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "pipeline/backup.h"
#include "pipeline/destination.h"

namespace {

namespace fs = std::filesystem;
using namespace tideline;
using namespace tideline::pipeline;

class AlternatingDestination : public Destination {
 public:
  std::string_view type() const override { return "opensearch"; }
  std::string description() const override { return "fuzz"; }
  Status Deliver(std::span<const Document> docs, std::span<DeliveryResult> results,
                 std::stop_token) override {
    FUZZ_CHECK(docs.size() == results.size());
    for (size_t i = 0; i < docs.size(); ++i) {
      results[i].delivered = (n_++ % 2) == 0;
      if (!results[i].delivered) {
        results[i].error_code = "400";
        results[i].error_message = "refused by the fuzz destination";
      }
    }
    return Status::Ok();
  }

 private:
  uint64_t n_ = 0;
};

const fs::path& Root() {
  static const fs::path root = tideline::fuzz::MakeScratchDir("tideline-fuzz-backup");
  return root;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path pipeline_dir = Root() / "p";
  const fs::path kind_dir = pipeline_dir / "opensearch-failed";
  fs::remove_all(pipeline_dir);
  fs::create_directories(kind_dir);
  {
    std::ofstream out(kind_dir / "backup-1.ndjson", std::ios::binary);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    FUZZ_CHECK(out.good());
  }

  const auto listed = ListBackupFiles(pipeline_dir.string());
  FUZZ_CHECK(listed.ok() && listed->size() == 1);
  const BackupFile& file = (*listed)[0];
  FUZZ_CHECK(file.kind == "opensearch-failed" && file.state == "pending");
  uint64_t counted = 0;
  for (const auto& [code, n] : file.error_codes)
    counted += n;
  FUZZ_CHECK(counted == file.lines);

  AlternatingDestination destination;
  const auto redriven = RedriveBackups(pipeline_dir.string(), destination, {}, std::stop_token());
  FUZZ_CHECK(redriven.ok());
  FUZZ_CHECK(redriven->files_done == 1);
  FUZZ_CHECK(redriven->documents_delivered + redriven->documents_failed == file.lines);
  return 0;
}
