// taskring: the command line for people and shell scripts.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"
#include "util/version.h"

namespace {

constexpr const char* kUsage =
    "usage: taskring <command> [flags]\n"
    "\n"
    "commands:\n"
    "  enqueue --queue NAME [-0 | --json-lines] [--retry-busy S] [--wait S] [--priority N]\n"
    "          [--type T] [--delay-ms N | --run-at RFC3339] [--max-attempts N]\n"
    "          [--timeout-ms N] [--header K=V]... [--keyed]\n"
    "                            one job per stdin record (line, NUL-separated, or JSON line);\n"
    "                            one answer per record: accepted <id> [duplicate] | busy |\n"
    "                            skipped empty | error <reason> | unknown <id> <reason>;\n"
    "                            exit 0 all accepted, 75 some busy, 1 error\n"
    "  worker --queue NAME (--print | --exec CMD) [--type T]... [--max-jobs N]\n"
    "         [--idle-exit SECONDS]\n"
    "                            run jobs: print payloads, or run CMD with the payload on stdin\n"
    "  stat --queue NAME [--json] [--watch]\n"
    "                            gauges, counters and latency quantiles from shared memory\n"
    "                            (\"stats\" is the same command)\n"
    "  wal (dump | verify) --dir DIR\n"
    "                            print the write-ahead log, or check it (first corrupt record\n"
    "                            by file and offset)\n"
    "  dead (list | show | requeue | purge) --queue NAME [--id ID | --all]\n"
    "                            dead letters: inspect them, enqueue them again, or delete them\n"
    "  queue list [--json | --file-sd]\n"
    "                            every queue on this host: daemon state, depth, workers, metrics\n"
    "                            address; --file-sd: Prometheus file_sd targets\n"
    "  queue (pause | resume | purge) --queue NAME [--yes]\n"
    "                            stop or restart handing out jobs; cancel every queued job\n"
    "  job (show | result | cancel | wait) --queue NAME --id ID\n"
    "                            one job: its status and progress, its result, cancel it, or\n"
    "                            wait for it to finish\n"
    "  http [--listen HOST:PORT] [--queue NAME]... [--token-file F]\n"
    "                            HTTP gateway: POST a job (202 + Location), poll it, 303 to\n"
    "                            its result, 503 + Retry-After when full (docs/http.md)\n"
    "  relay --queue NAME --amqp URL --to QUEUE\n"
    "                            publish a queue's jobs to RabbitMQ, each completed once the\n"
    "                            broker confirmed it (docs/scale-out.md)\n"
    "  bridge --amqp URL --from QUEUE --queue NAME\n"
    "                            enqueue a RabbitMQ queue's messages here, each acked once\n"
    "                            accepted; the message id is the idempotency key\n"
    "  version                   print \"taskring VERSION\" (also --version)\n"
    "  bench [--target taskring|boost-mq|redis|beanstalkd] [--producers P --workers W ...]\n"
    "                            load tool: throughput, latency percentiles, CPU per job (runs\n"
    "                            taskring-bench, built with the benchmarks)\n"
    "\n"
    "Every command takes --help.\n";

}  // namespace

namespace taskring::cli {

int Error(const std::string& cmd, const std::string& msg, int code) {
  std::fprintf(stderr, "taskring %s: %s\n", cmd.c_str(), msg.c_str());
  return code;
}

}  // namespace taskring::cli

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::printf("taskring %s\n", taskring::util::kVersion);
    return 0;
  }
  if (cmd == "enqueue") return taskring::cli::EnqueueCommand(argc, argv);
  if (cmd == "worker") return taskring::cli::WorkerCommand(argc, argv);
  if (cmd == "stat" || cmd == "stats") return taskring::cli::StatCommand(argc, argv);
  if (cmd == "wal") return taskring::cli::WalCommand(argc, argv);
  if (cmd == "dead") return taskring::cli::DeadCommand(argc, argv);
  if (cmd == "queue") return taskring::cli::QueueCommand(argc, argv);
  if (cmd == "job") return taskring::cli::JobCommand(argc, argv);
  if (cmd == "http") return taskring::cli::HttpCommand(argc, argv);
  if (cmd == "relay") return taskring::cli::RelayCommand(argc, argv);
  if (cmd == "bridge") return taskring::cli::BridgeCommand(argc, argv);
  if (cmd == "bench") return taskring::cli::BenchCommand(argc, argv);
  std::fprintf(stderr, "taskring: unknown command '%s' (see taskring --help)\n", cmd.c_str());
  return 2;
}
