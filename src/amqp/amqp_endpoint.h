// Where `taskring relay` and `taskring bridge` reach RabbitMQ: an AMQP URL
// (amqp[s]://USER:PASSWORD@HOST:PORT/VHOST), given on the command line or, to keep the password
// out of `ps`, as the first line of a file; and the TLS files for amqps.
#ifndef TASKRING_AMQP_AMQP_ENDPOINT_H_
#define TASKRING_AMQP_AMQP_ENDPOINT_H_

#include <string>

#include "taskring/status.h"

namespace taskring::amqp {

struct TlsFiles {
  std::string ca_cert;      // verify the broker against this CA (PEM); empty: no TLS unless amqps
  std::string client_cert;  // mutual TLS: this certificate and key (PEM)
  std::string client_key;
  bool verify_hostname = true;
};

struct AmqpEndpoint {
  std::string host;
  int port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  bool tls = false;
  TlsFiles tls_files;

  // The URL without its password, for logs and errors.
  [[nodiscard]] std::string Redacted() const;
};

// Parses an AMQP URL (rabbitmq-c's amqp_parse_url rules). InvalidArgument names what is wrong,
// never echoing the password.
Status ParseAmqpUrl(const std::string& url, AmqpEndpoint* out);

// Reads the URL from the first line of `path` (blanks around it trimmed). Refuses a file other
// users can read, since it holds a password.
Status ReadAmqpUrlFile(const std::string& path, std::string* url);

}  // namespace taskring::amqp

#endif  // TASKRING_AMQP_AMQP_ENDPOINT_H_
