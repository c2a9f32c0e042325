// Tests for src/tls: handshakes between a client and a server Session in
// memory, with a throwaway PKI made by mbedTLS itself at test time (no
// openssl binary needed).
#include <gtest/gtest.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/test_pki.h"
#include "tls/tls.h"

namespace aigw::tls {
namespace {

using Status = Session::Status;

using testing_pki::Pki;
using testing_pki::write_file;

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new Pki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  static const Pki& pki() { return *pki_; }

  static std::unique_ptr<ClientContext> client_ctx(const std::string& ca) {
    std::string why;
    auto ctx = ClientContext::create(ca, why);
    EXPECT_NE(ctx, nullptr) << why;
    return ctx;
  }
  static std::unique_ptr<ServerContext> server_ctx(const std::string& cert, const std::string& key,
                                                   std::shared_ptr<TicketKeys> tickets = nullptr) {
    std::string why;
    auto ctx = ServerContext::create(cert, key, why, std::move(tickets));
    EXPECT_NE(ctx, nullptr) << why;
    return ctx;
  }

  static Pki* pki_;
};
Pki* TlsTest::pki_ = nullptr;

// ------------------------------------------------------------ pumping

// Feeds `bytes` to `to`, all at once or one byte per call, driving its
// handshake after each piece as a connection would after each receive.
void deliver(std::string bytes, Session& to, bool bytewise, Status& st) {
  if (!bytewise) {
    to.feed(bytes);
    st = to.handshake();
    return;
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    to.feed(std::string_view(bytes).substr(i, 1));
    st = to.handshake();
    if (st == Status::error) return;
    // Nothing but the last byte of a flight may complete a step that
    // finishes the handshake.
    if (st == Status::ok) {
      EXPECT_EQ(i + 1, bytes.size());
    }
  }
}

// Runs both handshakes to completion or failure; true when both are done.
bool pump_handshake(Session& c, Session& s, bool bytewise = false) {
  Status cs = c.handshake();
  Status ss = Status::want_io;
  for (int round = 0; round < 20; ++round) {
    if (cs == Status::error || ss == Status::error) {
      // Let the failing side's alert reach the peer, as a real connection would.
      if (c.has_output()) deliver(c.take_output(), s, false, ss);
      if (s.has_output()) deliver(s.take_output(), c, false, cs);
      return false;
    }
    if (cs == Status::ok && ss == Status::ok && !c.has_output() && !s.has_output()) return true;
    if (c.has_output()) deliver(c.take_output(), s, bytewise, ss);
    if (s.has_output()) deliver(s.take_output(), c, bytewise, cs);
  }
  ADD_FAILURE() << "handshake did not converge";
  return false;
}

// The server_name extension of the ClientHello at the start of `wire`:
// true and the name when there is one. Fails the test on a malformed hello.
bool client_hello_sni(const std::string& wire, std::string& name) {
  const auto* b = reinterpret_cast<const unsigned char*>(wire.data());
  size_t pos = 0;
  const size_t end = wire.size();
  auto u16 = [&](size_t at) { return static_cast<size_t>(b[at] << 8 | b[at + 1]); };
  auto need = [&](size_t n) {
    if (pos + n > end) ADD_FAILURE() << "ClientHello cut short at " << pos;
    return pos + n <= end;
  };
  // Record header (handshake), handshake header (ClientHello), version, random.
  if (!need(5 + 4 + 2 + 32) || b[0] != 0x16 || b[5] != 0x01) {
    ADD_FAILURE() << "not a ClientHello";
    return false;
  }
  pos = 5 + 4 + 2 + 32;
  if (!need(1)) return false;
  pos += 1 + b[pos];  // session id
  if (!need(2)) return false;
  pos += 2 + u16(pos);  // cipher suites
  if (!need(1)) return false;
  pos += 1 + b[pos];  // compression methods
  if (!need(2)) return false;
  const size_t ext_end = pos + 2 + u16(pos);
  pos += 2;
  if (ext_end > end) {
    ADD_FAILURE() << "extensions overrun the record";
    return false;
  }
  while (pos + 4 <= ext_end) {
    const size_t type = u16(pos), len = u16(pos + 2);
    pos += 4;
    if (pos + len > ext_end) break;
    // server_name: list length, then entries of type (0 = host_name), length, name.
    if (type == 0 && len >= 5) {
      name.assign(wire, pos + 5, u16(pos + 3));
      return true;
    }
    pos += len;
  }
  return false;
}

// A verifying client (trusting `ca`) asking for `host`, and a server
// presenting `cert`: true when the handshake completes. The client's error
// goes to `error`; on failure the server must have received `alert`.
bool handshake_for(const std::string& ca, std::string_view host, const std::string& cert, const std::string& key,
                   std::string& error, const std::string& alert = "bad_certificate") {
  std::string why;
  auto cctx = ClientContext::create(ca, why);
  auto sctx = ServerContext::create(cert, key, why);
  if (!cctx || !sctx) {
    ADD_FAILURE() << why;
    return false;
  }
  Session c, s;
  if (!c.init_client(*cctx, host, nullptr, why) || !s.init_server(*sctx, why)) {
    ADD_FAILURE() << why;
    return false;
  }
  const bool ok = pump_handshake(c, s);
  error = c.error();
  if (!ok) {
    // The client told the server why; for an address that does not match,
    // with the alert a name that does not match gets.
    EXPECT_NE(s.error().find("fatal " + alert + " alert"), std::string::npos) << s.error();
  }
  return ok;
}

// Sends `data` from one side and reads it all on the other.
std::string transfer(Session& from, Session& to, const std::string& data) {
  EXPECT_EQ(from.write(data), Status::ok) << from.error();
  to.feed(from.take_output());
  std::string got;
  const Status st = to.read(got);
  EXPECT_EQ(st, data.empty() ? Status::want_io : Status::ok) << to.error();
  EXPECT_FALSE(to.has_output());
  return got;
}

// ------------------------------------------------------------ tests

TEST_F(TlsTest, HandshakeDataBothWaysAndCloseNotify) {
  auto cctx = client_ctx(pki().ca);
  auto sctx = server_ctx(pki().localhost_cert, pki().localhost_key);
  ASSERT_TRUE(cctx && sctx);
  EXPECT_TRUE(cctx->verifies());
  EXPECT_EQ(cctx->ca_count(), 1u);

  Session c, s;
  std::string why;
  ASSERT_TRUE(c.init_client(*cctx, "localhost", nullptr, why)) << why;
  ASSERT_TRUE(s.init_server(*sctx, why)) << why;
  EXPECT_FALSE(c.handshake_done());
  ASSERT_TRUE(pump_handshake(c, s)) << c.error() << " | " << s.error();
  EXPECT_TRUE(c.handshake_done());
  EXPECT_TRUE(s.handshake_done());
  EXPECT_FALSE(c.resumed());
  EXPECT_FALSE(s.resumed());
  EXPECT_EQ(c.alpn(), "http/1.1");
  EXPECT_EQ(s.alpn(), "http/1.1");
  EXPECT_EQ(c.error(), "");
  EXPECT_EQ(c.handshake(), Status::ok);  // idempotent

  std::string nothing;
  EXPECT_EQ(s.read(nothing), Status::want_io);
  EXPECT_EQ(transfer(c, s, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(transfer(s, c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(c.write(""), Status::ok);
  EXPECT_FALSE(c.has_output());

  // Data and close_notify in one receive: the data is handed over too.
  ASSERT_EQ(s.write("bye"), Status::ok);
  s.close_notify();
  c.feed(s.take_output());
  std::string got;
  EXPECT_EQ(c.read(got), Status::closed);
  EXPECT_EQ(got, "bye");
  EXPECT_EQ(c.read(got), Status::closed);

  c.close_notify();
  s.feed(c.take_output());
  got.clear();
  EXPECT_EQ(s.read(got), Status::closed);
  EXPECT_EQ(got, "");
}

TEST_F(TlsTest, ByteByByteHandshakeBothDirections) {
  auto cctx = client_ctx(pki().ca);
  auto sctx = server_ctx(pki().localhost_cert, pki().localhost_key);
  ASSERT_TRUE(cctx && sctx);
  Session c, s;
  std::string why;
  ASSERT_TRUE(c.init_client(*cctx, "localhost", nullptr, why)) << why;
  ASSERT_TRUE(s.init_server(*sctx, why)) << why;
  ASSERT_TRUE(pump_handshake(c, s, /*bytewise=*/true)) << c.error() << " | " << s.error();
  EXPECT_EQ(transfer(c, s, "ping"), "ping");

  // Application data split at every byte too.
  ASSERT_EQ(s.write("pong pong pong"), Status::ok);
  const std::string wire = s.take_output();
  std::string got;
  for (size_t i = 0; i < wire.size(); ++i) {
    c.feed(std::string_view(wire).substr(i, 1));
    const Status st = c.read(got);
    EXPECT_EQ(st, i + 1 == wire.size() ? Status::ok : Status::want_io) << i;
  }
  EXPECT_EQ(got, "pong pong pong");
}

TEST_F(TlsTest, LargeWritesRoundTrip) {
  auto cctx = client_ctx(pki().ca);
  auto sctx = server_ctx(pki().localhost_cert, pki().localhost_key);
  ASSERT_TRUE(cctx && sctx);
  Session c, s;
  std::string why;
  ASSERT_TRUE(c.init_client(*cctx, "localhost", nullptr, why)) << why;
  ASSERT_TRUE(s.init_server(*sctx, why)) << why;
  ASSERT_TRUE(pump_handshake(c, s));

  std::string big(1 << 20, '\0');
  uint32_t x = 12345;
  for (char& ch : big) {
    x = x * 1103515245u + 12345u;
    ch = static_cast<char>(x >> 24);
  }
  EXPECT_EQ(transfer(c, s, big), big);
  const std::string back = transfer(s, c, big);
  EXPECT_EQ(back.size(), big.size());
  EXPECT_TRUE(back == big);

  // Ciphertext arriving in odd-sized receives.
  ASSERT_EQ(c.write(big), Status::ok);
  const std::string wire = c.take_output();
  EXPECT_GT(wire.size(), big.size());
  std::string got;
  for (size_t off = 0; off < wire.size(); off += 1000) {
    s.feed(std::string_view(wire).substr(off, 1000));
    EXPECT_NE(s.read(got), Status::error) << s.error();
  }
  EXPECT_TRUE(got == big);
}

TEST_F(TlsTest, WrongHostNameIsRejectedWithBothNames) {
  auto cctx = client_ctx(pki().ca);
  auto sctx = server_ctx(pki().wrong_cert, pki().wrong_key);
  ASSERT_TRUE(cctx && sctx);
  Session c, s;
  std::string why;
  ASSERT_TRUE(c.init_client(*cctx, "localhost", nullptr, why)) << why;
  ASSERT_TRUE(s.init_server(*sctx, why)) << why;
  EXPECT_FALSE(pump_handshake(c, s));
  const std::string& e = c.error();
  EXPECT_NE(e.find("'localhost'"), std::string::npos) << e;
  EXPECT_NE(e.find("wrong.example"), std::string::npos) << e;
  EXPECT_NE(e.find("certificate verification failed"), std::string::npos) << e;
  EXPECT_NE(e.find("Common Name"), std::string::npos) << e;  // mbedTLS's reason text
  // The client told the server why (a fatal alert), and the session stays dead.
  EXPECT_NE(s.error().find("fatal"), std::string::npos) << s.error();
  EXPECT_EQ(c.handshake(), Status::error);
  EXPECT_EQ(c.write("x"), Status::error);
  std::string got;
  EXPECT_EQ(c.read(got), Status::error);
}

TEST_F(TlsTest, CommonNameOnlyCertificateMatches) {
  auto cctx = client_ctx(pki().ca);
  auto sctx = server_ctx(pki().cn_only_cert, pki().cn_only_key);
  ASSERT_TRUE(cctx && sctx);
  Session c, s;
  std::string why;
  ASSERT_TRUE(c.init_client(*cctx, "cn-only.test", nullptr, why)) << why;
  ASSERT_TRUE(s.init_server(*sctx, why)) << why;
  EXPECT_TRUE(pump_handshake(c, s)) << c.error();
}

TEST_F(TlsTest, IpAddressInSubjectAltNameVerifies) {
  std::string error;
  EXPECT_TRUE(handshake_for(pki().ca, "127.0.0.1", pki().ip4_cert, pki().ip4_key, error)) << error;
  EXPECT_EQ(error, "");
  // The same certificate's dNSName still serves a client that asks by name.
  EXPECT_TRUE(handshake_for(pki().ca, "localhost", pki().ip4_cert, pki().ip4_key, error)) << error;
  // IPv6, with or without brackets and in any spelling of the same address.
  EXPECT_TRUE(handshake_for(pki().ca, "::1", pki().ip6_cert, pki().ip6_key, error)) << error;
  EXPECT_TRUE(handshake_for(pki().ca, "[::1]", pki().ip6_cert, pki().ip6_key, error)) << error;
  EXPECT_TRUE(handshake_for(pki().ca, "0:0:0:0:0:0:0:1", pki().ip6_cert, pki().ip6_key, error)) << error;
}

TEST_F(TlsTest, WrongIpAddressIsRejectedWithTheCertificatesIdentities) {
  std::string error;
  EXPECT_FALSE(handshake_for(pki().ca, "127.0.0.2", pki().ip4_cert, pki().ip4_key, error));
  EXPECT_NE(error.find("TLS handshake with '127.0.0.2' failed: certificate verification failed: "
                       "the certificate is not valid for the address 127.0.0.2 "
                       "(its addresses: 127.0.0.1; its names: CN=aigw ip test, DNS:localhost)"),
            std::string::npos)
      << error;
  // Only the address is wrong: mbedTLS's CN wording does not appear.
  EXPECT_EQ(error.find("Common Name"), std::string::npos) << error;

  // The addresses are compared as bytes of the same family, exactly.
  EXPECT_FALSE(handshake_for(pki().ca, "::1", pki().ip4_cert, pki().ip4_key, error));
  EXPECT_NE(error.find("not valid for the address ::1"), std::string::npos) << error;
  EXPECT_FALSE(handshake_for(pki().ca, "::ffff:127.0.0.1", pki().ip4_cert, pki().ip4_key, error));
  EXPECT_FALSE(handshake_for(pki().ca, "127.0.0.1", pki().ip6_cert, pki().ip6_key, error));
  EXPECT_NE(error.find("(its addresses: ::1; its names: CN=aigw ip6 test)"), std::string::npos) << error;
  EXPECT_FALSE(handshake_for(pki().ca, "::2", pki().ip6_cert, pki().ip6_key, error));
}

// RFC 6125 / RFC 9110: an address is vouched for by an iPAddress entry only,
// never by a DNS name or a CN that spells it.
TEST_F(TlsTest, NamesDoNotVouchForAnIpAddress) {
  std::string error;
  EXPECT_FALSE(handshake_for(pki().ca, "127.0.0.1", pki().localhost_cert, pki().localhost_key, error));
  EXPECT_NE(error.find("not valid for the address 127.0.0.1 (its addresses: none; its names: CN=localhost, "
                       "DNS:localhost)"),
            std::string::npos)
      << error;
  EXPECT_FALSE(handshake_for(pki().ca, "127.0.0.1", pki().cn_ip_cert, pki().cn_ip_key, error));
  EXPECT_NE(error.find("(its addresses: none; its names: CN=127.0.0.1)"), std::string::npos) << error;
  EXPECT_FALSE(handshake_for(pki().ca, "127.0.0.1", pki().dns_ip_cert, pki().dns_ip_key, error));
  EXPECT_NE(error.find("its names: CN=aigw dns ip test, DNS:127.0.0.1"), std::string::npos) << error;
  // Those certificates are sound otherwise: by name, the same chain verifies.
  EXPECT_TRUE(handshake_for(pki().ca, "localhost", pki().localhost_cert, pki().localhost_key, error)) << error;
}

TEST_F(TlsTest, OtherFailuresForAnIpAddressListItsAddresses) {
  std::string error;
  // The address matches but the CA is not trusted: the usual sentence, with
  // the addresses among what the server presented.
  EXPECT_FALSE(handshake_for(pki().other_ca, "127.0.0.1", pki().ip4_cert, pki().ip4_key, error, "unknown_ca"));
  EXPECT_NE(error.find("not correctly signed by the trusted CA"), std::string::npos) << error;
  EXPECT_NE(error.find("(the server presented CN=aigw ip test, DNS:localhost, IP:127.0.0.1)"), std::string::npos)
      << error;
  EXPECT_EQ(error.find("not valid for the address"), std::string::npos) << error;
  // Both wrong: both reasons.
  EXPECT_FALSE(handshake_for(pki().other_ca, "127.0.0.2", pki().ip4_cert, pki().ip4_key, error));
  EXPECT_NE(error.find("not correctly signed by the trusted CA"), std::string::npos) << error;
  EXPECT_NE(error.find("; the certificate is not valid for the address 127.0.0.2"), std::string::npos) << error;
}

TEST_F(TlsTest, NoSniForAnIpAddress) {
  auto cctx = client_ctx(pki().ca);
  ASSERT_TRUE(cctx);
  std::string why;
  std::string insecure_why;
  auto insecure = ClientContext::create_insecure(insecure_why);
  ASSERT_NE(insecure, nullptr) << insecure_why;
  auto first_flight = [&](ClientContext& ctx, std::string_view host) {
    Session c;
    EXPECT_TRUE(c.init_client(ctx, host, nullptr, why)) << why;
    EXPECT_EQ(c.handshake(), Status::want_io);
    return c.take_output();
  };
  std::string name;
  // The parser finds a name where there is one...
  EXPECT_TRUE(client_hello_sni(first_flight(*cctx, "localhost"), name));
  EXPECT_EQ(name, "localhost");
  // ...and the literals send none, verifying or not.
  for (ClientContext* ctx : {cctx.get(), insecure.get()}) {
    for (std::string_view host : {"127.0.0.1", "::1", "[::1]"}) {
      name.clear();
      EXPECT_FALSE(client_hello_sni(first_flight(*ctx, host), name)) << host << " sent " << name;
    }
  }
}

TEST_F(TlsTest, ResumptionForAnIpAddress) {
  auto cctx = client_ctx(pki().ca);
  auto sctx = server_ctx(pki().ip4_cert, pki().ip4_key);
  ASSERT_TRUE(cctx && sctx);
  std::string why;
  SavedSession saved;
  for (const bool resume : {false, true}) {
    Session c, s;
    ASSERT_TRUE(c.init_client(*cctx, "127.0.0.1", &saved, why)) << why;
    ASSERT_TRUE(s.init_server(*sctx, why)) << why;
    ASSERT_TRUE(pump_handshake(c, s)) << c.error() << " | " << s.error();
    EXPECT_EQ(c.resumed(), resume);
    ASSERT_TRUE(c.save(saved));
  }
}

TEST_F(TlsTest, UnknownCaIsRejected) {
  auto cctx = client_ctx(pki().other_ca);
  auto sctx = server_ctx(pki().localhost_cert, pki().localhost_key);
  ASSERT_TRUE(cctx && sctx);
  Session c, s;
  std::string why;
  ASSERT_TRUE(c.init_client(*cctx, "localhost", nullptr, why)) << why;
  ASSERT_TRUE(s.init_server(*sctx, why)) << why;
  EXPECT_FALSE(pump_handshake(c, s));
  EXPECT_NE(c.error().find("not correctly signed by the trusted CA"), std::string::npos) << c.error();
  EXPECT_NE(c.error().find("CN=localhost"), std::string::npos) << c.error();
}

TEST_F(TlsTest, ExpiredCertificateIsRejected) {
  auto cctx = client_ctx(pki().ca);
  auto sctx = server_ctx(pki().expired_cert, pki().expired_key);
  ASSERT_TRUE(cctx && sctx);
  Session c, s;
  std::string why;
  ASSERT_TRUE(c.init_client(*cctx, "localhost", nullptr, why)) << why;
  ASSERT_TRUE(s.init_server(*sctx, why)) << why;
  EXPECT_FALSE(pump_handshake(c, s));
  EXPECT_NE(c.error().find("expired"), std::string::npos) << c.error();
}

TEST_F(TlsTest, InsecureClientSkipsVerification) {
  std::string why;
  auto cctx = ClientContext::create_insecure(why);
  ASSERT_NE(cctx, nullptr) << why;
  EXPECT_FALSE(cctx->verifies());
  auto sctx = server_ctx(pki().wrong_cert, pki().wrong_key);
  ASSERT_TRUE(sctx);
  Session c, s;
  ASSERT_TRUE(c.init_client(*cctx, "localhost", nullptr, why)) << why;
  ASSERT_TRUE(s.init_server(*sctx, why)) << why;
  EXPECT_TRUE(pump_handshake(c, s)) << c.error();
}

TEST_F(TlsTest, GarbageIsAnErrorNotACrash) {
  auto cctx = client_ctx(pki().ca);
  auto sctx = server_ctx(pki().localhost_cert, pki().localhost_key);
  ASSERT_TRUE(cctx && sctx);
  std::string why;

  // Plain HTTP sent to the TLS listener.
  {
    Session s;
    ASSERT_TRUE(s.init_server(*sctx, why)) << why;
    s.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(s.handshake(), Status::error);
    EXPECT_NE(s.error(), "");
  }
  // Random bytes after the ClientHello, record-shaped and not.
  uint32_t x = 7;
  for (int trial = 0; trial < 50; ++trial) {
    Session c;
    ASSERT_TRUE(c.init_client(*cctx, "localhost", nullptr, why)) << why;
    EXPECT_EQ(c.handshake(), Status::want_io);
    EXPECT_TRUE(c.has_output());
    std::string junk(1 + trial * 37, '\0');
    for (char& ch : junk) {
      x = x * 1664525u + 1013904223u;
      ch = static_cast<char>(x >> 24);
    }
    if (trial % 2 == 0 && junk.size() >= 5) {
      junk[0] = 0x16, junk[1] = 0x03, junk[2] = 0x03;  // a handshake record header
      junk[3] = 0, junk[4] = static_cast<char>(junk.size() - 5);
    }
    c.feed(junk);
    const Status st = c.handshake();
    EXPECT_TRUE(st == Status::error || st == Status::want_io);
    if (st == Status::error) {
      EXPECT_NE(c.error(), "");
    }
  }
  // Garbage after the handshake: the record fails authentication.
  Session c, s;
  ASSERT_TRUE(c.init_client(*cctx, "localhost", nullptr, why)) << why;
  ASSERT_TRUE(s.init_server(*sctx, why)) << why;
  ASSERT_TRUE(pump_handshake(c, s));
  ASSERT_EQ(c.write("hello"), Status::ok);
  std::string wire = c.take_output();
  wire[wire.size() - 3] ^= 0x55;
  s.feed(wire);
  std::string got;
  EXPECT_EQ(s.read(got), Status::error);
  EXPECT_NE(s.error(), "");
  EXPECT_EQ(got, "");
}

TEST_F(TlsTest, ResumptionWithSavedSession) {
  auto cctx = client_ctx(pki().ca);
  auto tickets = [] {
    std::string why;
    auto t = TicketKeys::create(why);
    EXPECT_NE(t, nullptr) << why;
    return t;
  }();
  // Two "workers" sharing ticket keys, and one with its own.
  auto worker_a = server_ctx(pki().localhost_cert, pki().localhost_key, tickets);
  auto worker_b = server_ctx(pki().localhost_cert, pki().localhost_key, tickets);
  auto loner = server_ctx(pki().localhost_cert, pki().localhost_key);
  ASSERT_TRUE(cctx && worker_a && worker_b && loner);
  std::string why;

  SavedSession saved;
  EXPECT_TRUE(saved.empty());
  {
    Session c, s;
    ASSERT_TRUE(c.init_client(*cctx, "localhost", &saved, why)) << why;  // empty: a full handshake
    ASSERT_TRUE(s.init_server(*worker_a, why)) << why;
    EXPECT_FALSE(c.save(saved));  // not before the handshake
    ASSERT_TRUE(pump_handshake(c, s)) << c.error();
    EXPECT_FALSE(c.resumed());
    EXPECT_FALSE(s.save(saved));  // server side
    ASSERT_TRUE(c.save(saved));
    EXPECT_FALSE(saved.empty());
  }
  auto resume_on = [&](ServerContext& sctx, bool expect_resumed) {
    Session c, s;
    ASSERT_TRUE(c.init_client(*cctx, "localhost", &saved, why)) << why;
    ASSERT_TRUE(s.init_server(sctx, why)) << why;
    ASSERT_TRUE(pump_handshake(c, s)) << c.error() << " | " << s.error();
    EXPECT_EQ(c.resumed(), expect_resumed);
    EXPECT_EQ(s.resumed(), expect_resumed);
    EXPECT_EQ(c.alpn(), "http/1.1");
    EXPECT_EQ(transfer(c, s, "after resumption"), "after resumption");
    EXPECT_EQ(transfer(s, c, "and back"), "and back");
    SavedSession fresh;
    EXPECT_TRUE(c.save(fresh));  // a renewed ticket, to keep for next time
  };
  resume_on(*worker_a, true);
  resume_on(*worker_a, true);  // reusable
  resume_on(*worker_b, true);  // another worker, same ticket keys
  resume_on(*loner, false);    // unknown ticket: falls back to a full handshake

  // Moving the saved session keeps it usable; clearing it does not resume.
  SavedSession moved = std::move(saved);
  saved = std::move(moved);
  resume_on(*worker_b, true);
  saved.clear();
  EXPECT_TRUE(saved.empty());
  resume_on(*worker_a, false);
}

// Workers on their own threads, each with its own contexts, issuing and
// accepting tickets from the one shared TicketKeys at the same time.
TEST_F(TlsTest, WorkersShareTicketKeysAcrossThreads) {
  std::string why;
  auto tickets = TicketKeys::create(why);
  ASSERT_NE(tickets, nullptr) << why;
  constexpr int k_workers = 2;
  std::vector<SavedSession> saved(k_workers);
  std::vector<int> resumed(k_workers, 0);
  auto worker = [&](int id, bool resume_from_peer) {
    auto cctx = client_ctx(pki().ca);
    auto sctx = server_ctx(pki().localhost_cert, pki().localhost_key, tickets);
    if (!cctx || !sctx) return;
    for (int i = 0; i < 3; ++i) {
      Session c, s;
      std::string w;
      const SavedSession* offer = resume_from_peer ? &saved[(id + 1) % k_workers] : nullptr;
      if (!c.init_client(*cctx, "localhost", offer, w) || !s.init_server(*sctx, w)) {
        ADD_FAILURE() << w;
        return;
      }
      if (!pump_handshake(c, s)) {
        ADD_FAILURE() << c.error() << " | " << s.error();
        return;
      }
      if (c.resumed() && s.resumed()) ++resumed[id];
      if (!resume_from_peer) c.save(saved[id]);
    }
  };
  for (const bool resume : {false, true}) {
    std::vector<std::thread> threads;
    for (int id = 0; id < k_workers; ++id) threads.emplace_back(worker, id, resume);
    for (auto& t : threads) t.join();
  }
  // Every handshake of the second round resumed a ticket another thread got.
  for (int id = 0; id < k_workers; ++id) EXPECT_EQ(resumed[id], 3) << id;
}

TEST_F(TlsTest, SessionsMoveMidHandshake) {
  auto cctx = client_ctx(pki().ca);
  auto sctx = server_ctx(pki().localhost_cert, pki().localhost_key);
  ASSERT_TRUE(cctx && sctx);
  std::string why;
  Session c0, s;
  ASSERT_TRUE(c0.init_client(*cctx, "localhost", nullptr, why)) << why;
  ASSERT_TRUE(s.init_server(*sctx, why)) << why;
  EXPECT_EQ(c0.handshake(), Status::want_io);
  Session c = std::move(c0);
  s.feed(c.take_output());
  EXPECT_EQ(s.handshake(), Status::want_io);
  c.feed(s.take_output());
  ASSERT_TRUE(pump_handshake(c, s)) << c.error();
  EXPECT_EQ(transfer(c, s, "moved"), "moved");
  EXPECT_FALSE(c0.has_output());
  EXPECT_EQ(c0.handshake(), Status::error);
}

TEST_F(TlsTest, MisuseIsReported) {
  auto cctx = client_ctx(pki().ca);
  auto sctx = server_ctx(pki().localhost_cert, pki().localhost_key);
  ASSERT_TRUE(cctx && sctx);
  std::string why;
  Session c;
  EXPECT_FALSE(c.init_client(*cctx, "", nullptr, why));
  EXPECT_NE(why.find("host name"), std::string::npos) << why;
  EXPECT_FALSE(c.init_client(*cctx, std::string_view("a\0b", 3), nullptr, why));
  ASSERT_TRUE(c.init_client(*cctx, "localhost", nullptr, why)) << why;
  EXPECT_FALSE(c.init_client(*cctx, "localhost", nullptr, why));
  EXPECT_FALSE(c.init_server(*sctx, why));
  EXPECT_EQ(c.write("early"), Status::error);
  EXPECT_NE(c.error().find("before the handshake"), std::string::npos) << c.error();
  Session never;
  EXPECT_EQ(never.handshake(), Status::error);
  std::string got;
  EXPECT_EQ(never.read(got), Status::error);
  EXPECT_EQ(never.error(), "");
}

TEST_F(TlsTest, ContextErrorsNameTheFile) {
  std::string why;
  EXPECT_EQ(ClientContext::create(pki().dir + "/missing.pem", why), nullptr);
  EXPECT_NE(why.find("missing.pem"), std::string::npos) << why;

  const std::string junk = pki().dir + "/junk.pem";
  write_file(junk, "not a certificate\n");
  why.clear();
  EXPECT_EQ(ClientContext::create(junk, why), nullptr);
  EXPECT_NE(why.find("junk.pem"), std::string::npos) << why;

  why.clear();
  EXPECT_EQ(ServerContext::create(pki().dir + "/nope.pem", pki().localhost_key, why), nullptr);
  EXPECT_NE(why.find("nope.pem"), std::string::npos) << why;
  why.clear();
  EXPECT_EQ(ServerContext::create(pki().localhost_cert, junk, why), nullptr);
  EXPECT_NE(why.find("junk.pem"), std::string::npos) << why;
  why.clear();
  EXPECT_EQ(ServerContext::create(pki().localhost_cert, pki().wrong_key, why), nullptr);
  EXPECT_NE(why.find("does not belong"), std::string::npos) << why;
}

TEST_F(TlsTest, SystemBundleLoads) {
  if (!std::filesystem::exists("/etc/ssl/certs/ca-certificates.crt")) GTEST_SKIP() << "no system CA bundle";
  timespec t0{}, t1{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  std::string why;
  auto ctx = ClientContext::create("", why);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
  ASSERT_NE(ctx, nullptr) << why;
  EXPECT_GT(ctx->ca_count(), 10u);
  std::printf("[ info ] system bundle: %zu CAs, %.1f ms CPU to load\n", ctx->ca_count(),
              (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
}

// Not a pass/fail test: prints the CPU cost of a handshake, split by side.
// AIGW_TLS_BENCH_N sets the number of handshakes (default 10).
TEST_F(TlsTest, HandshakeCpuCost) {
  auto cctx = client_ctx(pki().ca);
  auto sctx = server_ctx(pki().localhost_cert, pki().localhost_key);
  ASSERT_TRUE(cctx && sctx);
  int n = 10;
  if (const char* env = std::getenv("AIGW_TLS_BENCH_N")) n = std::max(1, std::atoi(env));

  auto now = [] {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;  // microseconds
  };
  // Like pump_handshake, but charging each side's handshake() calls to it.
  auto timed_pair = [&](const SavedSession* resume, double& client_us, double& server_us, Session& c) {
    Session s;
    std::string why;
    double t = now();
    ASSERT_TRUE(c.init_client(*cctx, "localhost", resume, why)) << why;
    Status cs = c.handshake();
    client_us += now() - t;
    t = now();
    ASSERT_TRUE(s.init_server(*sctx, why)) << why;
    server_us += now() - t;
    Status ss = Status::want_io;
    for (int round = 0; round < 10 && !(cs == Status::ok && ss == Status::ok); ++round) {
      ASSERT_NE(cs, Status::error) << c.error();
      ASSERT_NE(ss, Status::error) << s.error();
      if (c.has_output()) {
        s.feed(c.take_output());
        t = now();
        ss = s.handshake();
        server_us += now() - t;
      }
      if (s.has_output()) {
        c.feed(s.take_output());
        t = now();
        cs = c.handshake();
        client_us += now() - t;
      }
    }
    ASSERT_EQ(cs, Status::ok);
    ASSERT_EQ(ss, Status::ok);
    EXPECT_EQ(c.resumed(), resume != nullptr);
  };

  SavedSession saved;
  double full_c = 0, full_s = 0, res_c = 0, res_s = 0;
  for (int i = 0; i < n; ++i) {
    Session c;
    timed_pair(nullptr, full_c, full_s, c);
    if (i == 0) {
      ASSERT_TRUE(c.save(saved));
    }
  }
  for (int i = 0; i < n; ++i) {
    Session c;
    timed_pair(&saved, res_c, res_s, c);
  }
  std::printf("[ info ] ECDSA P-256 certificate, ECDHE X25519, AES-128-GCM, %d each: full handshake client %.0f us + server %.0f us CPU; "
              "resumed client %.0f us + server %.0f us CPU\n",
              n, full_c / n, full_s / n, res_c / n, res_s / n);
}

}  // namespace
}  // namespace aigw::tls
