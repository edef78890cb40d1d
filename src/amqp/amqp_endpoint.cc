#include "amqp/amqp_endpoint.h"

#include <amqp.h>
#include <sys/stat.h>

#include <fstream>
#include <vector>

namespace taskring::amqp {

std::string AmqpEndpoint::Redacted() const {
  std::string vhost_part = vhost == "/" ? "%2f" : vhost;
  return std::string(tls ? "amqps" : "amqp") + "://" + user + ":***@" + host + ":" +
         std::to_string(port) + "/" + vhost_part;
}

Status ParseAmqpUrl(const std::string& url, AmqpEndpoint* out) {
  if (url.rfind("amqp://", 0) != 0 && url.rfind("amqps://", 0) != 0) {
    return Status::InvalidArgument("the AMQP URL must start with amqp:// or amqps://");
  }
  // amqp_parse_url parses in place: its results point into this buffer.
  std::vector<char> buf(url.begin(), url.end());
  buf.push_back('\0');
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buf.data(), &info) != AMQP_STATUS_OK) {
    return Status::InvalidArgument(
        "malformed AMQP URL (expected amqp[s]://USER:PASSWORD@HOST:PORT/VHOST)");
  }
  if (info.host == nullptr || *info.host == '\0') {
    return Status::InvalidArgument("the AMQP URL names no host");
  }
  if (info.port <= 0 || info.port > 65535) {
    return Status::InvalidArgument("the AMQP URL's port is out of range");
  }
  out->host = info.host;
  out->port = info.port;
  out->user = info.user != nullptr ? info.user : "guest";
  out->password = info.password != nullptr ? info.password : "guest";
  out->vhost = info.vhost != nullptr && *info.vhost != '\0' ? info.vhost : "/";
  out->tls = info.ssl != 0;
  return Status::OK();
}

Status ReadAmqpUrlFile(const std::string& path, std::string* url) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::IOError("cannot read " + path);
  if ((st.st_mode & S_IROTH) != 0) {
    return Status::InvalidArgument(path +
                                   " holds a password and is readable by every user; chmod 600 it");
  }
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read " + path);
  std::string line;
  std::getline(in, line);
  const size_t b = line.find_first_not_of(" \t\r");
  const size_t e = line.find_last_not_of(" \t\r");
  *url = b == std::string::npos ? "" : line.substr(b, e - b + 1);
  if (url->empty()) return Status::InvalidArgument(path + ": the first line holds no AMQP URL");
  return Status::OK();
}

}  // namespace taskring::amqp
