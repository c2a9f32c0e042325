// The upstream request's head: the host owns its framing, so a header that
// could split the request or change its framing is refused, never written.
#include "upstream/request_writer.h"

#include <gtest/gtest.h>

#include <string>

namespace aigw::upstream {
namespace {

TEST(UpstreamRequestWriter, HeadHasTheLineHostAndLength) {
  std::string out;
  write_request_head(out, "POST", "/v1", "/chat/completions", "api.example.com", 0);
  EXPECT_EQ(out, "POST /v1/chat/completions HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 0\r\n");
  out.clear();
  write_request_head(out, "GET", "", "/models", "h", 18446744073709551615ull);
  EXPECT_EQ(out, "GET /models HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n");
}

TEST(UpstreamRequestWriter, HeaderLinesAreWrittenAsGiven) {
  std::string out = "x";
  EXPECT_TRUE(write_request_header(out, "Authorization", "Bearer sk-1"));
  EXPECT_TRUE(write_request_header(out, "x-empty", ""));
  EXPECT_TRUE(write_request_header(out, "x-tab", "a\tb \x7f\xc3\xa9"));  // HTAB, DEL, UTF-8: not line breaks
  EXPECT_TRUE(write_request_header(out, "x-none", std::string_view()));  // a plugin's {NULL, 0}
  EXPECT_EQ(out, "xAuthorization: Bearer sk-1\r\nx-empty: \r\nx-tab: a\tb \x7f\xc3\xa9\r\nx-none: \r\n");
}

TEST(UpstreamRequestWriter, ValuesThatCouldSplitTheRequestAreRefused) {
  for (std::string value : {std::string("a\rb"), std::string("a\nb"), std::string("a\0b", 3),
                            std::string("\r\nX-Injected: 1"), std::string("ends\n"),
                            std::string("a longer value over a word, then\r")}) {
    std::string out;
    EXPECT_FALSE(write_request_header(out, "x-a", value)) << value;
    EXPECT_TRUE(out.empty());
  }
  // Bytes near the refused ones stay allowed.
  std::string out;
  EXPECT_TRUE(write_request_header(out, "x-a", std::string("\x01\x0b\x0c\x0e\x1f", 5)));
}

TEST(UpstreamRequestWriter, NamesThatAreNotTokensOrTheHostsOwnAreRefused) {
  for (std::string_view name : {"", "a b", "a:b", "a\x7f", "a\r", "Host", "HOST", "content-length",
                                "Content-Length", "Transfer-Encoding", "transfer-encoding", "Connection",
                                "CONNECTION"}) {
    std::string out;
    EXPECT_FALSE(write_request_header(out, name, "v")) << name;
    EXPECT_TRUE(out.empty());
  }
  std::string out;
  EXPECT_TRUE(write_request_header(out, "Hosts", "v"));  // the same start is not the same name
  EXPECT_TRUE(write_request_header(out, "x-connection", "v"));
}

TEST(UpstreamRequestWriter, RequestLine) {
  EXPECT_TRUE(valid_request_line("POST", "/chat/completions"));
  EXPECT_TRUE(valid_request_line("GET", ""));
  EXPECT_TRUE(valid_request_line("GET", "?alt=sse"));
  EXPECT_FALSE(valid_request_line("", "/x"));
  EXPECT_FALSE(valid_request_line("PO ST", "/x"));
  EXPECT_FALSE(valid_request_line("POST", "x"));
  EXPECT_FALSE(valid_request_line("POST", "/x y"));
  EXPECT_FALSE(valid_request_line("POST", "/x\r\nHost: evil"));
}

}  // namespace
}  // namespace aigw::upstream
