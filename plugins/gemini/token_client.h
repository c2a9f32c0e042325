// A small blocking HTTPS client for one thing: POSTing a form to the OAuth2
// token endpoint from the plugin's own refresher thread (never a worker).
// mbedTLS, the server certificate checked against a CA bundle and the
// host name; every wait bounded by a deadline and cut short by a stop fd,
// so that a dead endpoint neither hangs the thread nor the configuration's
// destruction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

namespace aigw::gemini_plugin {

struct TokenUri {
  bool tls = true;
  std::string host;  // a name or an IP address, without brackets
  uint16_t port = 443;
  std::string path;  // with the query, starting with '/'
};

// https://host[:port]/path. http:// only for a loopback host (127.0.0.0/8,
// ::1, localhost): a token request carries a signed assertion, which must
// not cross a network in the clear; tests use a local endpoint. False with
// a message otherwise.
bool parse_token_uri(std::string_view uri, TokenUri& out, std::string& error);

struct HttpAnswer {
  int status = 0;
  std::string body;
};

class TokenClient {
 public:
  TokenClient();
  ~TokenClient();
  TokenClient(const TokenClient&) = delete;
  TokenClient& operator=(const TokenClient&) = delete;

  // Loads the trusted CAs (PEM bundle) and seeds the random generator.
  // False with a message on failure; the client is unusable then.
  bool init(const std::string& ca_file, std::string& error);

  // POSTs `form` (application/x-www-form-urlencoded) and reads the answer.
  // Returns false with a message on a connection, TLS, timeout or protocol
  // failure; an HTTP error status is an answer, not a failure. `stop_fd`
  // (an eventfd) becoming readable aborts at once; `timeout_ms` bounds the
  // whole exchange after name resolution.
  bool post_form(const TokenUri& uri, std::string_view form, int stop_fd, int timeout_ms,
                 HttpAnswer& out, std::string& error);

  mbedtls_ctr_drbg_context& drbg() { return drbg_; }

 private:
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
  mbedtls_x509_crt ca_;
  mbedtls_ssl_config conf_;
  bool ready_ = false;
};

// Splits a whole HTTP/1.1 response (read to the connection's end): status,
// and the body after Content-Length or chunked framing. False on anything
// malformed. Exposed for the tests.
bool parse_http_answer(std::string_view raw, HttpAnswer& out, std::string& error);

}  // namespace aigw::gemini_plugin
