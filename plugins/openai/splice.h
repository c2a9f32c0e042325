// Rewriting the client body without re-serialising it: the upstream body is
// a list of views -- runs of the client's own bytes with a few new bytes
// between them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aigw_plugin.h"

namespace aigw::openai_plugin {

struct Edit {
  uint64_t offset;  // in the body seen as one sequence
  uint64_t remove;  // bytes of the body replaced by `insert`
  std::string_view insert;
};

// Room `out` needs for splice_chunks.
constexpr size_t max_spliced_chunks(size_t body_count, size_t edit_count) {
  return body_count + 2 * edit_count;
}

// Writes the views of `body` with `edits` applied to `out` and returns how
// many, or SIZE_MAX when the edits are not sorted, overlap, or reach past
// the body. Empty views are left out. The views point into `body` and into
// the edits' insert bytes.
size_t splice_chunks(const aigw_host_bytes* body, size_t body_count, const Edit* edits,
                     size_t edit_count, aigw_plugin_bytes* out);

// Appends `s` percent-encoded for a URL path segment (everything but
// RFC 3986 unreserved characters).
void append_path_segment(std::string& out, std::string_view s);

}  // namespace aigw::openai_plugin
