// A Google service-account key file (the JSON `gcloud iam service-accounts
// keys create` writes): the fields the JWT flow needs, validated.
#pragma once

#include <string>
#include <string_view>

namespace aigw::gemini_plugin {

struct ServiceAccount {
  ServiceAccount() = default;
  ServiceAccount(const ServiceAccount&) = delete;
  ServiceAccount& operator=(const ServiceAccount&) = delete;
  ~ServiceAccount();  // wipes private_key_pem

  std::string client_email;    // the JWT's iss
  std::string private_key_id;  // the JWT header's kid
  std::string token_uri;       // where the assertion goes, and its aud
  // PEM (PKCS#8 "BEGIN PRIVATE KEY"). Secret: never logged, never in a
  // message; wiped with this object.
  std::string private_key_pem;
};

// Parses the key file's text. False with a message naming the field (never
// a value: the file holds the private key) on anything missing or wrong.
bool parse_service_account(std::string_view json, ServiceAccount& out, std::string& error);

// Reads a file of at most `max_bytes` whole. False with a message naming
// the path (not the content) when it cannot.
bool read_small_file(const std::string& path, size_t max_bytes, std::string& out,
                     std::string& error);

}  // namespace aigw::gemini_plugin
