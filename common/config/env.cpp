#include "common/config/env.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace rainbow::config {
namespace {

std::optional<std::string> ProcessLookup(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::optional<int64_t> ParseInt(const std::string& text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

Env::Env() : lookup_(ProcessLookup) {}
Env::Env(Lookup lookup) : lookup_(std::move(lookup)) {}

Env Env::Describe() {
  Env env([](const std::string&) { return std::nullopt; });
  env.describing_ = true;
  return env;
}

void Env::Note(VarDoc doc) {
  auto same = [&](const VarDoc& d) { return d.name == doc.name; };
  if (std::find_if(docs_.begin(), docs_.end(), same) == docs_.end()) docs_.push_back(std::move(doc));
}

std::optional<std::string> Env::Read(const std::string& name) {
  if (describing_) return std::nullopt;
  auto direct = lookup_(name);
  auto file = lookup_(name + "_FILE");
  if (direct && file) {
    throw ConfigError(name, "config: set either " + name + " or " + name + "_FILE, not both");
  }
  if (!file) {
    if (direct && direct->empty()) return std::nullopt;  // an empty var counts as unset
    return direct;
  }
  std::ifstream in(*file, std::ios::binary);
  if (!in) throw ConfigError(name, "config: " + name + "_FILE=" + *file + " cannot be read");
  std::stringstream buf;
  buf << in.rdbuf();
  std::string value = buf.str();
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  if (value.empty()) throw ConfigError(name, "config: " + name + "_FILE=" + *file + " is empty");
  return value;
}

std::string Env::RequireString(const std::string& name, const std::string& description) {
  Note({name, "", description, true, false});
  if (describing_) return "<" + name + ">";
  auto v = Read(name);
  if (!v) throw ConfigError(name, "config: required env var " + name + " is not set (" + description + ")");
  return *v;
}

std::string Env::RequireSecret(const std::string& name, const std::string& description) {
  Note({name, "", description, true, true});
  if (describing_) return "<" + name + ">";
  auto v = Read(name);
  if (!v) {
    throw ConfigError(name, "config: required env var " + name + " (or " + name + "_FILE) is not set (" +
                                description + ")");
  }
  return *v;
}

std::string Env::Secret(const std::string& name, const std::string& description) {
  Note({name, "", description, false, true});
  if (describing_) return "";
  return Read(name).value_or("");
}

std::string Env::String(const std::string& name, const std::string& fallback,
                        const std::string& description) {
  Note({name, fallback, description, false, false});
  return Read(name).value_or(fallback);
}

int64_t Env::Int(const std::string& name, int64_t fallback, int64_t min, int64_t max,
                 const std::string& description) {
  Note({name, std::to_string(fallback), description, false, false});
  auto v = Read(name);
  if (!v) return fallback;
  auto parsed = ParseInt(*v);
  if (!parsed || *parsed < min || *parsed > max) {
    throw ConfigError(name, "config: " + name + "='" + *v + "' is not an integer in [" + std::to_string(min) +
                                ", " + std::to_string(max) + "]");
  }
  return *parsed;
}

bool Env::Bool(const std::string& name, bool fallback, const std::string& description) {
  Note({name, fallback ? "true" : "false", description, false, false});
  auto v = Read(name);
  if (!v) return fallback;
  std::string s = *v;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "1" || s == "true" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "no" || s == "off") return false;
  throw ConfigError(name,
                    "config: " + name + "='" + *v + "' is not a boolean (true/false/1/0/yes/no/on/off)");
}

std::chrono::milliseconds Env::Duration(const std::string& name, std::chrono::milliseconds fallback,
                                        const std::string& description) {
  Note({name, std::to_string(fallback.count()) + "ms", description, false, false});
  auto v = Read(name);
  if (!v) return fallback;
  const std::string& s = *v;
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  auto number = ParseInt(s.substr(0, digits));
  const std::string unit = s.substr(digits);
  int64_t scale = 0;
  if (unit.empty() || unit == "ms") scale = 1;
  if (unit == "s") scale = 1000;
  if (unit == "m") scale = 60'000;
  if (unit == "h") scale = 3'600'000;
  if (!number || scale == 0) {
    throw ConfigError(name, "config: " + name + "='" + s + "' is not a duration (e.g. 250ms, 5s, 2m, 1h)");
  }
  return std::chrono::milliseconds(*number * scale);
}

std::string Env::Choice(const std::string& name, const std::string& fallback,
                        const std::vector<std::string>& allowed, const std::string& description) {
  std::string options;
  for (const auto& a : allowed) options += (options.empty() ? "" : "|") + a;
  Note({name, fallback, description + " (" + options + ")", false, false});
  auto v = Read(name);
  if (!v) return fallback;
  if (std::find(allowed.begin(), allowed.end(), *v) == allowed.end()) {
    throw ConfigError(name, "config: " + name + "='" + *v + "' is not one of " + options);
  }
  return *v;
}

std::string FormatHelp(const std::string& service, const std::string& summary,
                       const std::vector<VarDoc>& docs) {
  std::ostringstream out;
  out << service << ": " << summary << "\n\nConfiguration comes only from env vars"
      << " (any var may also be given as <NAME>_FILE):\n";
  for (const auto& d : docs) {
    out << "  " << d.name;
    if (d.name.size() < 30) out << std::string(30 - d.name.size(), ' ');
    out << " " << d.description;
    if (d.required) {
      out << " [required]";
    } else if (!d.default_value.empty()) {
      out << " [default: " << d.default_value << "]";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace rainbow::config
