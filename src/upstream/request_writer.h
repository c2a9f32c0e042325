// Serialises an upstream HTTP/1.1 request. The host owns framing and the
// Host header: a header a provider plugin asks for that could split the
// request or change its framing is dropped, never sent.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::upstream {

// A method is one token; a target starts with '/' or '?' (appended to the
// base path) or is empty; neither may hold spaces or line ends.
bool valid_request_line(std::string_view method, std::string_view target);

// "METHOD base_path+target HTTP/1.1", Host and Content-Length.
void write_request_head(std::string& out, std::string_view method, std::string_view base_path,
                        std::string_view target, std::string_view host, uint64_t body_len);
// One header line; false (and nothing written) when it is unsafe or one the
// host owns (Host, Content-Length, Transfer-Encoding, Connection).
bool write_request_header(std::string& out, std::string_view name, std::string_view value);
// The blank line that ends the head.
inline void end_request_head(std::string& out) { out.append("\r\n"); }

}  // namespace aigw::upstream
