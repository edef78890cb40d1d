// taskring-amqp-ceiling: the broker's own ceiling on this host (issue 17), what the relay →
// RabbitMQ → bridge path is measured against. A plain rabbitmq-c producer publishes persistent
// messages with publisher confirms (up to --in-flight unconfirmed) while a consumer on its own
// connection acks them (basic.qos --prefetch); no taskring code. Each body starts with its send
// time (CLOCK_REALTIME ns), so the consumer measures end-to-end latency. Prints one JSON line.
//
//   taskring-amqp-ceiling --amqp URL --queue NAME [--messages N | --duration S] [--in-flight N]
//                         [--prefetch N] [--size BYTES] [--declare | --no-declare]
#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iterator>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

struct Options {
  std::string url, queue;
  uint64_t messages = 200000;
  double duration = 0;  // seconds; when set, it (not --messages) ends the run
  uint32_t in_flight = 1000, prefetch = 1000, size = 100;
  bool declare = true;
};

// A setup failure (bad URL, refused connection, a refused declare): exit 2, not a crash.
struct SetupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

int64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

template <class T>
T Number(std::string_view flag, std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    throw SetupError(std::string(flag) + ": not a number: " + std::string(text));
  return value;
}

Options ParseFlags(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) throw SetupError(std::string(flag) + " needs a value");
      return argv[++i];
    };
    if (flag == "--amqp")
      o.url = value();
    else if (flag == "--queue")
      o.queue = value();
    else if (flag == "--messages")
      o.messages = Number<uint64_t>(flag, value());
    else if (flag == "--duration")
      o.duration = Number<double>(flag, value());
    else if (flag == "--in-flight")
      o.in_flight = Number<uint32_t>(flag, value());
    else if (flag == "--prefetch")
      o.prefetch = Number<uint32_t>(flag, value());
    else if (flag == "--size")
      o.size = Number<uint32_t>(flag, value());
    else if (flag == "--declare")
      o.declare = true;
    else if (flag == "--no-declare")
      o.declare = false;
    else
      throw SetupError("unknown flag " + std::string(flag));
  }
  if (o.url.empty() || o.queue.empty()) throw SetupError("--amqp URL and --queue NAME are needed");
  if (o.in_flight == 0 || o.prefetch == 0 || o.prefetch > 65535)
    throw SetupError("--in-flight must be > 0 and --prefetch in 1..65535");
  o.size = std::max<uint32_t>(o.size, sizeof(int64_t));  // room for the send time
  return o;
}

// Throws with the broker's or the library's words when an RPC did not succeed.
void Check(amqp_rpc_reply_t reply, const char* what) {
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
  std::string why = "unknown";
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    why = amqp_error_string2(reply.library_error);
  } else if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
    const amqp_bytes_t* text = nullptr;
    if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD)
      text = &static_cast<amqp_connection_close_t*>(reply.reply.decoded)->reply_text;
    else if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD)
      text = &static_cast<amqp_channel_close_t*>(reply.reply.decoded)->reply_text;
    if (text) why.assign(static_cast<const char*>(text->bytes), text->len);
  }
  throw SetupError(std::string(what) + ": " + why);
}

// One connection with channel 1 open, closed (best effort) on scope exit.
struct Connection {
  amqp_connection_state_t state = amqp_new_connection();

  explicit Connection(const std::string& url) {
    std::string buf = url;  // amqp_parse_url writes into its argument and points into it
    amqp_connection_info info;
    amqp_default_connection_info(&info);
    if (amqp_parse_url(buf.data(), &info) != AMQP_STATUS_OK) throw SetupError("bad URL: " + url);
    amqp_socket_t* socket = amqp_tcp_socket_new(state);
    if (!socket) throw SetupError("cannot create a socket");
    if (int rc = amqp_socket_open(socket, info.host, info.port); rc != AMQP_STATUS_OK)
      throw SetupError(std::string("connect to ") + info.host + ":" + std::to_string(info.port) +
                       ": " + amqp_error_string2(rc));
    Check(amqp_login(state, info.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 60, AMQP_SASL_METHOD_PLAIN,
                     info.user, info.password),
          "login");
    amqp_channel_open(state, 1);
    Check(amqp_get_rpc_reply(state), "channel.open");
  }
  ~Connection() {
    amqp_channel_close(state, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(state, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(state);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
};

void DeclareAndPurge(Connection& c, const Options& o) {
  amqp_table_entry_t type;
  type.key = amqp_cstring_bytes("x-queue-type");
  type.value.kind = AMQP_FIELD_KIND_UTF8;
  type.value.value.bytes = amqp_cstring_bytes("quorum");
  amqp_table_t args{1, &type};
  amqp_queue_declare(c.state, 1, amqp_cstring_bytes(o.queue.c_str()), 0, 1, 0, 0, args);
  Check(amqp_get_rpc_reply(c.state), "queue.declare");
  // Old messages would carry old send times into the latency figures.
  amqp_queue_purge(c.state, 1, amqp_cstring_bytes(o.queue.c_str()));
  Check(amqp_get_rpc_reply(c.state), "queue.purge");
}

// Publisher confirms by hand (rabbitmq-c 0.11 has no amqp_publisher_confirm_wait): delivery
// tags count up from 1 per channel; an ack or nack with `multiple` settles every tag up to it.
struct Confirms {
  std::set<uint64_t> unconfirmed;
  uint64_t next_tag = 1, acked = 0, nacked = 0;

  void Settle(uint64_t tag, bool multiple, bool ack) {
    auto begin = multiple ? unconfirmed.begin() : unconfirmed.find(tag);
    auto end = multiple ? unconfirmed.upper_bound(tag)
                        : (begin == unconfirmed.end() ? begin : std::next(begin));
    (ack ? acked : nacked) += std::distance(begin, end);
    unconfirmed.erase(begin, end);
  }

  // Reads one frame; false when none arrived within `timeout` (nullptr: wait for one).
  bool ReadOne(amqp_connection_state_t state, timeval* timeout) {
    amqp_maybe_release_buffers(state);  // decoded frames live in the connection's pool
    amqp_frame_t frame;
    int rc = timeout ? amqp_simple_wait_frame_noblock(state, &frame, timeout)
                     : amqp_simple_wait_frame(state, &frame);
    if (rc == AMQP_STATUS_TIMEOUT) return false;
    if (rc != AMQP_STATUS_OK)
      throw std::runtime_error(std::string("confirm: ") + amqp_error_string2(rc));
    if (frame.frame_type != AMQP_FRAME_METHOD) return true;
    if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      auto* m = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      Settle(m->delivery_tag, m->multiple, true);
    } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
      auto* m = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
      Settle(m->delivery_tag, m->multiple, false);
    } else if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
               frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
      throw std::runtime_error("the broker closed the producer's channel");
    }
    return true;
  }
};

struct Shared {
  std::atomic<bool> producer_done{false};
  std::atomic<uint64_t> confirmed{0};  // the consumer's target once producer_done
};

Confirms Produce(Connection& c, const Options& o, Shared& shared) {
  amqp_confirm_select(c.state, 1);
  Check(amqp_get_rpc_reply(c.state), "confirm.select");
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = 2;  // persistent
  std::string body(o.size, 'x');
  Confirms confirms;
  const auto stop_at = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.duration);
  auto more = [&](uint64_t sent) {
    return o.duration > 0 ? std::chrono::steady_clock::now() < stop_at : sent < o.messages;
  };
  for (uint64_t sent = 0; more(sent); ++sent) {
    while (confirms.unconfirmed.size() >= o.in_flight) confirms.ReadOne(c.state, nullptr);
    int64_t now = RealtimeNs();
    std::memcpy(body.data(), &now, sizeof now);
    int rc = amqp_basic_publish(c.state, 1, amqp_empty_bytes, amqp_cstring_bytes(o.queue.c_str()),
                                0, 0, &props, amqp_bytes_t{body.size(), body.data()});
    if (rc != AMQP_STATUS_OK)
      throw std::runtime_error(std::string("publish: ") + amqp_error_string2(rc));
    confirms.unconfirmed.insert(confirms.next_tag++);
    timeval zero{0, 0};  // take the acks already here without waiting
    while (confirms.ReadOne(c.state, &zero)) {
    }
  }
  while (!confirms.unconfirmed.empty()) confirms.ReadOne(c.state, nullptr);
  shared.confirmed = confirms.acked;
  shared.producer_done = true;
  return confirms;
}

// Consumes and acks (multiple, every quarter prefetch) until it has every confirmed message,
// or nothing came for 10 s after the producer finished. Returns latencies in ns.
std::vector<int64_t> Consume(Connection& c, const Options& o, Shared& shared, int64_t* last_ns) {
  std::vector<int64_t> latencies;
  const uint64_t ack_every = std::max<uint32_t>(1, o.prefetch / 4);
  uint64_t unacked_tag = 0, unacked = 0;
  int idle_seconds = 0;
  while (!shared.producer_done || latencies.size() < shared.confirmed) {
    amqp_maybe_release_buffers(c.state);
    amqp_envelope_t env;
    timeval second{1, 0};
    amqp_rpc_reply_t r = amqp_consume_message(c.state, &env, &second, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) {
      if (shared.producer_done && ++idle_seconds >= 10) break;
      continue;
    }
    Check(r, "consume");
    idle_seconds = 0;
    int64_t sent = 0;
    std::memcpy(&sent, env.message.body.bytes, std::min(env.message.body.len, sizeof sent));
    *last_ns = RealtimeNs();
    latencies.push_back(*last_ns - sent);
    unacked_tag = env.delivery_tag;
    amqp_destroy_envelope(&env);
    if (++unacked >= ack_every) {
      amqp_basic_ack(c.state, 1, unacked_tag, 1);
      unacked = 0;
    }
  }
  if (unacked) amqp_basic_ack(c.state, 1, unacked_tag, 1);
  return latencies;
}

double PercentileUs(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  auto nth = v.begin() + static_cast<size_t>(p * (v.size() - 1));
  std::nth_element(v.begin(), nth, v.end());
  return *nth / 1000.0;
}

int Run(const Options& o) {
  Connection producer(o.url), consumer(o.url);
  if (o.declare) DeclareAndPurge(producer, o);
  amqp_basic_qos(consumer.state, 1, 0, static_cast<uint16_t>(o.prefetch), 0);
  Check(amqp_get_rpc_reply(consumer.state), "basic.qos");
  amqp_basic_consume(consumer.state, 1, amqp_cstring_bytes(o.queue.c_str()), amqp_empty_bytes, 0, 0,
                     0, amqp_empty_table);
  Check(amqp_get_rpc_reply(consumer.state), "basic.consume");

  Shared shared;
  Confirms confirms;
  std::string producer_error;
  const int64_t start_ns = RealtimeNs();
  int64_t last_ns = start_ns;
  std::thread producing([&] {
    try {
      confirms = Produce(producer, o, shared);
    } catch (const std::exception& e) {
      producer_error = e.what();
      shared.producer_done = true;  // the consumer stops once it has drained what came
    }
  });
  std::vector<int64_t> latencies;
  try {
    latencies = Consume(consumer, o, shared, &last_ns);
  } catch (const std::exception& e) {
    // The producer may be blocked on confirms that will never come: leave without joining it.
    std::fprintf(stderr, "taskring-amqp-ceiling: %s\n", e.what());
    std::fflush(nullptr);
    std::_Exit(1);
  }
  producing.join();
  if (!producer_error.empty()) throw std::runtime_error(producer_error);

  const double seconds = (last_ns - start_ns) / 1e9;
  std::printf(
      "{\"messages\":%zu,\"seconds\":%.3f,\"msgs_per_s\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f,"
      "\"nacked\":%llu}\n",
      latencies.size(), seconds, seconds > 0 ? latencies.size() / seconds : 0,
      PercentileUs(latencies, 0.50), PercentileUs(latencies, 0.99),
      static_cast<unsigned long long>(confirms.nacked));
  return latencies.size() == confirms.acked ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(ParseFlags(argc, argv));
  } catch (const SetupError& e) {
    std::fprintf(stderr, "taskring-amqp-ceiling: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "taskring-amqp-ceiling: %s\n", e.what());
    return 1;
  }
}
