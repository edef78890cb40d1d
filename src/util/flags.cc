#include "util/flags.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

namespace taskring::util {
namespace {

std::string Trim(const std::string& s) {
  const char* blanks = " \t\r\n\v\f";
  const size_t b = s.find_first_not_of(blanks);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(blanks) - b + 1);
}

// Reads a whole (small) file. IOError names the path and the reason.
Status ReadWholeFile(const std::string& path, std::string* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::IOError("cannot read config file " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::IOError("config file " + path + " is not a regular file");
  }
  out->clear();
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Status::IOError("cannot read config file " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > (1u << 20)) {
      ::close(fd);
      return Status::InvalidArgument("config file " + path + " is larger than 1 MiB");
    }
  }
  ::close(fd);
  return Status::OK();
}

}  // namespace

void FlagSet::String(const std::string& name, std::string* dst, const std::string& help) {
  flags_.push_back({name, Kind::kString, dst, 0, 0, {}, help});
}
void FlagSet::Uint(const std::string& name, uint64_t* dst, uint64_t min, uint64_t max,
                   const std::string& help) {
  flags_.push_back({name, Kind::kUint, dst, min, max, {}, help});
}
void FlagSet::Bool(const std::string& name, bool* dst, const std::string& help) {
  flags_.push_back({name, Kind::kBool, dst, 0, 0, {}, help});
}
void FlagSet::StringList(const std::string& name, std::vector<std::string>* dst,
                         const std::string& help) {
  flags_.push_back({name, Kind::kStringList, dst, 0, 0, {}, help});
}
void FlagSet::Choice(const std::string& name, std::string* dst, std::vector<std::string> choices,
                     const std::string& help) {
  flags_.push_back({name, Kind::kChoice, dst, 0, 0, std::move(choices), help});
}

void FlagSet::Version(std::string program, std::string version) {
  program_ = std::move(program);
  version_text_ = std::move(version);
}

void FlagSet::ConfigFlag(const std::string& help) {
  config_enabled_ = true;
  config_help_ = help;
}

FlagSet::Flag* FlagSet::Find(const std::string& name) {
  for (Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool FlagSet::Seen(const std::string& name) const {
  for (const Flag& f : flags_) {
    if (f.name == name) return f.source != Source::kDefault;
  }
  return false;
}

Status FlagSet::Set(const Flag& f, const std::string& value, bool store) {
  switch (f.kind) {
    case Kind::kString:
      if (store) *static_cast<std::string*>(f.dst) = value;
      return Status::OK();
    case Kind::kStringList:
      if (store) static_cast<std::vector<std::string>*>(f.dst)->push_back(value);
      return Status::OK();
    case Kind::kBool:
      if (value != "true" && value != "false") {
        return Status::InvalidArgument("--" + f.name + " must be true or false, not '" + value +
                                       "'");
      }
      if (store) *static_cast<bool*>(f.dst) = value == "true";
      return Status::OK();
    case Kind::kChoice:
      for (const std::string& c : f.choices) {
        if (c == value) {
          if (store) *static_cast<std::string*>(f.dst) = value;
          return Status::OK();
        }
      }
      {
        std::string list;
        for (const std::string& c : f.choices) list += (list.empty() ? "" : "|") + c;
        return Status::InvalidArgument("--" + f.name + " must be one of " + list + ", not '" +
                                       value + "'");
      }
    case Kind::kUint: {
      errno = 0;
      char* end = nullptr;
      const unsigned long long v = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || value[0] == '-' || value[0] == '+' || value[0] == ' ' || *end != '\0' ||
          errno == ERANGE || v < f.min || v > f.max) {
        return Status::InvalidArgument("--" + f.name + " needs a whole number in " +
                                       std::to_string(f.min) + ".." + std::to_string(f.max) +
                                       ", not '" + value + "'");
      }
      if (store) *static_cast<uint64_t*>(f.dst) = v;
      return Status::OK();
    }
  }
  return Status::OK();
}

Status FlagSet::Parse(int argc, char** argv, int first) {
  bool config_given = false;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      continue;
    }
    if (arg == "--version" && !version_text_.empty()) {
      version_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0)
      return Status::InvalidArgument("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (config_enabled_ && name == "config" && Find(name) == nullptr) {
      if (config_given) return Status::InvalidArgument("--config given twice");
      if (!has_value) {
        if (i + 1 >= argc) return Status::InvalidArgument("--config needs a value");
        value = argv[++i];
      }
      if (value.empty()) return Status::InvalidArgument("--config needs a file name");
      config_given = true;
      config_path_ = value;
      continue;
    }
    Flag* flag = Find(name);
    if (flag == nullptr) return Status::InvalidArgument("unknown flag --" + name);
    if (flag->source == Source::kCommandLine && flag->kind != Kind::kStringList) {
      return Status::InvalidArgument("--" + name + " given twice");
    }
    if (flag->kind == Kind::kBool) {
      if (!has_value) value = "true";
    } else if (!has_value) {
      if (i + 1 >= argc) return Status::InvalidArgument("--" + name + " needs a value");
      value = argv[++i];
    }
    // A list read from a file first (ParseFile before Parse) is replaced, not added to.
    if (flag->kind == Kind::kStringList && flag->source == Source::kFile) {
      static_cast<std::vector<std::string>*>(flag->dst)->clear();
    }
    Status s = Set(*flag, value, /*store=*/true);
    if (!s.ok()) return s;
    flag->source = Source::kCommandLine;
  }
  if (config_given && !help_ && !version_) return ParseFile(config_path_);
  return Status::OK();
}

Status FlagSet::ParseFile(const std::string& path) {
  std::string text;
  Status s = ReadWholeFile(path, &text);
  if (!s.ok()) return s;
  std::map<std::string, size_t> first_line;  // name -> line it was set on in this file
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    const std::string line = Trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    ++line_no;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument(where + "expected 'name = value', got '" + line + "'");
    }
    std::string name = Trim(line.substr(0, eq));
    const std::string value = Trim(line.substr(eq + 1));
    if (name.empty()) return Status::InvalidArgument(where + "missing name before '='");
    if (name.rfind("--", 0) == 0) {
      return Status::InvalidArgument(where + "write '" + name.substr(2) +
                                     " = ...' without the "
                                     "leading dashes");
    }
    if (config_enabled_ && name == "config" && Find(name) == nullptr) {
      return Status::InvalidArgument(where + "config cannot be set in a config file");
    }
    Flag* flag = Find(name);
    if (flag == nullptr) return Status::InvalidArgument(where + "unknown key '" + name + "'");
    if (auto [it, inserted] = first_line.emplace(name, line_no);
        !inserted && flag->kind != Kind::kStringList) {
      return Status::InvalidArgument(where + name + " given twice (first on line " +
                                     std::to_string(it->second) + ")");
    }
    // The command line wins, but a bad value in the file is still an error.
    const bool store = flag->source != Source::kCommandLine;
    s = Set(*flag, value, store);
    if (!s.ok()) return Status::InvalidArgument(where + std::string(s.message()));
    if (store) flag->source = Source::kFile;
  }
  return Status::OK();
}

std::string FlagSet::Usage() const {
  std::string out = "usage: " + usage_ + "\n\n" + description_ + "\n\nflags:\n";
  auto add = [&out](std::string left, const std::string& help) {
    if (left.size() < 34)
      left.resize(34, ' ');
    else
      left += "\n" + std::string(34, ' ');
    out += left + help + "\n";
  };
  for (const Flag& f : flags_) {
    std::string left = "  --" + f.name;
    if (f.kind == Kind::kUint) left += " N";
    if (f.kind == Kind::kString) left += " VALUE";
    if (f.kind == Kind::kStringList) left += " VALUE...";
    if (f.kind == Kind::kChoice) {
      left += " ";
      for (size_t i = 0; i < f.choices.size(); ++i) left += (i ? "|" : "") + f.choices[i];
    }
    add(left, f.help);
  }
  if (config_enabled_) add("  --config FILE", config_help_);
  if (!version_text_.empty()) add("  --version", "print \"" + program_ + " VERSION\" and exit");
  add("  --help", "show this help");
  return out;
}

}  // namespace taskring::util
