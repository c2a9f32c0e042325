// The gemini plugin's Vertex AI parts: JWT signing (checked with the public
// key), the token request and answer, the token URI and HTTP answer
// parsing, URL building for regional and global locations, the Vertex
// configuration and its errors, the token refresher against a local token
// endpoint (refresh, failure, no hang), and the hooks in Vertex mode.
#include <gtest/gtest.h>
#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <simdjson.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "aigw_plugin.h"
#include "aigw_plugin.hpp"
#include "gemini_config.h"
#include "gemini_plugin.h"
#include "jwt.h"
#include "service_account.h"
#include "support/fake_host.h"
#include "support/local_token_server.h"
#include "token_client.h"
#include "token_exchange.h"
#include "vertex_auth.h"

namespace gp = aigw::gemini_plugin;
using aigw::test::ConfigValue;
using aigw::test::FakeConfig;
using aigw::test::FakeHost;
using aigw::test::FakeRequest;
using aigw::test::LocalTokenServer;
using namespace std::chrono_literals;

namespace {

// --- helpers -------------------------------------------------------------------

std::string unbase64url(std::string s) {
  for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (s.size() % 4 != 0) s.push_back('=');
  std::string out(s.size(), '\0');
  size_t len = 0;
  EXPECT_EQ(mbedtls_base64_decode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &len,
                                  reinterpret_cast<const unsigned char*>(s.data()), s.size()),
            0);
  out.resize(len);
  return out;
}

std::vector<std::string> split_dots(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    parts.push_back(s.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

// One RSA key for the whole binary, made at test time (no key in the tree):
// 2048 bits as Google issues them.
struct RsaKey {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_pk_context pk;
  std::string private_pem, public_pem;

  RsaKey() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_pk_init(&pk);
    EXPECT_EQ(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, nullptr, 0), 0);
    EXPECT_EQ(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)), 0);
    EXPECT_EQ(mbedtls_rsa_gen_key(mbedtls_pk_rsa(pk), mbedtls_ctr_drbg_random, &drbg, 2048, 65537), 0);
    std::vector<unsigned char> buf(8192);
    EXPECT_EQ(mbedtls_pk_write_key_pem(&pk, buf.data(), buf.size()), 0);
    private_pem = reinterpret_cast<const char*>(buf.data());
    EXPECT_EQ(mbedtls_pk_write_pubkey_pem(&pk, buf.data(), buf.size()), 0);
    public_pem = reinterpret_cast<const char*>(buf.data());
  }
  ~RsaKey() {
    mbedtls_pk_free(&pk);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  static RsaKey& get() {
    static RsaKey key;
    return key;
  }
};

// Checks header.claims.signature with the public key alone.
bool verifies(const std::string& jwt, const std::string& public_pem) {
  std::vector<std::string> p = split_dots(jwt);
  if (p.size() != 3) return false;
  mbedtls_pk_context pub;
  mbedtls_pk_init(&pub);
  bool ok = mbedtls_pk_parse_public_key(&pub, reinterpret_cast<const unsigned char*>(public_pem.c_str()),
                                        public_pem.size() + 1) == 0;
  std::string input = p[0] + "." + p[1];
  unsigned char hash[32];
  mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(input.data()), input.size(), hash, 0);
  std::string sig = unbase64url(p[2]);
  ok = ok && mbedtls_pk_verify(&pub, MBEDTLS_MD_SHA256, hash, sizeof hash,
                               reinterpret_cast<const unsigned char*>(sig.data()), sig.size()) == 0;
  mbedtls_pk_free(&pub);
  return ok;
}

std::string json_string(const std::string& s) {
  std::string out;
  aigw::sdk::append_json_string(out, s);
  return out;
}

// A service-account key file in a temporary directory, removed with it.
struct KeyFile {
  std::string dir, path;
  explicit KeyFile(const std::string& token_uri, const std::string& type = "service_account",
                   const std::string& private_key = RsaKey::get().private_pem) {
    char tmpl[] = "/tmp/aigw-vertex-XXXXXX";
    dir = mkdtemp(tmpl);
    path = dir + "/sa.json";
    std::ofstream(path) << "{\"type\":" << json_string(type)
                        << ",\"project_id\":\"proj-1\",\"private_key_id\":\"kid-123\""
                        << ",\"private_key\":" << json_string(private_key)
                        << ",\"client_email\":\"gw@proj-1.iam.gserviceaccount.com\""
                        << ",\"token_uri\":" << json_string(token_uri) << "}";
  }
  ~KeyFile() { std::filesystem::remove_all(dir); }
};

// A marker of the private key's body: never in a message or a log line.
std::string key_marker() {
  const std::string& pem = RsaKey::get().private_pem;
  return pem.substr(pem.find('\n') + 1, 40);
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

// --- base64url and the JWT -----------------------------------------------------------

TEST(VertexJwt, Base64UrlHasNoPaddingAndTheUrlAlphabet) {
  EXPECT_EQ(gp::base64url(""), "");
  EXPECT_EQ(gp::base64url("f"), "Zg");
  EXPECT_EQ(gp::base64url("fo"), "Zm8");
  EXPECT_EQ(gp::base64url("foo"), "Zm9v");
  EXPECT_EQ(gp::base64url("foob"), "Zm9vYg");
  EXPECT_EQ(gp::base64url(std::string("\xfb\xff", 2)), "-_8");
}

TEST(VertexJwt, HeaderAndClaimsAreWhatGoogleAsksFor) {
  simdjson::dom::parser parser;
  simdjson::dom::element h = parser.parse(gp::jwt_header_json("kid-123")).value();
  EXPECT_EQ(std::string_view(h["alg"]), "RS256");
  EXPECT_EQ(std::string_view(h["typ"]), "JWT");
  EXPECT_EQ(std::string_view(h["kid"]), "kid-123");

  gp::JwtClaims c;
  c.issuer = "gw@proj-1.iam.gserviceaccount.com";
  c.scope = gp::kCloudPlatformScope;
  c.audience = "https://oauth2.googleapis.com/token";
  c.issued_at = 1700000000;
  c.expires_at = 1700000600;
  simdjson::dom::element cl = parser.parse(gp::jwt_claims_json(c)).value();
  EXPECT_EQ(std::string_view(cl["iss"]), "gw@proj-1.iam.gserviceaccount.com");
  EXPECT_EQ(std::string_view(cl["scope"]), "https://www.googleapis.com/auth/cloud-platform");
  EXPECT_EQ(std::string_view(cl["aud"]), "https://oauth2.googleapis.com/token");
  EXPECT_EQ(int64_t(cl["iat"]), 1700000000);
  EXPECT_EQ(int64_t(cl["exp"]), 1700000600);
}

TEST(VertexJwt, SignatureVerifiesWithThePublicKeyAndBreaksWhenTampered) {
  RsaKey& k = RsaKey::get();
  std::string jwt, error;
  ASSERT_TRUE(gp::sign_jwt_rs256(k.pk, k.drbg, gp::jwt_header_json("kid"), R"({"iss":"a"})", jwt, error))
      << error;
  std::vector<std::string> p = split_dots(jwt);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(unbase64url(p[1]), R"({"iss":"a"})");
  EXPECT_EQ(unbase64url(p[2]).size(), 256u);  // RSA-2048
  EXPECT_TRUE(verifies(jwt, k.public_pem));
  std::string tampered = p[0] + "." + gp::base64url(R"({"iss":"b"})") + "." + p[2];
  EXPECT_FALSE(verifies(tampered, k.public_pem));
}

TEST(VertexJwt, RefusesAKeyThatIsNotRsa) {
  RsaKey& k = RsaKey::get();
  mbedtls_pk_context ec;
  mbedtls_pk_init(&ec);
  ASSERT_EQ(mbedtls_pk_setup(&ec, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
  std::string jwt, error;
  EXPECT_FALSE(gp::sign_jwt_rs256(ec, k.drbg, "{}", "{}", jwt, error));
  EXPECT_NE(error.find("not an RSA key"), std::string::npos) << error;
  mbedtls_pk_free(&ec);
}

// --- the token request and answer ----------------------------------------------------

TEST(VertexToken, FormBodyIsTheJwtBearerGrant) {
  EXPECT_EQ(gp::token_request_form("aaa.bbb.c-_"),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=aaa.bbb.c-_");
}

TEST(VertexToken, ReadsAGoodAnswer) {
  gp::TokenAnswer a;
  std::string error;
  ASSERT_TRUE(gp::parse_token_answer(200, R"({"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"})", a, error))
      << error;
  EXPECT_EQ(a.access_token, "ya29.x");
  EXPECT_EQ(a.expires_in_s, 3599);
}

TEST(VertexToken, RefusesBadAnswersWithClearMessages) {
  auto fails = [](int status, const std::string& body, const std::string& want) {
    gp::TokenAnswer a;
    std::string error;
    EXPECT_FALSE(gp::parse_token_answer(status, body, a, error)) << body;
    EXPECT_NE(error.find(want), std::string::npos) << error;
    return error;
  };
  std::string e = fails(400, R"({"error":"invalid_grant","error_description":"Invalid JWT Signature.\n"})",
                        "answered 400: invalid_grant: Invalid JWT Signature.?");
  EXPECT_EQ(e.find('\n'), std::string::npos);
  fails(503, "<html>down</html>", "answered 503");
  fails(200, "not json", "not a JSON object");
  fails(200, R"({"expires_in":3599,"token_type":"Bearer"})", "no access_token");
  fails(200, R"({"access_token":"a\nb","expires_in":3599,"token_type":"Bearer"})", "cannot carry");
  fails(200, R"({"access_token":"a","expires_in":3599,"token_type":"mac"})", "not Bearer");
  fails(200, R"({"access_token":"a","expires_in":0,"token_type":"Bearer"})", "expires_in");
  fails(200, R"({"access_token":"a","token_type":"Bearer"})", "expires_in");
}

TEST(VertexToken, TokenUriIsHttpsOrLoopbackHttp) {
  gp::TokenUri u;
  std::string error;
  ASSERT_TRUE(gp::parse_token_uri("https://oauth2.googleapis.com/token", u, error)) << error;
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "oauth2.googleapis.com");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.path, "/token");
  ASSERT_TRUE(gp::parse_token_uri("http://127.0.0.1:8080/t?x=1", u, error)) << error;
  EXPECT_FALSE(u.tls);
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.path, "/t?x=1");
  ASSERT_TRUE(gp::parse_token_uri("https://[::1]:9443", u, error)) << error;
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.path, "/");
  EXPECT_TRUE(gp::parse_token_uri("http://localhost/token", u, error)) << error;

  EXPECT_FALSE(gp::parse_token_uri("http://oauth2.googleapis.com/token", u, error));
  EXPECT_NE(error.find("loopback"), std::string::npos) << error;
  EXPECT_FALSE(gp::parse_token_uri("ftp://x/token", u, error));
  EXPECT_FALSE(gp::parse_token_uri("https://x:0/", u, error));
  EXPECT_FALSE(gp::parse_token_uri("https://x:70000/", u, error));
  EXPECT_FALSE(gp::parse_token_uri("https:///token", u, error));
  EXPECT_FALSE(gp::parse_token_uri("https://u:p@x/token", u, error));
  EXPECT_FALSE(gp::parse_token_uri("https://x/a b", u, error));
}

TEST(VertexToken, HttpAnswersWithLengthChunkedOrToTheEnd) {
  gp::HttpAnswer a;
  std::string error;
  ASSERT_TRUE(gp::parse_http_answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", a, error)) << error;
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "{}");
  ASSERT_TRUE(gp::parse_http_answer(
      "HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n", a, error))
      << error;
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body, R"({"a":1})");
  ASSERT_TRUE(gp::parse_http_answer("HTTP/1.0 200 OK\r\n\r\nbody", a, error)) << error;
  EXPECT_EQ(a.body, "body");

  EXPECT_FALSE(gp::parse_http_answer("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}", a, error));
  EXPECT_FALSE(gp::parse_http_answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", a, error));
  EXPECT_FALSE(gp::parse_http_answer("junk", a, error));
  EXPECT_FALSE(gp::parse_http_answer("HTTP/1.1 2x0 OK\r\n\r\n", a, error));
}

// --- URLs ---------------------------------------------------------------------------

TEST(VertexUrls, RegionalGlobalAndExpress) {
  EXPECT_EQ(gp::vertex_host("us-central1"), "us-central1-aiplatform.googleapis.com");
  EXPECT_EQ(gp::vertex_host("global"), "aiplatform.googleapis.com");
  EXPECT_EQ(gp::vertex_model_prefix("proj-1", "europe-west4"),
            "/v1/projects/proj-1/locations/europe-west4/publishers/google/models/");
  EXPECT_EQ(gp::vertex_model_prefix("proj-1", "global"),
            "/v1/projects/proj-1/locations/global/publishers/google/models/");
  EXPECT_EQ(gp::vertex_model_prefix("", ""), "/v1/publishers/google/models/");
}

// --- configuration ------------------------------------------------------------------

struct Loaded {
  aigw_status st = -1;
  std::string error;
  std::unique_ptr<gp::Config> config;
};

Loaded load(std::map<std::string, ConfigValue> values) {
  FakeHost host(AIGW_MODE_HTTP);
  FakeConfig cfg;
  cfg.values = std::move(values);
  Loaded l;
  l.config = std::make_unique<gp::Config>();
  l.st = gp::load_config(host.table(), cfg.handle(), *l.config, l.error);
  EXPECT_EQ(l.error.find(key_marker()), std::string::npos) << "the private key in a message";
  return l;
}

std::map<std::string, ConfigValue> vertex_table(const std::string& credentials) {
  return {{"vertex", true},
          {"vertex_project", std::string("proj-1")},
          {"vertex_location", std::string("us-central1")},
          {"credentials_file", credentials}};
}

TEST(VertexConfig, AServiceAccountGivesOneChannelAndTheRegionalPaths) {
  LocalTokenServer server;
  KeyFile kf(server.uri());
  Loaded l = load(vertex_table(kf.path));
  ASSERT_EQ(l.st, AIGW_OK) << l.error;
  EXPECT_EQ(l.config->auth, gp::Auth::vertex_oauth);
  EXPECT_EQ(l.config->channels(), 1u);
  EXPECT_EQ(l.config->model_prefix, "/v1/projects/proj-1/locations/us-central1/publishers/google/models/");
  EXPECT_EQ(l.config->probe_path, "/v1/projects/proj-1/locations/us-central1/endpoints?pageSize=1");
  // load_config signs and fetches nothing: the refresher does, once started.
  EXPECT_EQ(server.served(), 0);
}

TEST(VertexConfig, ExpressModeWithKeysAndOptionalProject) {
  Loaded l = load({{"vertex", true}, {"api_keys", std::vector<std::string>{"ek-1", "ek-2"}}});
  ASSERT_EQ(l.st, AIGW_OK) << l.error;
  EXPECT_EQ(l.config->auth, gp::Auth::vertex_express);
  EXPECT_EQ(l.config->channels(), 2u);
  EXPECT_EQ(l.config->model_prefix, "/v1/publishers/google/models/");
  EXPECT_EQ(l.config->probe_path, "");  // no free call without a project

  l = load({{"vertex", true}, {"api_key", std::string("ek")}, {"vertex_project", std::string("p-2")},
            {"vertex_location", std::string("global")},
            {"base_url", std::string("https://aiplatform.googleapis.com")}});
  ASSERT_EQ(l.st, AIGW_OK) << l.error;
  EXPECT_EQ(l.config->model_prefix, "/v1/projects/p-2/locations/global/publishers/google/models/");
}

TEST(VertexConfig, ClearErrors) {
  LocalTokenServer server;
  KeyFile kf(server.uri());
  auto fails = [](std::map<std::string, ConfigValue> t, const std::string& want) {
    Loaded l = load(std::move(t));
    EXPECT_EQ(l.st, AIGW_ERR_CONFIG);
    EXPECT_NE(l.error.find(want), std::string::npos) << l.error;
  };
  fails({{"vertex", true}}, "vertex = true needs credentials_file");
  fails({{"vertex_project", std::string("p")}, {"api_key", std::string("k")}},
        "vertex_project is a Vertex AI key: set vertex = true");
  fails({{"credentials_file", kf.path}, {"api_key", std::string("k")}}, "set vertex = true");
  fails({{"vertex", std::string("yes")}}, "vertex must be true or false");

  auto t = vertex_table(kf.path);
  t["api_key"] = std::string("k");
  fails(t, "not both");
  t = vertex_table(kf.path);
  t.erase("vertex_location");
  fails(t, "vertex_location is required");
  t = vertex_table(kf.path);
  t.erase("vertex_project");
  t.erase("vertex_location");
  fails(t, "vertex_project and vertex_location are required");
  t = vertex_table(kf.path);
  t["vertex_location"] = std::string("us-central1/../x");
  fails(t, "vertex_location must be");
  t = vertex_table(kf.path);
  t["vertex_project"] = std::string("Proj?x");
  fails(t, "vertex_project must be");
  t = vertex_table(kf.dir + "/missing.json");
  fails(t, "cannot open");
  t = vertex_table(kf.path);
  t["base_url"] = std::string("https://europe-west4-aiplatform.googleapis.com");
  fails(t, "base_url must be https://us-central1-aiplatform.googleapis.com");
  t = vertex_table(kf.path);
  t["base_url"] = std::string("https://generativelanguage.googleapis.com");
  fails(t, "Google AI Studio's host");
  fails({{"api_key", std::string("k")}, {"base_url", std::string("https://aiplatform.googleapis.com")}},
        "base_url is a Vertex AI host");
  fails({{"vertex", true}, {"api_key", std::string("k")}, {"token_ca_file", std::string("/x")}},
        "express mode (api_keys) has none");
  t = vertex_table(kf.path);
  t["token_ca_file"] = kf.dir + "/no-ca.pem";
  fails(t, "cannot load CA certificates");

  KeyFile user(server.uri(), "authorized_user");
  fails(vertex_table(user.path), "only \"service_account\" key files");
  KeyFile not_pem(server.uri(), "service_account", "MIIE-not-a-pem");
  fails(vertex_table(not_pem.path), "not PEM");
  KeyFile broken(server.uri(), "service_account", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  fails(vertex_table(broken.path), "cannot be read as a PEM private key");
  KeyFile plain_http("http://oauth2.googleapis.com/token");
  fails(vertex_table(plain_http.path), "must be https://");
}

TEST(VertexConfig, ServiceAccountFieldsAreRequired) {
  gp::ServiceAccount a;
  std::string error;
  EXPECT_FALSE(gp::parse_service_account(R"({"type":"service_account","client_email":"x"})", a, error));
  EXPECT_NE(error.find("private_key_id"), std::string::npos) << error;
  EXPECT_FALSE(gp::parse_service_account("[1]", a, error));
  EXPECT_NE(error.find("not a JSON object"), std::string::npos) << error;
}

// --- the refresher -------------------------------------------------------------------

gp::RefreshTiming fast_timing() {
  gp::RefreshTiming t;
  t.retry_min_ms = 50;
  t.retry_max_ms = 200;
  t.timeout_ms = 2000;
  return t;
}

std::unique_ptr<gp::TokenSource> source_for(const KeyFile& kf, FakeHost& host, gp::RefreshTiming timing) {
  gp::ServiceAccount account;
  std::string text, error;
  EXPECT_TRUE(gp::read_small_file(kf.path, 65536, text, error)) << error;
  EXPECT_TRUE(gp::parse_service_account(text, account, error)) << error;
  auto src = std::make_unique<gp::TokenSource>();
  EXPECT_TRUE(src->init(account, std::string(gp::kSystemCaFile), timing, error)) << error;
  EXPECT_TRUE(src->start(host.table(), host.plugin(), error)) << error;
  return src;
}

TEST(VertexRefresh, SendsASignedAssertionAndRefreshesBeforeExpiry) {
  LocalTokenServer server;
  server.expires_in = 2;  // refreshed after 1.6 s, usable for 1.8 s
  KeyFile kf(server.uri());
  FakeHost host(AIGW_MODE_HTTP);
  auto src = source_for(kf, host, fast_timing());
  ASSERT_TRUE(eventually([&] { return src->current()->authorization == "Bearer tok-1"; }));
  ASSERT_TRUE(eventually([&] { return src->current()->authorization == "Bearer tok-2"; }, 4000ms));
  EXPECT_GE(src->refreshes(), 2u);

  // The form carries the grant and an assertion the public key verifies,
  // with the claims Google checks.
  std::vector<std::string> forms = server.forms();
  ASSERT_FALSE(forms.empty());
  const std::string prefix = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
  ASSERT_EQ(forms[0].rfind(prefix, 0), 0u) << forms[0];
  std::string jwt = forms[0].substr(prefix.size());
  EXPECT_TRUE(verifies(jwt, RsaKey::get().public_pem));
  simdjson::dom::parser parser;
  std::string claims_text = unbase64url(split_dots(jwt)[1]);
  simdjson::dom::element claims = parser.parse(claims_text).value();
  EXPECT_EQ(std::string_view(claims["iss"]), "gw@proj-1.iam.gserviceaccount.com");
  EXPECT_EQ(std::string_view(claims["aud"]), server.uri());
  EXPECT_EQ(std::string_view(claims["scope"]), "https://www.googleapis.com/auth/cloud-platform");
  int64_t iat = claims["iat"], exp = claims["exp"];
  EXPECT_GT(exp, iat);
  EXPECT_LE(exp - iat, 3600);
  EXPECT_NEAR(static_cast<double>(iat), static_cast<double>(time(nullptr)), 60);
  std::string header_text = unbase64url(split_dots(jwt)[0]);
  simdjson::dom::element header = parser.parse(header_text).value();
  EXPECT_EQ(std::string_view(header["kid"]), "kid-123");
  src.reset();
}

TEST(VertexRefresh, ANudgeRefreshesEarlyButNotInABurst) {
  LocalTokenServer server;
  KeyFile kf(server.uri());
  FakeHost host(AIGW_MODE_HTTP);
  gp::RefreshTiming t = fast_timing();
  t.nudge_gap_ms = 300;
  auto src = source_for(kf, host, t);
  ASSERT_TRUE(eventually([&] { return src->current()->authorization == "Bearer tok-1"; }));
  // Ten 401s at once: one new token, after the quiet spell, not ten.
  for (int i = 0; i < 10; ++i) src->refresh_soon();
  ASSERT_TRUE(eventually([&] { return src->current()->authorization == "Bearer tok-2"; }, 2000ms));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(server.served(), 2);
  src.reset();
}

TEST(VertexRefresh, AFailureIsReportedAndRetriedUntilTheEndpointIsBack) {
  LocalTokenServer server;
  server.mode = LocalTokenServer::Mode::error_400;
  KeyFile kf(server.uri());
  FakeHost host(AIGW_MODE_HTTP);
  auto src = source_for(kf, host, fast_timing());
  ASSERT_TRUE(eventually([&] {
    return src->current()->last_error.find("invalid_grant: Invalid JWT Signature.") != std::string::npos;
  }));
  EXPECT_TRUE(src->current()->authorization.empty());
  int before = server.served();
  ASSERT_TRUE(eventually([&] { return server.served() >= before + 2; }));  // retried
  server.mode = LocalTokenServer::Mode::ok;
  ASSERT_TRUE(eventually([&] { return !src->current()->authorization.empty(); }));
  src.reset();
  for (const std::string& line : host.logs) {
    EXPECT_EQ(line.find("tok-"), std::string::npos) << line;
    EXPECT_EQ(line.find(key_marker()), std::string::npos) << line;
  }
}

TEST(VertexRefresh, AHungEndpointNeitherHangsTheThreadNorItsDestruction) {
  LocalTokenServer server;
  server.mode = LocalTokenServer::Mode::hang;
  KeyFile kf(server.uri());
  FakeHost host(AIGW_MODE_HTTP);
  gp::RefreshTiming t = fast_timing();
  t.timeout_ms = 300;
  auto src = source_for(kf, host, t);
  // The request times out and says so.
  ASSERT_TRUE(eventually([&] { return src->current()->last_error.find("timed out") != std::string::npos; }));
  // Destroying it mid-request (the next attempt hangs too) returns at once.
  ASSERT_TRUE(eventually([&] { return server.served() == 0 && server.forms().size() >= 2; }));
  auto start = std::chrono::steady_clock::now();
  src.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 250ms);
}

// --- the hooks in Vertex mode ---------------------------------------------------------

struct Call {
  FakeRequest fr;
  std::string body;
  std::string model = "gemini-2.5-flash";
  aigw_host_bytes chunk{};
  aigw_client_request client{};
  aigw_status new_status = -1;
  aigw_status build_status = -1;
  std::string error;
  void* ctx = nullptr;
  aigw_upstream_request up{};
  std::string up_path, up_body;
  std::map<std::string, std::string> up_headers;
};

class VertexPluginTest : public ::testing::Test {
 protected:
  void open(std::map<std::string, ConfigValue> values) {
    cfg_.values = std::move(values);
    char buf[512] = "";
    aigw_errbuf err{buf, sizeof buf};
    ASSERT_EQ(hooks_->config_new(host_.table(), host_.plugin(), cfg_.handle(), &config_, &err), AIGW_OK) << buf;
    aigw_worker_info info{sizeof(aigw_worker_info), 0, 1, 0};
    ASSERT_EQ(hooks_->instance_new(config_, &info, &instance_, &err), AIGW_OK) << buf;
  }
  void TearDown() override {
    for (auto& c : calls_) {
      if (c->new_status == AIGW_OK) hooks_->request_destroy(c->ctx);
    }
    if (instance_ != nullptr) hooks_->instance_destroy(instance_);
    if (config_ != nullptr) hooks_->config_destroy(config_);
    for (const std::string& line : host_.logs) {
      EXPECT_EQ(line.find("tok-"), std::string::npos) << "a token in the log: " << line;
      EXPECT_EQ(line.find("ek-"), std::string::npos) << "a key in the log: " << line;
    }
  }

  Call& request(const std::string& body, aigw_endpoint ep = AIGW_ENDPOINT_CHAT_COMPLETIONS, bool stream = false) {
    calls_.push_back(std::make_unique<Call>());
    Call& c = *calls_.back();
    c.body = body;
    c.chunk = {reinterpret_cast<const uint8_t*>(c.body.data()), c.body.size()};
    c.client.struct_size = sizeof c.client;
    c.client.endpoint = ep;
    c.client.stream = stream ? 1 : 0;
    c.client.model = {c.model.data(), c.model.size()};
    c.client.upstream_model = {c.model.data(), c.model.size()};
    c.client.method = {"POST", 4};
    c.client.body = &c.chunk;
    c.client.body_count = body.empty() ? 0 : 1;
    c.client.model_value_len = 1;
    c.client.key_index = 0;
    char buf[512] = "";
    aigw_errbuf err{buf, sizeof buf};
    c.new_status = hooks_->request_new(instance_, c.fr.handle(), &c.client, &c.ctx, &err);
    c.error = buf;
    if (c.new_status != AIGW_OK) return c;
    c.up.struct_size = sizeof c.up;
    c.up.body_unchanged = 1;
    c.up.method = {"POST", 4};
    c.up.path_and_query = {"/v1/chat/completions", 20};
    c.build_status = hooks_->build_upstream(c.ctx, &c.up, &err);
    c.error = buf;
    if (c.build_status != AIGW_OK) return c;
    c.up_path.assign(c.up.path_and_query.ptr, c.up.path_and_query.len);
    for (size_t i = 0; i < c.up.header_count; ++i) {
      c.up_headers[std::string(c.up.headers[i].name.ptr, c.up.headers[i].name.len)] =
          std::string(c.up.headers[i].value.ptr, c.up.headers[i].value.len);
    }
    if (!c.up.body_unchanged) {
      for (size_t i = 0; i < c.up.body_count; ++i) {
        c.up_body.append(reinterpret_cast<const char*>(c.up.body[i].ptr), c.up.body[i].len);
      }
    }
    return c;
  }

  aigw_upstream_verdict head(Call& c, int32_t status) {
    aigw_upstream_verdict v{};
    v.struct_size = sizeof v;
    v.error_class = -1;
    EXPECT_EQ(hooks_->on_upstream_head(c.ctx, status, nullptr, 0, &v), AIGW_OK);
    return v;
  }

  const gp::Config& config() const { return *static_cast<const gp::Config*>(config_); }

  FakeHost host_{AIGW_MODE_HTTP};
  FakeConfig cfg_;
  const aigw_hooks* hooks_ = aigw_gemini_plugin_entry()->hooks;
  void* config_ = nullptr;
  void* instance_ = nullptr;
  std::vector<std::unique_ptr<Call>> calls_;
};

const char* kChat = R"({"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]})";

TEST_F(VertexPluginTest, ServiceAccountRequestsCarryTheBearerTokenToVertexPaths) {
  LocalTokenServer server;
  KeyFile kf(server.uri());
  open(vertex_table(kf.path));
  EXPECT_EQ(hooks_->key_count(config_), 1u);
  aigw_health_probe probe{};
  probe.struct_size = sizeof probe;
  ASSERT_EQ(hooks_->health_probe(config_, &probe), AIGW_OK);
  EXPECT_EQ(std::string(probe.path.ptr, probe.path.len),
            "/v1/projects/proj-1/locations/us-central1/endpoints?pageSize=1");
  ASSERT_TRUE(eventually([&] { return !config().tokens->current()->authorization.empty(); }));

  Call& c = request(kChat);
  ASSERT_EQ(c.build_status, AIGW_OK) << c.error;
  EXPECT_EQ(c.up_path, "/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent");
  EXPECT_EQ(c.up_headers["Authorization"], "Bearer tok-1");
  EXPECT_EQ(c.up_headers.count("x-goog-api-key"), 0u);

  Call& s = request(kChat, AIGW_ENDPOINT_CHAT_COMPLETIONS, true);
  EXPECT_EQ(s.up_path, "/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse");

  // A rejected token asks for a new one and leaves the channel enabled.
  EXPECT_EQ(head(c, 401).error_class, AIGW_ERROR_RETRYABLE);
  EXPECT_EQ(head(s, 403).error_class, AIGW_ERROR_KEY_INVALID);
}

TEST_F(VertexPluginTest, EmbeddingsGoToPredictWithOutputDimensionality) {
  LocalTokenServer server;
  KeyFile kf(server.uri());
  open(vertex_table(kf.path));
  ASSERT_TRUE(eventually([&] { return !config().tokens->current()->authorization.empty(); }));
  Call& c = request(R"({"model":"text-embedding-005","input":["a","b"],"dimensions":256})", AIGW_ENDPOINT_EMBEDDINGS);
  ASSERT_EQ(c.build_status, AIGW_OK) << c.error;
  EXPECT_EQ(c.up_path, "/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-flash:predict");
  EXPECT_EQ(c.up_body, R"({"instances":[{"content":"a"},{"content":"b"}],"parameters":{"outputDimensionality":256}})");

  head(c, 200);
  std::string answer = R"({"predictions":[{"embeddings":{"values":[0.5,-1],"statistics":{"token_count":1,"truncated":false}}},)"
                       R"({"embeddings":{"values":[2e-3,0],"statistics":{"token_count":2.0,"truncated":false}}}]})";
  aigw_host_bytes b{reinterpret_cast<const uint8_t*>(answer.data()), answer.size()};
  EXPECT_EQ(hooks_->on_upstream_body(c.ctx, &b, 1, 1), AIGW_OK);
  simdjson::dom::parser parser;
  simdjson::dom::element out = parser.parse(c.fr.body()).value();
  EXPECT_EQ(c.fr.status, 200);
  EXPECT_EQ(std::string_view(out["object"]), "list");
  EXPECT_EQ(double(out["data"].at(0)["embedding"].at(1)), -1.0);
  EXPECT_EQ(double(out["data"].at(1)["embedding"].at(0)), 0.002);
  EXPECT_EQ(int64_t(out["usage"]["prompt_tokens"]), 3);
}

TEST_F(VertexPluginTest, WithoutATokenRequestsFailAtOnceAndSayWhy) {
  LocalTokenServer server;
  server.mode = LocalTokenServer::Mode::error_400;
  KeyFile kf(server.uri());
  open(vertex_table(kf.path));
  ASSERT_TRUE(eventually([&] { return !config().tokens->current()->last_error.empty() && server.served() > 0; }));
  auto start = std::chrono::steady_clock::now();
  Call& c = request(kChat);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
  ASSERT_EQ(c.new_status, AIGW_OK);
  // INTERNAL: aigw counts it against the channel and fails over.
  EXPECT_EQ(c.build_status, AIGW_ERR_INTERNAL);
  EXPECT_NE(c.error.find("Vertex AI access token unavailable"), std::string::npos) << c.error;

  // A probe is refused by the plugin rather than sent without a token.
  Call& p = request("", AIGW_ENDPOINT_HEALTH_PROBE);
  EXPECT_EQ(p.new_status, AIGW_ERR_INTERNAL);
}

TEST_F(VertexPluginTest, ExpressModeSendsTheKeyHeaderToThePublisherPath) {
  open({{"vertex", true}, {"api_keys", std::vector<std::string>{"ek-1"}}});
  Call& c = request(kChat);
  ASSERT_EQ(c.build_status, AIGW_OK) << c.error;
  EXPECT_EQ(c.up_path, "/v1/publishers/google/models/gemini-2.5-flash:generateContent");
  EXPECT_EQ(c.up_headers["x-goog-api-key"], "ek-1");
  EXPECT_EQ(c.up_headers.count("Authorization"), 0u);
  EXPECT_EQ(c.up_path.find("ek-1"), std::string::npos);
  aigw_health_probe probe{};
  probe.struct_size = sizeof probe;
  EXPECT_EQ(hooks_->health_probe(config_, &probe), AIGW_ERR_UNSUPPORTED);
  // An express key Vertex refuses is a bad key, as in AI Studio.
  EXPECT_EQ(head(c, 401).error_class, AIGW_ERROR_KEY_INVALID);
}

}  // namespace
