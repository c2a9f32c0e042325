#include "support/fake_gateway_host.h"

#include "http/request.h"
#include "http/response_parser.h"

namespace aigw::test {

void FakeGatewayHost::output(uint32_t conn_index, uint32_t conn_generation, const std::string_view* parts, size_t n,
                             bool done, bool close) {
  // One Output per call, as the worker appends the parts in one go.
  std::string bytes;
  for (size_t i = 0; i < n; ++i) bytes.append(parts[i]);
  outputs.push_back({conn_index, conn_generation, std::move(bytes), done, close});
}

void FakeGatewayHost::record(const metrics::RequestRecord& rec) {
  Record r;
  r.request_id = rec.request_id;
  r.model = rec.model;
  r.provider = rec.provider;
  r.key = rec.key;
  r.error = rec.error;
  r.status = rec.status;
  r.attempts = rec.attempts;
  r.stream = rec.stream;
  r.first_byte_ns = rec.first_byte_ns;
  records.push_back(std::move(r));
}

std::vector<const FakeGatewayHost::Output*> FakeGatewayHost::outputs_for(uint32_t conn_index) const {
  std::vector<const Output*> out;
  for (const Output& o : outputs) {
    if (o.conn_index == conn_index) out.push_back(&o);
  }
  return out;
}

std::string FakeGatewayHost::bytes_for(uint32_t conn_index) const {
  std::string all;
  for (const Output* o : outputs_for(conn_index)) all += o->bytes;
  return all;
}

std::string FakeGatewayHost::Answer::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (http::iequals(k, name)) return v;
  }
  return "";
}

// Read as a client would: the real response parser and chunked decoder, so
// a malformed head or chunk fails the test instead of passing a substring
// check.
FakeGatewayHost::Answer FakeGatewayHost::answer(uint32_t conn_index) const {
  Answer a;
  const std::string all = bytes_for(conn_index);
  http::ResponseHead head;
  http::ParseError err;
  if (http::parse_response_head(all, false, http::ResponseLimits{}, head, err) != http::ParseStatus::complete) {
    a.rest = all;
    return a;
  }
  a.parsed = true;
  a.status = head.status;
  for (const http::Header& h : head.headers) a.headers.emplace_back(h.name, h.value);
  std::string_view body = std::string_view(all).substr(head.head_bytes);
  switch (head.body_kind) {
    case http::ResponseBodyKind::none:
      a.complete = true;
      a.rest = body;
      break;
    case http::ResponseBodyKind::length:
      a.complete = body.size() >= head.content_length;
      a.body = body.substr(0, head.content_length);
      if (a.complete) a.rest = body.substr(head.content_length);
      break;
    case http::ResponseBodyKind::chunked: {
      http::ChunkedDecoder dec;
      size_t used = 0;
      auto res = dec.feed(body, used, a.body, http::ResponseLimits{}.chunked_limits(), err);
      a.complete = res == http::ChunkedDecoder::Result::done;
      a.rest = body.substr(used);
      break;
    }
    case http::ResponseBodyKind::until_close:
      a.body = body;
      a.complete = !outputs_for(conn_index).empty() && outputs_for(conn_index).back()->done;
      break;
  }
  return a;
}

}  // namespace aigw::test
