#pragma once

#include <string>
#include <vector>

namespace rainbow::testing {

// A throwaway certificate authority for TLS tests, made with the openssl command in a fresh
// directory (removed with the object). Keys are P-256 and unencrypted; certificates last two days.
class TestPki {
 public:
  struct Pair {
    std::string cert;  // PEM file paths
    std::string key;
  };

  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // A self-signed CA named `name`; returns its certificate and key.
  Pair MakeCa(const std::string& name);
  // A leaf certificate signed by `ca`, subject CN=`common_name`, for server and client use, valid for
  // 127.0.0.1 and localhost (and `extra_dns`).
  Pair MakeLeaf(const Pair& ca, const std::string& name, const std::string& common_name,
                const std::vector<std::string>& extra_dns = {});
  const std::string& dir() const { return dir_; }
  std::string Path(const std::string& file) const { return dir_ + "/" + file; }

 private:
  std::string dir_;
};

// Writes `content` to `path` by rename, as a secret rotation does (readers see old or new, never half).
void ReplaceFile(const std::string& path, const std::string& content);
std::string ReadWholeFile(const std::string& path);

}  // namespace rainbow::testing
