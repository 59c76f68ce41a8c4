#include "auth/options.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

namespace tideline::auth {
namespace {

bool ValidActionPattern(std::string_view p) {
  if (p == "*") return true;
  const size_t colon = p.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == p.size()) return false;
  for (const char c : p) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == ':' || c == '*' || c == '?' || c == '-';
    if (!ok) return false;
  }
  return p.find(':', colon + 1) == std::string_view::npos;
}

}  // namespace

Status ValidateAuthOptions(const AuthOptions& options) {
  if (options.mode == AuthMode::kSigV4 && options.principals.empty()) {
    return Status::InvalidArgument("credentials: mode sigv4 needs at least one access key");
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < options.principals.size(); ++i) {
    const Principal& p = options.principals[i];
    const std::string where = "credentials[" + std::to_string(i) + "]";
    const std::string& id = p.credentials.access_key_id;
    if (id.empty() || id.size() > 128) {
      return Status::InvalidArgument(where + ".access_key_id: expected 1..128 characters");
    }
    for (const char c : id) {
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
        return Status::InvalidArgument(where + ".access_key_id: expected letters and digits only");
      }
    }
    if (!ids.insert(id).second) {
      return Status::InvalidArgument(where + ".access_key_id: duplicate access key id " + id);
    }
    if (p.credentials.secret_access_key.empty()) {
      return Status::InvalidArgument(where + ".secret_access_key: empty secret");
    }
    for (const std::string& a : p.allow) {
      if (!ValidActionPattern(a)) {
        return Status::InvalidArgument(where + ".allow: expected SERVICE:ACTION patterns such as " +
                                       "kinesis:PutRecord or kinesis:Describe*, got \"" + a + "\"");
      }
    }
    for (const std::string& s : p.streams) {
      if (s.empty()) return Status::InvalidArgument(where + ".streams: empty pattern");
    }
  }
  if (options.max_skew_seconds < 1) {
    return Status::InvalidArgument("max_skew_seconds: expected a positive number");
  }
  return Status::Ok();
}

Result<std::string> ReadSecretFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return Status::InvalidArgument("secret file " + path +
                                   ": cannot open: " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument("secret file " + path + ": not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::InvalidArgument("secret file " + path + " has mode " + mode +
                                   ": it must not be accessible by group or others (chmod 600)");
  }
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Status::InvalidArgument("secret file " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > 4096) {
      ::close(fd);
      return Status::InvalidArgument("secret file " + path + ": longer than 4096 bytes");
    }
  }
  ::close(fd);
  const size_t b = text.find_first_not_of(" \t\r\n");
  const size_t e = text.find_last_not_of(" \t\r\n");
  if (b == std::string::npos) return Status::InvalidArgument("secret file " + path + ": empty");
  return text.substr(b, e - b + 1);
}

}  // namespace tideline::auth
