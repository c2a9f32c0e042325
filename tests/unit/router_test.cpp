#include "worker/router.h"

#include <gtest/gtest.h>

#include "http/response.h"

namespace {

using aigw::http::Method;
using aigw::worker::Router;

int g_called = 0;
void handler_a(aigw::worker::Exchange&) { g_called = 1; }
void handler_b(aigw::worker::Exchange&) { g_called = 2; }

TEST(Router, ExactMatchAndMethods) {
  Router r;
  r.add("/health", {Method::get}, handler_a);
  auto found = r.find("/health", Method::get);
  EXPECT_EQ(found.match, Router::Match::found);
  EXPECT_EQ(found.handler, &handler_a);
  // GET implies HEAD.
  EXPECT_EQ(r.find("/health", Method::head).match, Router::Match::found);
  auto wrong = r.find("/health", Method::post);
  EXPECT_EQ(wrong.match, Router::Match::method_not_allowed);
  EXPECT_EQ(wrong.allow, "GET, HEAD");
  EXPECT_EQ(r.find("/healthz", Method::get).match, Router::Match::not_found);
  EXPECT_EQ(r.find("/health/", Method::get).match, Router::Match::not_found);
}

TEST(Router, SeveralHandlersOnOnePath) {
  Router r;
  r.add("/x", {Method::get}, handler_a);
  r.add("/x", {Method::post, Method::del}, handler_b);
  EXPECT_EQ(r.find("/x", Method::get).handler, &handler_a);
  EXPECT_EQ(r.find("/x", Method::post).handler, &handler_b);
  EXPECT_EQ(r.find("/x", Method::del).handler, &handler_b);
  auto no = r.find("/x", Method::put);
  EXPECT_EQ(no.match, Router::Match::method_not_allowed);
  EXPECT_EQ(no.allow, "GET, HEAD, POST, DELETE");
}

TEST(Router, UnknownMethodIsNotAllowed) {
  Router r;
  r.add("/x", {Method::get}, handler_a);
  EXPECT_EQ(r.find("/x", Method::other).match, Router::Match::method_not_allowed);
}

TEST(Response, ErrorShape) {
  std::string out;
  aigw::http::ResponseMeta meta;
  meta.keep_alive = false;
  aigw::http::write_error(out, 404, meta, "not_found", "No \"route\"");
  EXPECT_NE(out.find("HTTP/1.1 404 Not Found\r\n"), std::string::npos);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
  std::string body = R"({"error":{"message":"No \"route\"","type":"invalid_request_error","code":"not_found"}})";
  EXPECT_NE(out.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - body.size()), body);
}

TEST(Response, ServerErrorType) {
  EXPECT_NE(aigw::http::error_body(503, "x", "y").find("\"server_error\""), std::string::npos);
}

TEST(Response, HeadOnlyKeepsContentLength) {
  std::string out;
  aigw::http::ResponseMeta meta;
  meta.head_only = true;
  aigw::http::write_response(out, 200, meta, "text/plain", "hello");
  EXPECT_NE(out.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
}

TEST(Response, Http10KeepAliveIsExplicit) {
  std::string out;
  aigw::http::ResponseMeta meta;
  meta.version_minor = 0;
  aigw::http::write_response(out, 200, meta, "", "");
  EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
}

TEST(Response, HttpDate) {
  char buf[32];
  size_t n = aigw::http::format_http_date(784111777, buf);
  EXPECT_EQ(std::string(buf, n), "Sun, 06 Nov 1994 08:49:37 GMT");
}

}  // namespace
