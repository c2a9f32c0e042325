#include "token_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>

#include "aigw_plugin.hpp"

namespace aigw::gemini_plugin {
namespace {

constexpr size_t kMaxAnswer = 1u << 20;  // a token answer is ~1 KiB

using Clock = std::chrono::steady_clock;

std::string mbedtls_message(int rc) {
  char buf[160];
  mbedtls_strerror(rc, buf, sizeof buf);
  return buf;
}

bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr a4{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

// One exchange's socket, deadline and stop fd: what the BIO callbacks and
// the plain-text path share.
struct Wire {
  int fd = -1;
  int stop_fd = -1;
  Clock::time_point deadline;
  std::string why;  // set when a wait ended without the socket being ready

  ~Wire() {
    if (fd >= 0) ::close(fd);
  }

  // Waits until fd has `events`; false (with `why`) on timeout, stop or error.
  bool wait(short events) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        why = "timed out";
        return false;
      }
      pollfd p[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
      int n = ::poll(p, stop_fd >= 0 ? 2 : 1, static_cast<int>(left.count()));
      if (n < 0) {
        if (errno == EINTR) continue;
        why = std::string("poll failed: ") + std::strerror(errno);
        return false;
      }
      if (stop_fd >= 0 && (p[1].revents & POLLIN) != 0) {
        why = "stopped";
        return false;
      }
      if (n > 0) return true;
    }
  }

  // Send/receive on the non-blocking socket within the deadline. Return
  // the byte count, 0 at the peer's end (recv), -1 on failure.
  long send_some(const unsigned char* buf, size_t len) {
    for (;;) {
      ssize_t n = ::send(fd, buf, len, MSG_NOSIGNAL);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        why = std::string("send failed: ") + std::strerror(errno);
        return -1;
      }
      if (!wait(POLLOUT)) return -1;
    }
  }
  long recv_some(unsigned char* buf, size_t len) {
    for (;;) {
      ssize_t n = ::recv(fd, buf, len, 0);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        why = std::string("recv failed: ") + std::strerror(errno);
        return -1;
      }
      if (!wait(POLLIN)) return -1;
    }
  }
};

int bio_send(void* ctx, const unsigned char* buf, size_t len) {
  long n = static_cast<Wire*>(ctx)->send_some(buf, len);
  return n < 0 ? MBEDTLS_ERR_NET_SEND_FAILED : static_cast<int>(n);
}

int bio_recv(void* ctx, unsigned char* buf, size_t len) {
  long n = static_cast<Wire*>(ctx)->recv_some(buf, len);
  return n < 0 ? MBEDTLS_ERR_NET_RECV_FAILED : static_cast<int>(n);
}

bool connect_any(const TokenUri& uri, Wire& w, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  std::string port = std::to_string(uri.port);
  // getaddrinfo has no deadline of its own; the resolver's (resolv.conf
  // timeout and attempts) bounds it.
  int rc = ::getaddrinfo(uri.host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0) {
    error = "cannot resolve " + uri.host + ": " + gai_strerror(rc);
    return false;
  }
  error = "cannot connect to " + uri.host + ":" + port;
  for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (w.fd >= 0) ::close(w.fd);
    w.fd = fd;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      ::freeaddrinfo(list);
      return true;
    }
    if (errno != EINPROGRESS) {
      error.append(std::string(": ") + std::strerror(errno));
      continue;
    }
    if (!w.wait(POLLOUT)) {
      error.append(": " + w.why);
      if (w.why == "stopped") break;
      continue;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (soerr == 0) {
      ::freeaddrinfo(list);
      return true;
    }
    error.append(std::string(": ") + std::strerror(soerr));
  }
  ::freeaddrinfo(list);
  return false;
}

enum class Parse { complete, incomplete, malformed };

// Decodes a chunked body; `complete` once the last chunk is seen.
Parse dechunk(std::string_view in, std::string& out) {
  out.clear();
  size_t pos = 0;
  for (;;) {
    size_t eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) return Parse::incomplete;
    size_t size = 0;
    size_t i = pos;
    for (; i < eol; ++i) {
      char c = in[i];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) break;  // a chunk extension (";...") or junk
      if (size > (kMaxAnswer >> 4)) return Parse::malformed;
      size = size * 16 + static_cast<size_t>(d);
    }
    if (i == pos || (i < eol && in[i] != ';')) return Parse::malformed;
    pos = eol + 2;
    if (size == 0) return Parse::complete;  // trailers are not read
    if (in.size() < pos + size + 2) return Parse::incomplete;
    out.append(in.substr(pos, size));
    if (in.substr(pos + size, 2) != "\r\n") return Parse::malformed;
    pos += size + 2;
  }
}

Parse parse_answer(std::string_view raw, bool at_end, HttpAnswer& out) {
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return at_end ? Parse::malformed : Parse::incomplete;
  std::string_view head = raw.substr(0, head_end);
  std::string_view body = raw.substr(head_end + 4);
  // "HTTP/1.1 200 OK"
  if (head.size() < 12 || head.substr(0, 5) != "HTTP/" || head[8] != ' ') return Parse::malformed;
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (head[i] < '0' || head[i] > '9') return Parse::malformed;
    status = status * 10 + (head[i] - '0');
  }
  out.status = status;
  bool chunked = false;
  long long length = -1;
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos) {
    size_t next = head.find("\r\n", pos + 2);
    std::string_view line = head.substr(pos + 2, next == std::string_view::npos ? std::string_view::npos
                                                                               : next - pos - 2);
    pos = next;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (name == "transfer-encoding") {
      chunked = value.find("chunked") != std::string_view::npos;
    } else if (name == "content-length") {
      length = 0;
      if (value.empty()) return Parse::malformed;
      for (char c : value) {
        if (c < '0' || c > '9' || length > static_cast<long long>(kMaxAnswer)) return Parse::malformed;
        length = length * 10 + (c - '0');
      }
    }
  }
  if (chunked) {
    Parse p = dechunk(body, out.body);
    return p == Parse::incomplete && at_end ? Parse::malformed : p;
  }
  if (length >= 0) {
    if (body.size() < static_cast<size_t>(length)) return at_end ? Parse::malformed : Parse::incomplete;
    out.body.assign(body.substr(0, static_cast<size_t>(length)));
    return Parse::complete;
  }
  // Neither: the body runs to the connection's end (we sent Connection: close).
  if (!at_end) return Parse::incomplete;
  out.body.assign(body);
  return Parse::complete;
}

}  // namespace

bool parse_token_uri(std::string_view uri, TokenUri& out, std::string& error) {
  std::string_view rest;
  if (uri.substr(0, 8) == "https://") {
    out.tls = true;
    out.port = 443;
    rest = uri.substr(8);
  } else if (uri.substr(0, 7) == "http://") {
    out.tls = false;
    out.port = 80;
    rest = uri.substr(7);
  } else {
    error = "token_uri must start with https://";
    return false;
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  for (char c : out.path) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '#') {
      error = "token_uri has a path with spaces, control characters or a fragment";
      return false;
    }
  }
  if (authority.find('@') != std::string_view::npos) {
    error = "token_uri must not carry user information";
    return false;
  }
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "token_uri has an unclosed [IPv6] host";
      return false;
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "token_uri has junk after its [IPv6] host";
        return false;
      }
      port = after.substr(1);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) {
    error = "token_uri has no host";
    return false;
  }
  out.host.assign(host);
  if (!port.empty()) {
    unsigned v = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || v > 65535) {
        error = "token_uri has a bad port";
        return false;
      }
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v == 0 || v > 65535) {
      error = "token_uri has a bad port";
      return false;
    }
    out.port = static_cast<uint16_t>(v);
  }
  if (!out.tls && !is_loopback(out.host)) {
    error = "token_uri must be https:// (plain http:// is accepted only for a loopback host, "
            "for tests)";
    return false;
  }
  return true;
}

bool parse_http_answer(std::string_view raw, HttpAnswer& out, std::string& error) {
  if (parse_answer(raw, true, out) != Parse::complete) {
    error = "the token endpoint's answer is not well-formed HTTP";
    return false;
  }
  return true;
}

TokenClient::TokenClient() {
  mbedtls_entropy_init(&entropy_);
  mbedtls_ctr_drbg_init(&drbg_);
  mbedtls_x509_crt_init(&ca_);
  mbedtls_ssl_config_init(&conf_);
}

TokenClient::~TokenClient() {
  mbedtls_ssl_config_free(&conf_);
  mbedtls_x509_crt_free(&ca_);
  mbedtls_ctr_drbg_free(&drbg_);
  mbedtls_entropy_free(&entropy_);
}

bool TokenClient::init(const std::string& ca_file, std::string& error) {
  static constexpr unsigned char kPersonal[] = "aigw gemini token client";
  int rc = mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_, kPersonal, sizeof kPersonal - 1);
  if (rc != 0) {
    error = "cannot seed the random generator: " + mbedtls_message(rc);
    return false;
  }
  rc = mbedtls_x509_crt_parse_file(&ca_, ca_file.c_str());
  // A positive result counts certificates it skipped; a bundle usually has
  // a few mbedTLS cannot read. What matters is that some were loaded.
  if (rc < 0 || ca_.version == 0) {
    error = "cannot load CA certificates from " + ca_file +
            (rc < 0 ? ": " + mbedtls_message(rc) : std::string(": none usable"));
    return false;
  }
  rc = mbedtls_ssl_config_defaults(&conf_, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                   MBEDTLS_SSL_PRESET_DEFAULT);
  if (rc != 0) {
    error = "cannot set up TLS: " + mbedtls_message(rc);
    return false;
  }
  mbedtls_ssl_conf_authmode(&conf_, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&conf_, &ca_, nullptr);
  mbedtls_ssl_conf_rng(&conf_, mbedtls_ctr_drbg_random, &drbg_);
  mbedtls_ssl_conf_min_version(&conf_, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  ready_ = true;
  return true;
}

bool TokenClient::post_form(const TokenUri& uri, std::string_view form, int stop_fd, int timeout_ms,
                            HttpAnswer& out, std::string& error) {
  if (!ready_) {
    error = "the token client is not initialised";
    return false;
  }
  Wire w;
  w.stop_fd = stop_fd;
  w.deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  if (!connect_any(uri, w, error)) return false;

  std::string req = "POST " + uri.path + " HTTP/1.1\r\nHost: ";
  bool v6 = uri.host.find(':') != std::string::npos;
  req.append(v6 ? "[" + uri.host + "]" : uri.host);
  if (uri.port != (uri.tls ? 443 : 80)) req.append(":" + std::to_string(uri.port));
  req.append("\r\nContent-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\n"
             "Connection: close\r\nUser-Agent: aigw-gemini\r\nContent-Length: ");
  req.append(std::to_string(form.size()));
  req.append("\r\n\r\n");
  req.append(form);

  std::string raw;
  unsigned char buf[16384];
  // The answer carries the access token, the request the assertion.
  struct Wipe {
    std::string& a;
    std::string& b;
    ~Wipe() {
      sdk::wipe(a);
      sdk::wipe(b);
    }
  } wipe{raw, req};
  auto fail = [&](std::string what) {
    error = "token request to " + uri.host + " failed: " + what;
    return false;
  };
  if (!uri.tls) {
    for (size_t off = 0; off < req.size();) {
      long n = w.send_some(reinterpret_cast<const unsigned char*>(req.data()) + off, req.size() - off);
      if (n < 0) return fail(w.why);
      off += static_cast<size_t>(n);
    }
    for (;;) {
      long n = w.recv_some(buf, sizeof buf);
      if (n < 0) return fail(w.why);
      if (n > 0) raw.append(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
      if (raw.size() > kMaxAnswer) return fail("the answer is larger than 1 MiB");
      Parse p = parse_answer(raw, n == 0, out);
      if (p == Parse::complete) return true;
      if (p == Parse::malformed) return fail("the answer is not well-formed HTTP");
    }
  }

  mbedtls_ssl_context ssl;
  mbedtls_ssl_init(&ssl);
  struct Free {
    mbedtls_ssl_context* s;
    ~Free() { mbedtls_ssl_free(s); }
  } free_ssl{&ssl};
  int rc = mbedtls_ssl_setup(&ssl, &conf_);
  if (rc != 0) return fail(mbedtls_message(rc));
  // The name the certificate must carry (SNI, and the check).
  rc = mbedtls_ssl_set_hostname(&ssl, uri.host.c_str());
  if (rc != 0) return fail(mbedtls_message(rc));
  mbedtls_ssl_set_bio(&ssl, &w, bio_send, bio_recv, nullptr);
  while ((rc = mbedtls_ssl_handshake(&ssl)) != 0) {
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
    uint32_t flags = mbedtls_ssl_get_verify_result(&ssl);
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0) {
      char info[256];
      mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
      std::string why = info;
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      for (char& c : why) c = c == '\n' ? ';' : c;
      return fail("the server certificate is not trusted (" + why + ")");
    }
    return fail(!w.why.empty() ? w.why : "TLS handshake: " + mbedtls_message(rc));
  }
  for (size_t off = 0; off < req.size();) {
    rc = mbedtls_ssl_write(&ssl, reinterpret_cast<const unsigned char*>(req.data()) + off, req.size() - off);
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
    if (rc < 0) return fail(!w.why.empty() ? w.why : mbedtls_message(rc));
    off += static_cast<size_t>(rc);
  }
  for (;;) {
    rc = mbedtls_ssl_read(&ssl, buf, sizeof buf);
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
    bool end = rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY;
    if (rc < 0 && !end) return fail(!w.why.empty() ? w.why : mbedtls_message(rc));
    if (rc > 0) raw.append(reinterpret_cast<char*>(buf), static_cast<size_t>(rc));
    if (raw.size() > kMaxAnswer) return fail("the answer is larger than 1 MiB");
    Parse p = parse_answer(raw, end, out);
    if (p == Parse::complete) return true;
    if (p == Parse::malformed) return fail("the answer is not well-formed HTTP");
  }
}

}  // namespace aigw::gemini_plugin
