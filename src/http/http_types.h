// The Beast and Asio types the gateway's files share, under short names.
#ifndef TASKRING_HTTP_HTTP_TYPES_H_
#define TASKRING_HTTP_HTTP_TYPES_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>

namespace taskring::http {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;

using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;
// Delivers a request's answer. Call it exactly once, from any thread: it posts the write to the
// connection's own executor.
using Reply = std::function<void(Response)>;

}  // namespace taskring::http

#endif  // TASKRING_HTTP_HTTP_TYPES_H_
