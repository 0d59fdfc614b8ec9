#include "tests/support/test_pki.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace rainbow::testing {

namespace {

void Run(const std::string& command) {
  // openssl prints its progress on stderr; only a failure matters.
  if (std::system((command + " 2>/dev/null").c_str()) != 0) throw std::runtime_error("failed: " + command);
}

void Write(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

TestPki::TestPki() {
  std::string pattern = (std::filesystem::temp_directory_path() / "rainbow-pki-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
}

TestPki::~TestPki() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

TestPki::Pair TestPki::MakeCa(const std::string& name) {
  Pair ca{Path(name + ".pem"), Path(name + ".key")};
  Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj '/CN=" + name +
      "' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -keyout " +
      ca.key + " -out " + ca.cert);
  return ca;
}

TestPki::Pair TestPki::MakeLeaf(const Pair& ca, const std::string& name, const std::string& common_name,
                                const std::vector<std::string>& extra_dns) {
  Pair leaf{Path(name + ".pem"), Path(name + ".key")};
  const std::string csr = Path(name + ".csr");
  const std::string ext = Path(name + ".ext");
  std::string san = "IP:127.0.0.1,DNS:localhost";
  for (const auto& d : extra_dns) san += ",DNS:" + d;
  Write(
      ext,
      "subjectAltName=" + san +
          "\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n");
  Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '/CN=" + common_name +
      "' -keyout " + leaf.key + " -out " + csr);
  Run("openssl x509 -req -in " + csr + " -CA " + ca.cert + " -CAkey " + ca.key +
      " -CAcreateserial -days 2 -extfile " + ext + " -out " + leaf.cert);
  return leaf;
}

void ReplaceFile(const std::string& path, const std::string& content) {
  const std::string staged = path + ".new";
  Write(staged, content);
  std::filesystem::rename(staged, path);
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace rainbow::testing
