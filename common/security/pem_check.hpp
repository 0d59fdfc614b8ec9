#pragma once

#include <string>

namespace rainbow::security {

// Start-up checks of PEM files with OpenSSL, so that a wrong file stops the service with a message
// naming the var instead of a TLS handshake failing later for reasons nobody logs. Each throws
// config::ConfigError(var, ...) on a missing, unreadable or malformed file.
void CheckCertificateFile(const std::string& var, const std::string& path);
void CheckPrivateKeyFile(const std::string& var, const std::string& path);
// The key must belong to the certificate.
void CheckKeyMatchesCertificate(const std::string& var, const std::string& cert_path,
                                const std::string& key_path);

}  // namespace rainbow::security
