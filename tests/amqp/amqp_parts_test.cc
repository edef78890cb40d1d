// The relay's and bridge's parts that need no broker: the AMQP URL and its file, the mapping of
// a job to a message and of a message back to a job (with a real job taken from a daemon), and
// the reconnect backoff.
#include <amqp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "amqp/amqp_endpoint.h"
#include "amqp/backoff.h"
#include "amqp/message_mapping.h"
#include "taskring/producer.h"
#include "taskring/worker.h"
#include "test_util.h"

namespace taskring::amqp {
namespace {

TEST(AmqpEndpointTest, ParsesUrlsAndNeverShowsThePassword) {
  AmqpEndpoint e;
  ASSERT_OK(ParseAmqpUrl("amqp://relay:s3cret@10.0.0.5:5673/prod", &e));
  EXPECT_EQ(e.host, "10.0.0.5");
  EXPECT_EQ(e.port, 5673);
  EXPECT_EQ(e.user, "relay");
  EXPECT_EQ(e.password, "s3cret");
  EXPECT_EQ(e.vhost, "prod");
  EXPECT_FALSE(e.tls);
  EXPECT_EQ(e.Redacted().find("s3cret"), std::string::npos) << e.Redacted();
  ASSERT_OK(ParseAmqpUrl("amqps://u:p@broker.example", &e));
  EXPECT_TRUE(e.tls);
  EXPECT_EQ(e.port, 5671);
  EXPECT_EQ(e.vhost, "/");
  for (const char* bad :
       {"", "http://h", "amqp://u:p@h:99999/", "amqp://u:p@h:0/", "amqp://u:p@h:port/"}) {
    Status s = ParseAmqpUrl(bad, &e);
    EXPECT_TRUE(s.IsInvalidArgument()) << bad;
  }
  Status s = ParseAmqpUrl("amqp://u:topsecret@h:notaport/", &e);
  EXPECT_EQ(s.ToString().find("topsecret"), std::string::npos) << s.ToString();
}

TEST(AmqpEndpointTest, UrlFileMustNotBeWorldReadable) {
  test::TempDir tmp;
  const std::string path = tmp.path() + "/amqp-url";
  std::ofstream(path) << "  amqp://u:p@127.0.0.1:5672/%2f  \nignored\n";
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  std::string url;
  ASSERT_OK(ReadAmqpUrlFile(path, &url));
  EXPECT_EQ(url, "amqp://u:p@127.0.0.1:5672/%2f");
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_TRUE(ReadAmqpUrlFile(path, &url).IsInvalidArgument());
  EXPECT_TRUE(ReadAmqpUrlFile(tmp.path() + "/missing", &url).IsIOError());
}

TEST(BackoffTest, DoublesUpToItsBoundWithJitterAndResets) {
  Backoff b(100, 1000);
  uint32_t bound = 100;
  for (int i = 0; i < 8; ++i) {
    const uint32_t d = b.NextMs();
    EXPECT_GE(d, bound / 2);
    EXPECT_LE(d, bound);
    bound = std::min<uint32_t>(bound * 2, 1000);
  }
  b.Reset();
  EXPECT_LE(b.NextMs(), 100u);
}

const amqp_table_entry_t* Header(const amqp_basic_properties_t& p, std::string_view name) {
  for (int i = 0; i < p.headers.num_entries; ++i) {
    const amqp_table_entry_t& e = p.headers.entries[i];
    if (std::string_view(static_cast<const char*>(e.key.bytes), e.key.len) == name) return &e;
  }
  return nullptr;
}

// A real job (taken from a daemon) through the relay's mapping and back through the bridge's.
TEST(MessageMappingTest, AJobRoundTripsThroughAMessage) {
  const std::string queue = test::UniqueQueueName("amqpmap");
  test::TempDir tmp;
  test::Daemon d(queue, tmp.path() + "/wal");
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue);
  EnqueueOptions eo;
  eo.type = "email.send";
  eo.priority = 7;
  eo.headers = {{"trace-id", "abc"}, {"x-request-id", "r-1"}};
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("body", &id, eo));
  auto worker = test::OpenWorker(queue);
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));

  MessageBuilder builder("host-a/orders");
  const amqp_basic_properties_t& p = builder.Build(job);
  const std::string message_id(static_cast<const char*>(p.message_id.bytes), p.message_id.len);
  EXPECT_EQ(message_id, "host-a/orders/" + std::to_string(id));
  EXPECT_EQ(JobIdOfMessageId(message_id, "host-a/orders"), id);
  EXPECT_EQ(JobIdOfMessageId(message_id, "host-b/orders"), 0u);
  EXPECT_EQ(JobIdOfMessageId("host-a/orders/12x", "host-a/orders"), 0u);
  EXPECT_EQ(p.delivery_mode, AMQP_DELIVERY_PERSISTENT);
  EXPECT_EQ(p.priority, 7);
  EXPECT_EQ(p.timestamp, job.enqueued_unix_ns() / 1'000'000'000ULL);
  ASSERT_NE(Header(p, "x-taskring-attempt"), nullptr);
  EXPECT_EQ(Header(p, "x-taskring-attempt")->value.value.i64, 1);
  ASSERT_NE(Header(p, "x-taskring-enqueued-ns"), nullptr);

  MappedJob mapped;
  ASSERT_OK(MapDelivery(p, &mapped));
  EXPECT_EQ(mapped.options.idempotency_key, message_id);
  EXPECT_EQ(mapped.options.type, "email.send");
  EXPECT_EQ(mapped.options.priority, 7);
  EXPECT_EQ(mapped.options.headers, eo.headers) << "the relay's own headers are not job headers";
  EXPECT_EQ(mapped.origin_enqueued_unix_ns, job.enqueued_unix_ns());
  ASSERT_OK(worker->Complete(job));
}

TEST(MessageMappingTest, ForeignMessagesMapOrAreRefusedWithAReason) {
  amqp_basic_properties_t p{};
  MappedJob mapped;
  ASSERT_OK(MapDelivery(p, &mapped)) << "a bare message is an untyped, unkeyed job";
  EXPECT_TRUE(mapped.options.idempotency_key.empty());

  amqp_table_entry_t entries[4];
  entries[0].key = amqp_cstring_bytes("count");
  entries[0].value.kind = AMQP_FIELD_KIND_I32;
  entries[0].value.value.i32 = -3;
  entries[1].key = amqp_cstring_bytes("x-delivery-count");  // the broker's, on a redelivery
  entries[1].value.kind = AMQP_FIELD_KIND_I64;
  entries[1].value.value.i64 = 2;
  entries[2].key = amqp_cstring_bytes("ok");
  entries[2].value.kind = AMQP_FIELD_KIND_BOOLEAN;
  entries[2].value.value.boolean = 1;
  p._flags = AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_PRIORITY_FLAG;
  p.priority = 200;
  p.headers = {3, entries};
  ASSERT_OK(MapDelivery(p, &mapped));
  EXPECT_EQ(mapped.options.priority, kMaxPriority);
  EXPECT_EQ(mapped.options.headers,
            (std::vector<std::pair<std::string, std::string>>{{"count", "-3"}, {"ok", "true"}}));

  amqp_table_t nested{0, nullptr};
  entries[3].key = amqp_cstring_bytes("nested");
  entries[3].value.kind = AMQP_FIELD_KIND_TABLE;
  entries[3].value.value.table = nested;
  p.headers = {4, entries};
  Status s = MapDelivery(p, &mapped);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.ToString().find("nested"), std::string::npos) << s.ToString();

  const std::string long_id(kMaxKeyBytes + 1, 'a');
  p._flags = AMQP_BASIC_MESSAGE_ID_FLAG;
  p.message_id = amqp_cstring_bytes(long_id.c_str());
  EXPECT_TRUE(MapDelivery(p, &mapped).IsInvalidArgument());
}

}  // namespace
}  // namespace taskring::amqp
