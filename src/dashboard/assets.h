// The operator's dashboard (GET /ui on the admin listener): its files,
// compiled into the binary at build time by embed.py, so an installed aigw
// serves the page with nothing to find on disk and no version skew between
// the page and the endpoints it reads.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace aigw::dashboard {

struct Asset {
  std::string_view path;          // as requested: "/ui", "/ui/app.js"
  std::string_view content_type;  // from the file's extension, at build time
  std::string_view etag;          // strong validator: a hash of the bytes, quoted
  std::string_view bytes;
};

// Every file of src/dashboard/assets/, index.html under "/ui" (generated).
std::span<const Asset> assets();

// The asset served at `path`, or null.
const Asset* find(std::string_view path);

// RFC 9110 13.1.2: does an If-None-Match field value name `etag`? The weak
// comparison applies (W/"x" matches "x"); "*" matches any.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

// The headers every dashboard answer carries: the policy allows scripts,
// styles and fetches from this origin only (no inline script, no eval, no
// framing), so a string that slipped into the page can never run.
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

}  // namespace aigw::dashboard
