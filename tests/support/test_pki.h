// A throwaway PKI made by mbedTLS at test time (no openssl binary needed):
// two CAs and leaf certificates for names and addresses, written to a
// temporary directory that dies with the Pki. Shared by the TLS tests and
// the upstream client tests.
#pragma once

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace aigw::testing_pki {


struct TestRng {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  TestRng() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    EXPECT_EQ(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, nullptr, 0), 0);
  }
  ~TestRng() {
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
};

struct Key {
  mbedtls_pk_context pk;
  explicit Key(TestRng& rng) {
    mbedtls_pk_init(&pk);
    EXPECT_EQ(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    EXPECT_EQ(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), mbedtls_ctr_drbg_random, &rng.drbg), 0);
  }
  ~Key() { mbedtls_pk_free(&pk); }
  std::string pem() {
    unsigned char buf[2048];
    EXPECT_EQ(mbedtls_pk_write_key_pem(&pk, buf, sizeof buf), 0);
    return reinterpret_cast<const char*>(buf);
  }
};

struct CertSpec {
  std::string subject;             // "CN=..."
  const char* dns_name = nullptr;  // subjectAltName dNSName, or none
  bool ca = false;
  const char* not_before = "20200101000000";
  const char* not_after = "20991231235959";
  int serial = 1;
  std::vector<std::string> ips = {};  // subjectAltName iPAddress entries, as text
};

// The subjectAltName extension's value: SEQUENCE OF GeneralName, with
// dNSName [2] and iPAddress [7] (4 or 16 octets). mbedTLS 2.28 has no writer
// for it; the asn1write functions write backwards from the buffer's end.
inline std::string san_der(const char* dns_name, const std::vector<std::string>& ips) {
  unsigned char buf[512];
  unsigned char* p = buf + sizeof buf;
  size_t len = 0;
  auto entry = [&](const unsigned char* data, size_t n, unsigned char type) {
    int r = mbedtls_asn1_write_raw_buffer(&p, buf, data, n);
    EXPECT_GT(r, 0);
    len += static_cast<size_t>(r);
    r = mbedtls_asn1_write_len(&p, buf, n);
    EXPECT_GT(r, 0);
    len += static_cast<size_t>(r);
    r = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | type);
    EXPECT_GT(r, 0);
    len += static_cast<size_t>(r);
  };
  for (auto it = ips.rbegin(); it != ips.rend(); ++it) {
    unsigned char addr[16];
    const bool v6 = it->find(':') != std::string::npos;
    EXPECT_EQ(inet_pton(v6 ? AF_INET6 : AF_INET, it->c_str(), addr), 1) << *it;
    entry(addr, v6 ? 16 : 4, MBEDTLS_X509_SAN_IP_ADDRESS);
  }
  if (dns_name != nullptr) {
    entry(reinterpret_cast<const unsigned char*>(dns_name), std::strlen(dns_name), MBEDTLS_X509_SAN_DNS_NAME);
  }
  int r = mbedtls_asn1_write_len(&p, buf, len);
  EXPECT_GT(r, 0);
  len += static_cast<size_t>(r);
  r = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
  EXPECT_GT(r, 0);
  len += static_cast<size_t>(r);
  return std::string(reinterpret_cast<const char*>(p), len);
}

inline std::string make_cert(TestRng& rng, const CertSpec& spec, Key& subject_key, const std::string& issuer,
                      Key& issuer_key) {
  mbedtls_x509write_cert crt;
  mbedtls_x509write_crt_init(&crt);
  mbedtls_mpi serial;
  mbedtls_mpi_init(&serial);
  EXPECT_EQ(mbedtls_mpi_lset(&serial, spec.serial), 0);
  mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
  EXPECT_EQ(mbedtls_x509write_crt_set_serial(&crt, &serial), 0);
  EXPECT_EQ(mbedtls_x509write_crt_set_validity(&crt, spec.not_before, spec.not_after), 0);
  EXPECT_EQ(mbedtls_x509write_crt_set_subject_name(&crt, spec.subject.c_str()), 0);
  EXPECT_EQ(mbedtls_x509write_crt_set_issuer_name(&crt, issuer.c_str()), 0);
  mbedtls_x509write_crt_set_subject_key(&crt, &subject_key.pk);
  mbedtls_x509write_crt_set_issuer_key(&crt, &issuer_key.pk);
  mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
  EXPECT_EQ(mbedtls_x509write_crt_set_basic_constraints(&crt, spec.ca ? 1 : 0, spec.ca ? 0 : -1), 0);
  EXPECT_EQ(mbedtls_x509write_crt_set_key_usage(
                &crt, spec.ca ? (MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)
                              : MBEDTLS_X509_KU_DIGITAL_SIGNATURE),
            0);
  EXPECT_EQ(mbedtls_x509write_crt_set_subject_key_identifier(&crt), 0);
  EXPECT_EQ(mbedtls_x509write_crt_set_authority_key_identifier(&crt), 0);
  if (spec.dns_name != nullptr || !spec.ips.empty()) {
    const std::string der = san_der(spec.dns_name, spec.ips);
    EXPECT_EQ(mbedtls_x509write_crt_set_extension(&crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                                  reinterpret_cast<const unsigned char*>(der.data()), der.size()),
              0);
  }
  unsigned char buf[4096];
  EXPECT_EQ(mbedtls_x509write_crt_pem(&crt, buf, sizeof buf, mbedtls_ctr_drbg_random, &rng.drbg), 0);
  mbedtls_mpi_free(&serial);
  mbedtls_x509write_crt_free(&crt);
  return reinterpret_cast<const char*>(buf);
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  ASSERT_TRUE(f.good()) << path;
}

// Two CAs; leaf certificates from the first for "localhost" (SAN),
// "wrong.example" (SAN), "cn-only.test" (no SAN), an expired "localhost",
// and for addresses: 127.0.0.1 and "localhost" (SAN), ::1 (SAN), and two
// that only name 127.0.0.1 as text (the CN, a dNSName).
struct Pki {
  std::string dir;
  std::string ca, other_ca;
  std::string localhost_cert, localhost_key;
  std::string wrong_cert, wrong_key;
  std::string cn_only_cert, cn_only_key;
  std::string expired_cert, expired_key;
  std::string ip4_cert, ip4_key;
  std::string ip6_cert, ip6_key;
  std::string cn_ip_cert, cn_ip_key;
  std::string dns_ip_cert, dns_ip_key;

  Pki() {
    char tmpl[] = "/tmp/aigw-tls-test-XXXXXX";
    const char* d = mkdtemp(tmpl);
    EXPECT_NE(d, nullptr);
    dir = d != nullptr ? d : "/tmp";
    TestRng rng;
    Key ca_key(rng), other_ca_key(rng), leaf_key(rng), wrong_key_pk(rng), cn_key(rng), exp_key(rng);
    Key ip4_key_pk(rng), ip6_key_pk(rng), cn_ip_key_pk(rng), dns_ip_key_pk(rng);
    const std::string ca_name = "CN=aigw test CA,O=aigw";
    const std::string other_name = "CN=aigw other CA,O=aigw";
    ca = dir + "/ca.pem";
    other_ca = dir + "/other-ca.pem";
    write_file(ca, make_cert(rng, {ca_name, nullptr, true}, ca_key, ca_name, ca_key));
    write_file(other_ca, make_cert(rng, {other_name, nullptr, true}, other_ca_key, other_name, other_ca_key));

    auto leaf = [&](const CertSpec& spec, Key& key, std::string& cert_path, std::string& key_path,
                    const std::string& stem) {
      cert_path = dir + "/" + stem + ".pem";
      key_path = dir + "/" + stem + ".key";
      write_file(cert_path, make_cert(rng, spec, key, ca_name, ca_key));
      write_file(key_path, key.pem());
    };
    leaf({"CN=localhost", "localhost", false, "20200101000000", "20991231235959", 2}, leaf_key, localhost_cert,
         localhost_key, "localhost");
    leaf({"CN=wrong.example", "wrong.example", false, "20200101000000", "20991231235959", 3}, wrong_key_pk,
         wrong_cert, wrong_key, "wrong");
    leaf({"CN=cn-only.test", nullptr, false, "20200101000000", "20991231235959", 4}, cn_key, cn_only_cert,
         cn_only_key, "cn-only");
    leaf({"CN=localhost", "localhost", false, "20100101000000", "20110101000000", 5}, exp_key, expired_cert,
         expired_key, "expired");
    leaf({"CN=aigw ip test", "localhost", false, "20200101000000", "20991231235959", 6, {"127.0.0.1"}}, ip4_key_pk,
         ip4_cert, ip4_key, "ip4");
    leaf({"CN=aigw ip6 test", nullptr, false, "20200101000000", "20991231235959", 7, {"::1"}}, ip6_key_pk, ip6_cert,
         ip6_key, "ip6");
    leaf({"CN=127.0.0.1", nullptr, false, "20200101000000", "20991231235959", 8}, cn_ip_key_pk, cn_ip_cert,
         cn_ip_key, "cn-ip");
    leaf({"CN=aigw dns ip test", "127.0.0.1", false, "20200101000000", "20991231235959", 9}, dns_ip_key_pk,
         dns_ip_cert, dns_ip_key, "dns-ip");
  }
  ~Pki() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace aigw::testing_pki
