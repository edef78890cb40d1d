// Subcommands of the `taskring` command line. Each returns the process exit code.
#ifndef TASKRING_CLI_COMMANDS_H_
#define TASKRING_CLI_COMMANDS_H_

#include <string>

namespace taskring::cli {

int EnqueueCommand(int argc, char** argv);
int WorkerCommand(int argc, char** argv);
int StatCommand(int argc, char** argv);  // also "stats"
int WalCommand(int argc, char** argv);
int DeadCommand(int argc, char** argv);
int BenchCommand(int argc, char** argv);   // execs taskring-bench (bench/loadgen)
int QueueCommand(int argc, char** argv);   // "queue list | pause | resume | purge"
int JobCommand(int argc, char** argv);     // "job show | result | cancel | wait"
int HttpCommand(int argc, char** argv);    // the HTTP gateway (src/http)
int RelayCommand(int argc, char** argv);   // local queue -> RabbitMQ (src/amqp/relay.h)
int BridgeCommand(int argc, char** argv);  // RabbitMQ -> local queue (src/amqp/bridge.h)
// "queue pause | resume | purge" (sub), from QueueCommand.
int QueueControlCommand(const std::string& sub, int argc, char** argv);

// One-line error on stderr: "taskring <cmd>: <msg>".
int Error(const std::string& cmd, const std::string& msg, int code);

}  // namespace taskring::cli

#endif  // TASKRING_CLI_COMMANDS_H_
