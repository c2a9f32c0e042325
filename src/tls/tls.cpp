// mbedTLS 2.28 behind the memory-buffer API of tls.h. Every mbedTLS object
// lives in a heap-allocated Impl so that the pointers mbedTLS keeps between
// them (config -> CA chain -> RNG, ssl -> bio context) stay valid when the
// owning objects move, and so that no other file needs mbedTLS headers.
#include "tls/tls.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

namespace aigw::tls {
namespace {

constexpr const char* k_system_ca_file = "/etc/ssl/certs/ca-certificates.crt";

// Forward-secret AEAD suites only: every provider we talk to offers them, and
// leaving out CBC and static-RSA key exchange removes the old attack surface.
constexpr int k_ciphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};

// mbedTLS 2.28's default list puts the strongest curves first, and ECDHE on
// those measured twice the server's handshake CPU and +40% on the client's,
// for no security we need. X25519 and P-256 cost the same here.
constexpr mbedtls_ecp_group_id k_curves[] = {
    MBEDTLS_ECP_DP_CURVE25519,
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_NONE,
};

std::string describe(int ret) {
  char text[200];
  mbedtls_strerror(ret, text, sizeof text);
  char code[24];
  std::snprintf(code, sizeof code, " (-0x%04x)", static_cast<unsigned>(-ret));
  return std::string(text) + code;
}

// A seeded CTR_DRBG. Not movable: the DRBG keeps a pointer to the entropy
// context for reseeding.
struct Rng {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;

  Rng() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
  }
  ~Rng() {
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  Rng(const Rng&) = delete;
  Rng& operator=(const Rng&) = delete;

  bool seed(const char* personal, std::string& why) {
    const int ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                          reinterpret_cast<const unsigned char*>(personal), std::strlen(personal));
    if (ret != 0) why = "cannot seed the TLS random generator: " + describe(ret);
    return ret == 0;
  }
};

// What clients and servers configure alike. `alpn` must live as long as the
// config (mbedTLS keeps the pointer).
bool setup_config(mbedtls_ssl_config& conf, int endpoint, Rng& rng, const char** alpn, std::string& why) {
  int ret = mbedtls_ssl_config_defaults(&conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) {
    why = "cannot set up the TLS configuration: " + describe(ret);
    return false;
  }
  // TLS 1.2 only: 1.0/1.1 are compiled into Debian's build, and 2.28's 1.3
  // is experimental (and not compiled in).
  mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_ciphersuites(&conf, k_ciphersuites);
  mbedtls_ssl_conf_curves(&conf, k_curves);
  mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &rng.drbg);
  mbedtls_ssl_conf_renegotiation(&conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
  ret = mbedtls_ssl_conf_alpn_protocols(&conf, alpn);
  if (ret != 0) {
    why = "cannot configure ALPN: " + describe(ret);
    return false;
  }
  return true;
}

const char* alert_name(unsigned char code) {
  switch (code) {
    case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE: return "handshake_failure";
    case MBEDTLS_SSL_ALERT_MSG_BAD_CERT: return "bad_certificate";
    case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED: return "certificate_expired";
    case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN: return "certificate_unknown";
    case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA: return "unknown_ca";
    case MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR: return "decode_error";
    case MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR: return "decrypt_error";
    case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION: return "protocol_version";
    case MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY: return "insufficient_security";
    case MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR: return "internal_error";
    case MBEDTLS_SSL_ALERT_MSG_UNRECOGNIZED_NAME: return "unrecognized_name";
    case MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL: return "no_application_protocol";
    default: return "alert";
  }
}

}  // namespace

// ---------------------------------------------------------------- ClientContext

struct ClientContext::Impl {
  Rng rng;
  mbedtls_x509_crt ca;
  mbedtls_ssl_config conf;
  const char* alpn[2] = {"http/1.1", nullptr};
  bool verifies = true;
  size_t ca_count = 0;

  Impl() {
    mbedtls_x509_crt_init(&ca);
    mbedtls_ssl_config_init(&conf);
  }
  ~Impl() {
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&ca);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  bool setup(std::string& why) {
    if (!rng.seed("aigw-tls-client", why)) return false;
    if (!setup_config(conf, MBEDTLS_SSL_IS_CLIENT, rng, alpn, why)) return false;
    mbedtls_ssl_conf_session_tickets(&conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
    return true;
  }
};

ClientContext::ClientContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClientContext::~ClientContext() = default;

std::unique_ptr<ClientContext> ClientContext::create(const std::string& ca_file, std::string& why) {
  auto impl = std::make_unique<Impl>();
  const std::string path = ca_file.empty() ? k_system_ca_file : ca_file;
  // > 0 counts certificates that failed to parse; system bundles can hold a
  // few that mbedTLS does not support, which is no reason to refuse the rest.
  const int ret = mbedtls_x509_crt_parse_file(&impl->ca, path.c_str());
  if (ret < 0) {
    why = "cannot load CA certificates from '" + path + "': " + describe(ret);
    return nullptr;
  }
  for (const mbedtls_x509_crt* c = &impl->ca; c != nullptr; c = c->next) {
    if (c->raw.len > 0) ++impl->ca_count;
  }
  if (impl->ca_count == 0) {
    why = "no usable CA certificate in '" + path + "'";
    return nullptr;
  }
  if (!impl->setup(why)) return nullptr;
  mbedtls_ssl_conf_authmode(&impl->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&impl->conf, &impl->ca, nullptr);
  return std::unique_ptr<ClientContext>(new ClientContext(std::move(impl)));
}

std::unique_ptr<ClientContext> ClientContext::create_insecure(std::string& why) {
  auto impl = std::make_unique<Impl>();
  impl->verifies = false;
  if (!impl->setup(why)) return nullptr;
  mbedtls_ssl_conf_authmode(&impl->conf, MBEDTLS_SSL_VERIFY_NONE);
  return std::unique_ptr<ClientContext>(new ClientContext(std::move(impl)));
}

bool ClientContext::verifies() const { return impl_->verifies; }
size_t ClientContext::ca_count() const { return impl_->ca_count; }

// ---------------------------------------------------------------- TicketKeys

struct TicketKeys::Impl {
  // Its own generator: mbedTLS calls it under the ticket context's mutex,
  // from whichever worker issues a ticket, so it must not be a worker's.
  Rng rng;
  mbedtls_ssl_ticket_context ticket;

  Impl() { mbedtls_ssl_ticket_init(&ticket); }
  ~Impl() { mbedtls_ssl_ticket_free(&ticket); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

TicketKeys::TicketKeys(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TicketKeys::~TicketKeys() = default;

std::shared_ptr<TicketKeys> TicketKeys::create(std::string& why, uint32_t lifetime_s) {
  auto impl = std::make_unique<Impl>();
  if (!impl->rng.seed("aigw-tls-tickets", why)) return nullptr;
  const int ret = mbedtls_ssl_ticket_setup(&impl->ticket, mbedtls_ctr_drbg_random, &impl->rng.drbg,
                                           MBEDTLS_CIPHER_AES_256_GCM, lifetime_s);
  if (ret != 0) {
    why = "cannot set up TLS session tickets: " + describe(ret);
    return nullptr;
  }
  return std::shared_ptr<TicketKeys>(new TicketKeys(std::move(impl)));
}

// ---------------------------------------------------------------- ServerContext

struct ServerContext::Impl {
  Rng rng;
  mbedtls_x509_crt chain;
  mbedtls_pk_context key;
  mbedtls_ssl_config conf;
  std::shared_ptr<TicketKeys> tickets;
  const char* alpn[2] = {"http/1.1", nullptr};

  Impl() {
    mbedtls_x509_crt_init(&chain);
    mbedtls_pk_init(&key);
    mbedtls_ssl_config_init(&conf);
  }
  ~Impl() {
    mbedtls_ssl_config_free(&conf);
    mbedtls_pk_free(&key);
    mbedtls_x509_crt_free(&chain);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

ServerContext::ServerContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ServerContext::~ServerContext() = default;

std::unique_ptr<ServerContext> ServerContext::create(const std::string& cert_file, const std::string& key_file,
                                                     std::string& why, std::shared_ptr<TicketKeys> tickets) {
  auto impl = std::make_unique<Impl>();
  // Unlike a CA bundle, every certificate of our own chain has to parse.
  int ret = mbedtls_x509_crt_parse_file(&impl->chain, cert_file.c_str());
  if (ret != 0) {
    why = "cannot load the TLS certificate '" + cert_file + "': " +
          (ret > 0 ? std::to_string(ret) + " certificate(s) failed to parse" : describe(ret));
    return nullptr;
  }
  ret = mbedtls_pk_parse_keyfile(&impl->key, key_file.c_str(), nullptr);
  if (ret != 0) {
    why = "cannot load the TLS key '" + key_file + "': " + describe(ret);
    return nullptr;
  }
  ret = mbedtls_pk_check_pair(&impl->chain.pk, &impl->key);
  if (ret != 0) {
    why = "the TLS key '" + key_file + "' does not belong to the first certificate of '" + cert_file +
          "': " + describe(ret);
    return nullptr;
  }
  if (!tickets) {
    tickets = TicketKeys::create(why);
    if (!tickets) return nullptr;
  }
  impl->tickets = std::move(tickets);
  if (!impl->rng.seed("aigw-tls-server", why)) return nullptr;
  if (!setup_config(impl->conf, MBEDTLS_SSL_IS_SERVER, impl->rng, impl->alpn, why)) return nullptr;
  // Clients are not asked for certificates.
  mbedtls_ssl_conf_authmode(&impl->conf, MBEDTLS_SSL_VERIFY_NONE);
  ret = mbedtls_ssl_conf_own_cert(&impl->conf, &impl->chain, &impl->key);
  if (ret != 0) {
    why = "cannot use the TLS certificate '" + cert_file + "': " + describe(ret);
    return nullptr;
  }
  mbedtls_ssl_conf_session_tickets_cb(&impl->conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse,
                                      &impl->tickets->impl_->ticket);
  return std::unique_ptr<ServerContext>(new ServerContext(std::move(impl)));
}

// ---------------------------------------------------------------- SavedSession

struct SavedSession::Impl {
  mbedtls_ssl_session session;

  Impl() { mbedtls_ssl_session_init(&session); }
  ~Impl() { mbedtls_ssl_session_free(&session); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

SavedSession::SavedSession() = default;
SavedSession::~SavedSession() = default;
SavedSession::SavedSession(SavedSession&&) noexcept = default;
SavedSession& SavedSession::operator=(SavedSession&&) noexcept = default;
bool SavedSession::empty() const { return impl_ == nullptr; }
void SavedSession::clear() { impl_.reset(); }

// ---------------------------------------------------------------- Session

struct Session::Impl {
  mbedtls_ssl_context ssl;
  std::string in;  // fed ciphertext; [in_pos, size) not yet taken by mbedTLS
  size_t in_pos = 0;
  std::string out;  // ciphertext mbedTLS produced
  std::string error;
  std::string host;        // client: the name asked for, for messages
  std::string peer_names;  // client: the names in the presented certificate
  std::vector<std::string> peer_addrs;  // client: the iPAddress entries of its subjectAltName
  // Client asked for an IP literal: its 4 or 16 bytes, which an iPAddress
  // entry of the leaf's subjectAltName must equal. Length 0 for names.
  unsigned char ip[16] = {};
  size_t ip_len = 0;
  bool ip_mismatch = false;
  bool client = false;
  bool done = false;
  bool full_handshake = false;
  bool failed = false;
  bool closed = false;

  Impl() { mbedtls_ssl_init(&ssl); }
  ~Impl() { mbedtls_ssl_free(&ssl); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  Status fail(std::string why) {
    failed = true;
    error = std::move(why);
    return Status::error;
  }
  Status fail_handshake(int ret);
};

namespace {

int send_to_buffer(void* ctx, const unsigned char* buf, size_t len) {
  auto* s = static_cast<Session::Impl*>(ctx);
  s->out.append(reinterpret_cast<const char*>(buf), len);
  return static_cast<int>(len);
}

int recv_from_buffer(void* ctx, unsigned char* buf, size_t len) {
  auto* s = static_cast<Session::Impl*>(ctx);
  const size_t avail = s->in.size() - s->in_pos;
  if (avail == 0) return MBEDTLS_ERR_SSL_WANT_READ;
  const size_t n = len < avail ? len : avail;
  std::memcpy(buf, s->in.data() + s->in_pos, n);
  s->in_pos += n;
  if (s->in_pos == s->in.size()) {
    s->in.clear();
    s->in_pos = 0;
  }
  return static_cast<int>(n);
}

// Parses an IPv4 or IPv6 literal (IPv6 with or without brackets) into
// `out`; 0 when `host` is a name.
size_t parse_ip_literal(const std::string& host, unsigned char out[16]) {
  if (inet_pton(AF_INET, host.c_str(), out) == 1) return 4;
  std::string bare = host;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') bare = bare.substr(1, bare.size() - 2);
  if (inet_pton(AF_INET6, bare.c_str(), out) == 1) return 16;
  return 0;
}

constexpr unsigned char k_san_ip_tag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS;

// Records the names and addresses in the leaf certificate so that a
// verification failure can say what the server presented. For a name,
// mbedTLS gives the verdict; for an IP literal, which mbedTLS 2.28 could only
// compare as text with DNS names and the CN, the address must be one of the
// iPAddress entries (RFC 6125, RFC 9110 4.3.4).
int check_peer_certificate(void* ctx, mbedtls_x509_crt* crt, int depth, uint32_t* flags) {
  if (depth != 0) return 0;
  auto* s = static_cast<Session::Impl*>(ctx);
  char dn[256];
  if (mbedtls_x509_dn_gets(dn, sizeof dn, &crt->subject) < 0) dn[0] = '\0';
  s->peer_names = dn;
  s->peer_addrs.clear();
  bool ip_found = false;
  // 2.28 keeps every entry of the extension in the list with its raw tag
  // byte, iPAddress ones included, though it only interprets dNSName.
  for (const mbedtls_x509_sequence* san = &crt->subject_alt_names; san != nullptr; san = san->next) {
    if (san->buf.len == 0) continue;
    if (san->buf.tag == k_san_ip_tag) {
      if (san->buf.len != 4 && san->buf.len != 16) continue;
      if (s->ip_len == san->buf.len && std::memcmp(s->ip, san->buf.p, s->ip_len) == 0) ip_found = true;
      char text[INET6_ADDRSTRLEN];
      if (inet_ntop(san->buf.len == 4 ? AF_INET : AF_INET6, san->buf.p, text, sizeof text) != nullptr) {
        s->peer_addrs.emplace_back(text);
      }
      continue;
    }
    if ((san->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK) != MBEDTLS_X509_SAN_DNS_NAME) continue;
    s->peer_names += s->peer_names.empty() ? "DNS:" : ", DNS:";
    s->peer_names.append(reinterpret_cast<const char*>(san->buf.p), san->buf.len);
  }
  if (s->ip_len != 0 && !ip_found) {
    s->ip_mismatch = true;
    *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;  // sends bad_certificate, as a name mismatch does
  }
  return 0;
}

}  // namespace

Session::Status Session::Impl::fail_handshake(int ret) {
  std::string why = client ? "TLS handshake with '" + host + "' failed: " : "TLS handshake failed: ";
  if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
    char info[512];
    uint32_t flags = mbedtls_ssl_get_verify_result(&ssl);
    // mbedTLS's text for the flag we set speaks of a CN; ours names the address.
    if (ip_mismatch) flags &= ~static_cast<uint32_t>(MBEDTLS_X509_BADCERT_CN_MISMATCH);
    const int n = flags != 0 ? mbedtls_x509_crt_verify_info(info, sizeof info, "", flags) : 0;
    std::string reasons = n > 0 ? std::string(info, static_cast<size_t>(n)) : std::string();
    // One line per reason; a log line wants them joined.
    while (!reasons.empty() && reasons.back() == '\n') reasons.pop_back();
    for (size_t p = reasons.find('\n'); p != std::string::npos; p = reasons.find('\n', p)) reasons.replace(p, 1, "; ");
    if (ip_mismatch) {
      std::string addrs;
      for (const std::string& a : peer_addrs) addrs += (addrs.empty() ? "" : ", ") + a;
      if (!reasons.empty()) reasons += "; ";
      reasons += "the certificate is not valid for the address " + host + " (its addresses: " +
                 (addrs.empty() ? "none" : addrs) + "; its names: " + (peer_names.empty() ? "none" : peer_names) +
                 ")";
    } else {
      if (reasons.empty()) reasons = "unknown reason";
      std::string presented = peer_names;
      for (const std::string& a : peer_addrs) presented += (presented.empty() ? "IP:" : ", IP:") + a;
      if (!presented.empty()) reasons += " (the server presented " + presented + ")";
    }
    why += "certificate verification failed: " + reasons;
  } else if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && ssl.in_msg != nullptr) {
    const unsigned char code = ssl.in_msg[1];
    why += std::string("the peer sent a fatal ") + alert_name(code) + " alert (" + std::to_string(code) + ")";
  } else {
    why += describe(ret);
  }
  return fail(std::move(why));
}

Session::Session() = default;
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

bool Session::init_client(ClientContext& ctx, std::string_view sni_host, const SavedSession* resume,
                          std::string& why) {
  if (impl_) {
    why = "TLS session initialised twice";
    return false;
  }
  if (sni_host.find('\0') != std::string_view::npos) {
    why = "TLS host name contains a NUL byte";
    return false;
  }
  // mbedTLS 2.28 quietly skips the name check when no name is set.
  if (sni_host.empty() && ctx.impl_->verifies) {
    why = "a TLS client that verifies certificates needs a host name";
    return false;
  }
  auto impl = std::make_unique<Impl>();
  impl->client = true;
  impl->host = std::string(sni_host);
  impl->ip_len = parse_ip_literal(impl->host, impl->ip);
  int ret = mbedtls_ssl_setup(&impl->ssl, &ctx.impl_->conf);
  // An IP literal is neither sent as SNI (RFC 6066 3 allows host names only)
  // nor given to mbedTLS, which would match it against DNS names and the
  // CN; check_peer_certificate compares it with the iPAddress entries.
  if (ret == 0 && !impl->host.empty() && impl->ip_len == 0) {
    ret = mbedtls_ssl_set_hostname(&impl->ssl, impl->host.c_str());
  }
  if (ret == 0 && resume != nullptr && resume->impl_ != nullptr) {
    ret = mbedtls_ssl_set_session(&impl->ssl, &resume->impl_->session);
  }
  if (ret != 0) {
    why = "cannot set up a TLS session for '" + impl->host + "': " + describe(ret);
    return false;
  }
  mbedtls_ssl_set_bio(&impl->ssl, impl.get(), send_to_buffer, recv_from_buffer, nullptr);
  mbedtls_ssl_set_verify(&impl->ssl, check_peer_certificate, impl.get());
  impl_ = std::move(impl);
  return true;
}

bool Session::init_server(ServerContext& ctx, std::string& why) {
  if (impl_) {
    why = "TLS session initialised twice";
    return false;
  }
  auto impl = std::make_unique<Impl>();
  const int ret = mbedtls_ssl_setup(&impl->ssl, &ctx.impl_->conf);
  if (ret != 0) {
    why = "cannot set up a TLS session: " + describe(ret);
    return false;
  }
  mbedtls_ssl_set_bio(&impl->ssl, impl.get(), send_to_buffer, recv_from_buffer, nullptr);
  impl_ = std::move(impl);
  return true;
}

void Session::feed(std::string_view ciphertext) {
  if (!impl_) return;
  impl_->in.append(ciphertext.data(), ciphertext.size());
}

bool Session::has_output() const { return impl_ && !impl_->out.empty(); }

std::string Session::take_output() {
  std::string o;
  if (impl_) o.swap(impl_->out);
  return o;
}

Session::Status Session::handshake() {
  if (!impl_) return Status::error;
  Impl& s = *impl_;
  if (s.failed) return Status::error;
  if (s.done) return Status::ok;
  // Stepping ourselves instead of mbedtls_ssl_handshake() lets us see the
  // states go by: only a full handshake passes through ServerHelloDone, and
  // 2.28 has no public "was this resumed" query.
  while (s.ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
    const int ret = mbedtls_ssl_handshake_step(&s.ssl);
    if (s.ssl.state == MBEDTLS_SSL_SERVER_HELLO_DONE) s.full_handshake = true;
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) return Status::want_io;
    if (ret != 0) return s.fail_handshake(ret);
  }
  s.done = true;
  return Status::ok;
}

Session::Status Session::write(std::string_view plain) {
  if (!impl_) return Status::error;
  Impl& s = *impl_;
  if (s.failed) return Status::error;
  if (!s.done) return s.fail("TLS write before the handshake completed");
  size_t off = 0;
  while (off < plain.size()) {
    // Never WANT_WRITE: the output buffer takes everything.
    const int ret = mbedtls_ssl_write(&s.ssl, reinterpret_cast<const unsigned char*>(plain.data()) + off,
                                      plain.size() - off);
    if (ret < 0) return s.fail("TLS write failed: " + describe(ret));
    off += static_cast<size_t>(ret);
  }
  return Status::ok;
}

Session::Status Session::read(std::string& plain_out) {
  if (!impl_) return Status::error;
  Impl& s = *impl_;
  if (s.failed) return Status::error;
  if (s.closed) return Status::closed;
  if (!s.done) return s.fail("TLS read before the handshake completed");
  constexpr size_t k_chunk = 16 * 1024;  // one record's worth
  bool got = false;
  for (;;) {
    const size_t old = plain_out.size();
    plain_out.resize(old + k_chunk);
    const int ret = mbedtls_ssl_read(&s.ssl, reinterpret_cast<unsigned char*>(plain_out.data() + old), k_chunk);
    plain_out.resize(old + (ret > 0 ? static_cast<size_t>(ret) : 0));
    if (ret > 0) {
      got = true;
      continue;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
      return got ? Status::ok : Status::want_io;
    }
    if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
      s.closed = true;
      return Status::closed;
    }
    if (ret == 0) return s.fail("TLS connection ended without close_notify");
    if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && s.ssl.in_msg != nullptr) {
      const unsigned char code = s.ssl.in_msg[1];
      return s.fail(std::string("TLS read failed: the peer sent a fatal ") + alert_name(code) + " alert (" +
                    std::to_string(code) + ")");
    }
    return s.fail("TLS read failed: " + describe(ret));
  }
}

void Session::close_notify() {
  if (!impl_ || impl_->failed || !impl_->done) return;
  // Only fails on transport errors, which the buffer cannot have.
  (void)mbedtls_ssl_close_notify(&impl_->ssl);
}

bool Session::handshake_done() const { return impl_ && impl_->done; }

bool Session::save(SavedSession& out) const {
  if (!impl_ || !impl_->client || !impl_->done || impl_->failed) return false;
  auto saved = std::make_unique<SavedSession::Impl>();
  if (mbedtls_ssl_get_session(&impl_->ssl, &saved->session) != 0) return false;
  out.impl_ = std::move(saved);
  return true;
}

bool Session::resumed() const { return impl_ && impl_->done && !impl_->full_handshake; }

std::string Session::alpn() const {
  if (!impl_) return {};
  const char* p = mbedtls_ssl_get_alpn_protocol(&impl_->ssl);
  return p != nullptr ? std::string(p) : std::string();
}

const std::string& Session::error() const {
  static const std::string none;
  return impl_ ? impl_->error : none;
}

}  // namespace aigw::tls
