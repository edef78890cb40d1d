// taskring wal dump|verify --dir DIR: read a queue's write-ahead log without a daemon.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cli/text.h"
#include "util/flags.h"
#include "util/job_meta.h"
#include "wal/wal_reader.h"

namespace taskring::cli {

int WalCommand(int argc, char** argv) {
  const std::string sub = argc >= 3 ? argv[2] : "";
  std::string dir;
  uint64_t max_bytes = 64;
  util::FlagSet flags(
      "taskring wal (dump | verify) --dir DIR",
      "dump: prints every valid record of the write-ahead log in DIR, one per line (LSN, type,\n"
      "job id, attempt, payload size and its first bytes).\n"
      "verify: checks every record, read-only; reports the first corrupt record by file and\n"
      "byte offset. Exit 0 when the log is sound (a torn tail left by a crash is reported but\n"
      "is not corruption), 1 when it is corrupt.");
  flags.String("dir", &dir, "WAL directory (taskringd --dir)");
  flags.Uint("payload-bytes", &max_bytes, 0, 1 << 20, "dump: payload bytes shown per record (64)");
  const bool known = sub == "dump" || sub == "verify";
  Status s = flags.Parse(argc, argv, known ? 3 : 2);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!known) return Error("wal", "give a subcommand: dump or verify (see --help)", 2);
  if (!s.ok()) return Error("wal", std::string(s.message()) + " (see --help)", 2);
  if (dir.empty()) return Error("wal", "--dir is required (see --help)", 2);

  wal::ReplayReport report;
  if (sub == "verify") {
    s = wal::VerifyWal(dir, &report);
    if (!s.ok()) return Error("wal verify", s.ToString(), 1);
    std::printf("ok: %llu records in %llu segment(s), last LSN %llu",
                static_cast<unsigned long long>(report.records),
                static_cast<unsigned long long>(report.segments),
                static_cast<unsigned long long>(report.last_lsn));
    if (report.torn_tail_bytes != 0) {
      std::printf("; torn tail of %llu bytes in %s (cut on the next daemon start)",
                  static_cast<unsigned long long>(report.torn_tail_bytes),
                  report.torn_tail_file.c_str());
    }
    std::printf("\n");
    return 0;
  }
  wal::ReplayOptions opts;
  opts.truncate_torn_tail = false;  // a dump never changes the files
  std::string line;
  s = wal::ReplayWal(
      dir, opts,
      [&](const wal::WalRecord& r) {
        line = "lsn=" + std::to_string(r.lsn) + " type=" + wal::RecordTypeName(r.type) +
               " job=" + std::to_string(r.job_id) + " attempt=" + std::to_string(r.attempt);
        if (r.type == wal::RecordType::kEnqueue) {
          line += " max_attempts=" + std::to_string(r.max_attempts) +
                  " priority=" + std::to_string(r.priority);
          if (r.timeout_ms != 0) line += " timeout_ms=" + std::to_string(r.timeout_ms);
          util::JobMeta meta;
          if (util::DecodeJobMeta(r.meta, &meta).ok()) {  // checked when the record was read
            if (!meta.type.empty()) line += " type=" + meta.type;
            if (!meta.key.empty()) line += " key=" + meta.key;
            for (const auto& [name, value] : meta.headers) {
              line += " header." + name + "=" + Printable(value, max_bytes);
            }
          }
          line += " bytes=" + std::to_string(r.payload.size()) +
                  " payload=" + Printable(r.payload, max_bytes);
        }
        if (r.not_before_unix_ns != 0) {
          line += " not_before_unix_ns=" + std::to_string(r.not_before_unix_ns);
        }
        line += "\n";
        std::fwrite(line.data(), 1, line.size(), stdout);
        return Status::OK();
      },
      &report);
  if (!s.ok()) return Error("wal dump", s.ToString(), 1);
  return 0;
}

}  // namespace taskring::cli
