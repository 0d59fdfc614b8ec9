#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace rainbow::config {

// A missing or invalid env var. what() names the var and says what was expected.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string var, const std::string& message)
      : std::runtime_error(message), var_(std::move(var)) {}
  const std::string& var() const { return var_; }

 private:
  std::string var_;
};

// One documented env var, recorded as a service reads its config; `--help` prints them.
struct VarDoc {
  std::string name;
  std::string default_value;  // empty for required vars
  std::string description;
  bool required = false;
  bool secret = false;
};

// Typed access to env vars, read once at start into a service's config struct.
// Secrets (and any var) may be given as NAME_FILE pointing to a file whose content (without a trailing
// newline) is the value; setting both NAME and NAME_FILE is an error.
// In "describe" mode (for --help) every getter records its var and returns a placeholder instead of
// reading or failing. Not thread-safe; use from main before starting threads.
class Env {
 public:
  using Lookup = std::function<std::optional<std::string>(const std::string&)>;

  Env();  // reads the process environment
  explicit Env(Lookup lookup);
  static Env Describe();

  std::string RequireString(const std::string& name, const std::string& description);
  std::string String(const std::string& name, const std::string& fallback, const std::string& description);
  std::string RequireSecret(const std::string& name, const std::string& description);
  // An optional secret: empty when unset. Marked secret in --help; its value is never put in an error.
  std::string Secret(const std::string& name, const std::string& description);
  int64_t Int(const std::string& name, int64_t fallback, int64_t min, int64_t max,
              const std::string& description);
  bool Bool(const std::string& name, bool fallback, const std::string& description);
  // Accepts "250ms", "5s", "2m", "1h" or a bare number of milliseconds.
  std::chrono::milliseconds Duration(const std::string& name, std::chrono::milliseconds fallback,
                                     const std::string& description);
  // One of the allowed values, case-sensitive.
  std::string Choice(const std::string& name, const std::string& fallback,
                     const std::vector<std::string>& allowed, const std::string& description);

  const std::vector<VarDoc>& docs() const { return docs_; }
  bool describing() const { return describing_; }

 private:
  std::optional<std::string> Read(const std::string& name);
  void Note(VarDoc doc);

  Lookup lookup_;
  bool describing_ = false;
  std::vector<VarDoc> docs_;
};

// Formats the vars a service read, for --help.
std::string FormatHelp(const std::string& service, const std::string& summary,
                       const std::vector<VarDoc>& docs);

}  // namespace rainbow::config
