#include "daemon/metrics_target_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace taskring::daemon {

Status WriteMetricsTargetFile(const std::string& path, const std::string& address,
                              const std::string& queue) {
  std::string target = address;
  if (target.rfind("0.0.0.0:", 0) == 0) target = "127.0.0.1" + target.substr(7);
  if (target.rfind("[::]:", 0) == 0) target = "[::1]" + target.substr(4);
  const nlohmann::json doc = nlohmann::json::array(
      {{{"targets", nlohmann::json::array({target})}, {"labels", {{"queue", queue}}}}});
  const std::string text = doc.dump(2) + "\n";
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::IOError("cannot write metrics target file " + temp + ": " +
                           std::strerror(errno));
  }
  ::fchmod(fd, 0644);  // umask may have narrowed it
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int err = errno;
  ::close(fd);
  if (!written || ::rename(temp.c_str(), path.c_str()) != 0) {
    const int e = written ? errno : err;
    ::unlink(temp.c_str());
    return Status::IOError("cannot write metrics target file " + path + ": " + std::strerror(e));
  }
  return Status::OK();
}

}  // namespace taskring::daemon
