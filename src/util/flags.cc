#include "util/flags.h"

#include <cerrno>
#include <cstdlib>

namespace taskring::util {

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
void FlagSet::Choice(const std::string& name, std::string* dst, std::vector<std::string> choices,
                     const std::string& help) {
  flags_.push_back({name, Kind::kChoice, dst, 0, 0, std::move(choices), help});
}

bool FlagSet::Seen(const std::string& name) const {
  for (const Flag& f : flags_) {
    if (f.name == name) return f.seen;
  }
  return false;
}

Status FlagSet::Set(Flag& f, const std::string& value) {
  f.seen = true;
  switch (f.kind) {
    case Kind::kString: *static_cast<std::string*>(f.dst) = value; return Status::OK();
    case Kind::kBool: *static_cast<bool*>(f.dst) = true; return Status::OK();
    case Kind::kChoice:
      for (const std::string& c : f.choices) {
        if (c == value) {
          *static_cast<std::string*>(f.dst) = value;
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
      if (value.empty() || value[0] == '-' || *end != '\0' || errno == ERANGE || v < f.min ||
          v > f.max) {
        return Status::InvalidArgument("--" + f.name + " needs a whole number in " +
                                       std::to_string(f.min) + ".." + std::to_string(f.max) +
                                       ", not '" + value + "'");
      }
      *static_cast<uint64_t*>(f.dst) = v;
      return Status::OK();
    }
  }
  return Status::OK();
}

Status FlagSet::Parse(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
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
    Flag* flag = nullptr;
    for (Flag& f : flags_) {
      if (f.name == name) flag = &f;
    }
    if (flag == nullptr) return Status::InvalidArgument("unknown flag --" + name);
    if (flag->kind == Kind::kBool) {
      if (has_value) return Status::InvalidArgument("--" + name + " takes no value");
    } else if (!has_value) {
      if (i + 1 >= argc) return Status::InvalidArgument("--" + name + " needs a value");
      value = argv[++i];
    }
    Status s = Set(*flag, value);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

std::string FlagSet::Usage() const {
  std::string out = "usage: " + usage_ + "\n\n" + description_ + "\n\nflags:\n";
  for (const Flag& f : flags_) {
    std::string left = "  --" + f.name;
    if (f.kind == Kind::kUint) left += " N";
    if (f.kind == Kind::kString) left += " VALUE";
    if (f.kind == Kind::kChoice) {
      left += " ";
      for (size_t i = 0; i < f.choices.size(); ++i) left += (i ? "|" : "") + f.choices[i];
    }
    if (left.size() < 34)
      left.resize(34, ' ');
    else
      left += "\n" + std::string(34, ' ');
    out += left + f.help + "\n";
  }
  out += "  --help                          show this help\n";
  return out;
}

}  // namespace taskring::util
