// aigw_plugin.hpp -- helpers for aigw provider plugins written in C++.
//
// The ABI is aigw_plugin.h, a C header; this file only makes the chores
// every C++ plugin repeats shorter and the same everywhere. It is
// header-only, C++17, and includes nothing but aigw_plugin.h and the
// standard library: a plugin outside aigw's tree copies the two files side
// by side. Everything is inline in namespace aigw::sdk, nothing is exported,
// and nothing keeps state between calls, so two plugins built with
// different copies of this file can be loaded into one aigw.
//
// What is here, in file order:
//   str, view, bytes         ABI strings to and from std::string_view
//   set_error                messages into the host's aigw_errbuf
//   has_field, require_host  struct_size checks (VERSIONING RULE)
//   guarded, guarded_event   the exception barrier at every hook
//   new_config, destroy      config_new and the destroy hooks
//   ConfigReader             typed config reads with messages in one style
//   utf8_sequence            UTF-8 decoding, and is_valid_utf8
//   append_json_string       JSON strings under one UTF-8 policy (below)
//   SseSplitter              upstream text/event-stream into whole events,
//   for_each_sse_field       and the fields of one event
//   commit                   aigw_host.commit where the host has it (ABI 1.2)
//   iequals, wipe            header names; secrets
//
// Exceptions: functions marked noexcept never throw. The others allocate
// and may throw std::bad_alloc; call them inside guarded() or
// guarded_event(), which every hook should be wrapped in anyway.
#ifndef AIGW_PLUGIN_HPP
#define AIGW_PLUGIN_HPP

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "aigw_plugin.h"

namespace aigw::sdk {

// --- strings across the ABI -------------------------------------------------

// The ABI's strings are plain {ptr, len} pairs; these convert without a
// copy, so plugin code can work in std::string_view throughout.
inline aigw_plugin_str str(std::string_view s) noexcept { return {s.data(), s.size()}; }

// A host string may be {NULL, 0}; a string_view over NULL is only valid with
// length 0, so NULL always becomes the empty view.
inline std::string_view view(aigw_host_str s) noexcept {
  return s.ptr == nullptr ? std::string_view() : std::string_view(s.ptr, s.len);
}

// Body chunks are bytes in the ABI and text to most plugin code.
inline std::string_view view(aigw_host_bytes b) noexcept {
  return b.ptr == nullptr ? std::string_view()
                          : std::string_view(reinterpret_cast<const char*>(b.ptr), b.len);
}

// For emit: bytes the plugin owns, as the host reads them.
inline aigw_plugin_bytes bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// --- errors -----------------------------------------------------------------

// The host reads errbuf as a C string of at most cap - 1 bytes, so the
// message is cut to fit and NUL-terminated. A cut never splits a UTF-8
// sequence: the host puts the message into JSON and logs, where half a
// character would be an invalid byte. A null or empty buffer is ignored
// (a hook may be called without one).
inline void set_error(aigw_errbuf* err, std::string_view prefix,
                      std::string_view message) noexcept {
  if (err == nullptr || err->ptr == nullptr || err->cap == 0) return;
  const size_t room = err->cap - 1;
  const std::string_view parts[2] = {prefix, message};
  size_t n = 0;
  bool cut = false;
  unsigned char next = 0;  // the first byte left out, when cut
  for (std::string_view part : parts) {
    size_t take = part.size() < room - n ? part.size() : room - n;
    if (take > 0) std::memcpy(err->ptr + n, part.data(), take);  // data() may be null
    n += take;
    if (take < part.size()) {
      cut = true;
      next = static_cast<unsigned char>(part[take]);
      break;
    }
  }
  // A continuation byte first in what was left out means the last kept
  // character is incomplete: drop back to its lead byte.
  while (cut && n > 0 && (next & 0xC0) == 0x80) {
    --n;
    next = static_cast<unsigned char>(err->ptr[n]);
  }
  err->ptr[n] = '\0';
}

// The one-part form, for messages built whole.
inline void set_error(aigw_errbuf* err, std::string_view message) noexcept {
  set_error(err, std::string_view(), message);
}

// --- struct_size ------------------------------------------------------------

// Every ABI struct starts with struct_size, and a field past it was never
// written by the other side (an older host, or a host of a lower minor), so
// a plugin reads such a field only when this returns true. The field's
// offset is taken from a local value-initialised T rather than from `s`,
// which may be shorter than T.
//   if (sdk::has_field(*client, &aigw_client_request::key_index)) ...
template <typename T, typename F>
bool has_field(const T& s, F T::*field) noexcept {
  const T probe{};
  const auto* base = reinterpret_cast<const char*>(&probe);
  const auto* at = reinterpret_cast<const char*>(&(probe.*field));
  return s.struct_size >= static_cast<size_t>(at - base) + sizeof(F);
}

// config_new's first duty: calling a callback past the end of an older
// host's table would jump through whatever lies there. `last` is the last
// callback the plugin calls (for ABI 1.0, &aigw_host::process_kill covers
// them all). Returns AIGW_OK, or AIGW_ERR_UNSUPPORTED with
// "<who>: host callback table too old (ABI M.m, N bytes)" in `err`.
template <typename F>
aigw_status require_host(const aigw_host& host, F aigw_host::*last, std::string_view who,
                         aigw_errbuf* err) noexcept {
  if (host.abi_major == AIGW_ABI_MAJOR && has_field(host, last)) return AIGW_OK;
  char detail[96];
  int n = std::snprintf(detail, sizeof detail,
                        ": host callback table too old (ABI %u.%u, %u bytes)",
                        static_cast<unsigned>(host.abi_major),
                        static_cast<unsigned>(host.abi_minor),
                        static_cast<unsigned>(host.struct_size));
  size_t len = n < 0 ? 0 : static_cast<size_t>(n);
  set_error(err, who, std::string_view(detail, len < sizeof detail ? len : sizeof detail - 1));
  return AIGW_ERR_UNSUPPORTED;
}

// --- the exception barrier --------------------------------------------------

// A C++ exception must never unwind into the host's C frames (undefined
// behaviour, in practice a crash of the whole gateway). Wrap the body of
// every hook that returns a status and has an errbuf: fn returns the
// status; an exception becomes AIGW_ERR_NO_MEMORY ("<who>: out of memory")
// or AIGW_ERR_INTERNAL ("<who>: internal error"). `who` names the plugin
// in the message, e.g. "openai plugin".
template <typename Fn>
aigw_status guarded(std::string_view who, aigw_errbuf* err, Fn&& fn) noexcept {
  try {
    return std::forward<Fn>(fn)();
  } catch (const std::bad_alloc&) {
    set_error(err, who, ": out of memory");
    return AIGW_ERR_NO_MEMORY;
  } catch (...) {
    set_error(err, who, ": internal error");
    return AIGW_ERR_INTERNAL;
  }
}

// The barrier for hooks with no errbuf (timers, process and upstream
// events): the request has to end instead, so an exception from fn calls
// on_failure(status) with the status above, and on_failure ends the request
// (host->finish) unless it is over already. If on_failure throws as well,
// nothing more can be done for the request than to return.
template <typename Fn, typename OnFailure>
void guarded_event(Fn&& fn, OnFailure&& on_failure) noexcept {
  aigw_status st;
  try {
    std::forward<Fn>(fn)();
    return;
  } catch (const std::bad_alloc&) {
    st = AIGW_ERR_NO_MEMORY;
  } catch (...) {
    st = AIGW_ERR_INTERNAL;
  }
  try {
    std::forward<OnFailure>(on_failure)(st);
  } catch (...) {
  }
}

// --- hooks every plugin writes alike ------------------------------------

// config_new as every plugin writes it: inside the barrier, refuse null
// arguments and a host table that does not reach `last` (require_host),
// make a Config, let load(Config&, std::string& error) fill it, and hand it
// to the host only when load returned AIGW_OK; otherwise the Config is
// freed and `error` goes into `err`. Pair it with destroy<Config> as
// config_destroy.
template <typename Config, typename F, typename Load>
aigw_status new_config(std::string_view who, const aigw_host* host, F aigw_host::*last,
                       void** config_out, aigw_errbuf* err, Load&& load) noexcept {
  return guarded(who, err, [&]() -> aigw_status {
    if (host == nullptr || config_out == nullptr) return AIGW_ERR_INVALID;
    aigw_status st = require_host(*host, last, who, err);
    if (st != AIGW_OK) return st;
    auto config = std::make_unique<Config>();
    std::string error;
    st = load(*config, error);
    if (st != AIGW_OK) {
      set_error(err, error);
      return st;
    }
    *config_out = config.release();
    return AIGW_OK;
  });
}

// The destroy hooks for objects the plugin made with new (config_destroy,
// instance_destroy, request_destroy): the host hands back a void*, and the
// cast to the right type is the one thing such a hook must get right.
template <typename T>
void destroy(void* object) noexcept {
  delete static_cast<T*>(object);
}

// The per-request hooks of an HTTP-mode plugin, which every such plugin
// writes alike: check the host's arguments, build or find the request
// object, and keep exceptions inside. `Request` is the plugin's
// per-request class and must offer
//   Request(Instance&, aigw_request*, const aigw_client_request&);
//   aigw_status admit(std::string& error);          // request_new: refuse here
//   aigw_status build_upstream(aigw_upstream_request&, std::string& error);
//   aigw_status on_head(int32_t status, const aigw_host_header*, size_t count,
//                       aigw_upstream_verdict&);
//   void on_body(const aigw_host_bytes*, size_t count, bool end_of_body);
//   void fail(aigw_status, std::string_view message);  // end with an error unless over
//   void client_gone();
// `Who` is a type with `static constexpr std::string_view name` naming the
// plugin in messages ("openai plugin"). Use the members as the hooks:
// request_new, request_destroy (destroy<Request>), build_upstream,
// on_upstream_head, on_upstream_body, on_client_gone.
template <typename Request, typename Instance, typename Who>
struct HttpRequestHooks {
  static aigw_status request_new(void* instance, aigw_request* req, const aigw_client_request* client,
                                 void** ctx_out, aigw_errbuf* err) noexcept {
    return guarded(Who::name, err, [&]() -> aigw_status {
      if (instance == nullptr || client == nullptr || ctx_out == nullptr ||
          !has_field(*client, &aigw_client_request::model_value_len)) {
        set_error(err, Who::name, ": malformed client request");
        return AIGW_ERR_INVALID;
      }
      auto r = std::make_unique<Request>(*static_cast<Instance*>(instance), req, *client);
      std::string error;
      aigw_status st = r->admit(error);
      if (st != AIGW_OK) {
        set_error(err, error);
        return st;
      }
      *ctx_out = r.release();
      return AIGW_OK;
    });
  }

  static aigw_status build_upstream(void* ctx, aigw_upstream_request* up, aigw_errbuf* err) noexcept {
    return guarded(Who::name, err, [&]() -> aigw_status {
      if (ctx == nullptr || up == nullptr) return AIGW_ERR_INVALID;
      std::string error;
      aigw_status st = static_cast<Request*>(ctx)->build_upstream(*up, error);
      if (st != AIGW_OK) set_error(err, error);
      return st;
    });
  }

  static aigw_status on_upstream_head(void* ctx, int32_t status, const aigw_host_header* headers,
                                      size_t header_count, aigw_upstream_verdict* verdict) noexcept {
    if (ctx == nullptr || verdict == nullptr) return AIGW_ERR_INVALID;
    auto& r = *static_cast<Request*>(ctx);
    aigw_status st = AIGW_OK;
    event(r, [&] { st = r.on_head(status, headers, header_count, *verdict); });
    return st;
  }

  static aigw_status on_upstream_body(void* ctx, const aigw_host_bytes* chunks, size_t count,
                                      int32_t end_of_body) noexcept {
    if (ctx == nullptr || (chunks == nullptr && count > 0)) return AIGW_ERR_INVALID;
    auto& r = *static_cast<Request*>(ctx);
    event(r, [&] { r.on_body(chunks, count, end_of_body != 0); });
    return AIGW_OK;
  }

  // The host aborts the upstream request; what still arrives is ignored.
  static void on_client_gone(void* ctx) noexcept {
    if (ctx == nullptr) return;
    guarded_event([&] { static_cast<Request*>(ctx)->client_gone(); }, [](aigw_status) {});
  }

 private:
  // For upstream events: an exception ends the request with the error.
  template <typename Fn>
  static void event(Request& r, Fn&& fn) noexcept {
    guarded_event(std::forward<Fn>(fn), [&r](aigw_status st) {
      r.fail(st, std::string(Who::name) + ": internal error");
    });
  }
};

// --- configuration ----------------------------------------------------------

// "command[2]": how an array item is named in every message.
inline std::string item_name(std::string_view key, size_t index) {
  return std::string(key) + "[" + std::to_string(index) + "]";
}

// Durations in messages read like the config syntax: the largest unit that
// divides evenly ("120s", "2m", "250ms"), so "between 1ms and 1h" quotes
// what the operator would write.
inline std::string format_duration_ms(uint64_t ms) {
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// Reads a provider table through the host's config_* callbacks (only
// during config_new). Each getter returns true when the key was read and
// false when it is absent or wrong; a wrong one also records the error, and
// only the first error is kept (the host shows one message per provider),
// so a reader can carry on and check failed() once at the end. Messages
// name the key and what it must be: "timeout must be a duration such as
// \"250ms\" or \"10s\"", "chunk_words must be between 1 and 1000, got 0".
class ConfigReader {
 public:
  // `error` receives the first failure's message.
  ConfigReader(const aigw_host* host, aigw_config_source* src, std::string& error)
      : host_(host), src_(src), error_(error) {}

  bool string(std::string_view key, std::string& out) {
    aigw_host_str s{};
    if (!check(host_->config_string(src_, str(key), &s), key, "a string")) return false;
    out.assign(view(s));
    return true;
  }
  bool integer(std::string_view key, int64_t& out) {
    return check(host_->config_int(src_, str(key), &out), key, "an integer");
  }
  bool boolean(std::string_view key, bool& out) {
    int32_t b = 0;
    if (!check(host_->config_bool(src_, str(key), &b), key, "true or false")) return false;
    out = b != 0;
    return true;
  }
  bool duration_ms(std::string_view key, uint64_t& out) {
    return check(host_->config_duration_ms(src_, str(key), &out), key,
                 "a duration such as \"250ms\" or \"10s\"");
  }
  bool array_len(std::string_view key, size_t& out) {
    return check(host_->config_array_len(src_, str(key), &out), key, "an array of strings");
  }
  // Item `index` of an array whose length array_len gave: absent here is an
  // error ("command[3] is missing"), not a default.
  bool array_string(std::string_view key, size_t index, std::string& out) {
    aigw_host_str s{};
    aigw_status st = host_->config_array_string(src_, str(key), index, &s);
    std::string name = item_name(key, index);
    if (!check(st, name, "a string")) {
      if (!failed_) fail(name + " is missing");
      return false;
    }
    out.assign(view(s));
    return true;
  }
  // A secret (a string or an array item, "env:NAME" resolved by the host).
  // The value stays in host memory: the caller copies it straight into its
  // final place, so no temporary copy is left behind unwiped. `name` is
  // what messages call it; a secret's value never appears in one. An
  // absent item is an error when `required`.
  bool secret(std::string_view key, size_t index, std::string_view name, bool required,
              std::string_view& out) {
    aigw_host_str s{};
    if (!check(host_->config_secret(src_, str(key), index, &s), name,
               "a string, or \"env:NAME\" naming a set environment variable")) {
      if (required && !failed_) fail(std::string(name) + " is missing");
      return false;
    }
    out = view(s);
    return true;
  }

  // Range checks in the one wording operators see from every plugin.
  bool in_range(std::string_view key, int64_t v, int64_t lo, int64_t hi) {
    if (v >= lo && v <= hi) return true;
    return fail(std::string(key) + " must be between " + std::to_string(lo) + " and " +
                std::to_string(hi) + ", got " + std::to_string(v));
  }
  bool duration_in_range(std::string_view key, uint64_t v, uint64_t lo, uint64_t hi) {
    if (v >= lo && v <= hi) return true;
    return fail(std::string(key) + " must be between " + format_duration_ms(lo) + " and " +
                format_duration_ms(hi) + ", got " + format_duration_ms(v));
  }
  // Read and range-check in one step; `out` changes only when both pass,
  // so it can hold the default.
  bool integer_in(std::string_view key, int64_t lo, int64_t hi, int64_t& out) {
    int64_t v = 0;
    if (!integer(key, v) || !in_range(key, v, lo, hi)) return false;
    out = v;
    return true;
  }
  bool duration_in(std::string_view key, uint64_t lo, uint64_t hi, uint64_t& out) {
    uint64_t v = 0;
    if (!duration_ms(key, v) || !duration_in_range(key, v, lo, hi)) return false;
    out = v;
    return true;
  }

  // Whether `key` is set at all, asked with the type it would have; a value
  // of the wrong type still counts. For keys that do not apply in the mode
  // chosen: being set is the mistake to report, whatever the value.
  enum class Kind { string, integer, boolean, duration, array };
  bool present(std::string_view key, Kind kind) {
    aigw_host_str s{};
    int64_t i = 0;
    int32_t b = 0;
    uint64_t d = 0;
    size_t n = 0;
    aigw_status st = AIGW_ERR_NOT_FOUND;
    switch (kind) {
      case Kind::string: st = host_->config_string(src_, str(key), &s); break;
      case Kind::integer: st = host_->config_int(src_, str(key), &i); break;
      case Kind::boolean: st = host_->config_bool(src_, str(key), &b); break;
      case Kind::duration: st = host_->config_duration_ms(src_, str(key), &d); break;
      case Kind::array: st = host_->config_array_len(src_, str(key), &n); break;
    }
    return st != AIGW_ERR_NOT_FOUND;
  }

  // Records a failure of the plugin's own checks; returns false so that a
  // check can end with `return r.fail(...)`.
  bool fail(std::string message) {
    if (!failed_) error_ = std::move(message);
    failed_ = true;
    return false;
  }
  bool failed() const noexcept { return failed_; }

 private:
  // NOT_FOUND is "absent", INVALID is the wrong type (the host has already
  // recorded where in the file); anything else is the host's own failure.
  bool check(aigw_status st, std::string_view key, const char* expected) {
    if (st == AIGW_OK) return true;
    if (st == AIGW_ERR_NOT_FOUND) return false;
    if (st == AIGW_ERR_INVALID) return fail(std::string(key) + " must be " + expected);
    return fail("reading " + std::string(key) + " failed (status " + std::to_string(st) + ")");
  }

  const aigw_host* host_;
  aigw_config_source* src_;
  std::string& error_;
  bool failed_ = false;
};

// --- UTF-8 ------------------------------------------------------------------

// U+FFFD REPLACEMENT CHARACTER, what an invalid sequence becomes.
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

enum class Utf8Kind { complete, incomplete, invalid };

struct Utf8Seq {
  Utf8Kind kind;
  size_t len;  // complete: its length; invalid: the bytes one U+FFFD replaces;
               // incomplete: the bytes present (all of p[0..n))
};

// Classifies the sequence at p[0] (n >= 1 bytes available) by RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF. An invalid sequence
// is replaced as its longest valid prefix (the Unicode "maximal subpart"
// practice that browsers follow), so a bad byte never swallows the good
// character after it. `incomplete` means the bytes so far are a valid
// start that n cut short: a stream reader waits for more, a whole string
// replaces it.
inline Utf8Seq utf8_sequence(const unsigned char* p, size_t n) noexcept {
  unsigned char c = p[0];
  if (c < 0x80) return {Utf8Kind::complete, 1};
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return {Utf8Kind::invalid, 1};
  }
  for (size_t i = 1; i < need; ++i) {
    if (i >= n) return {Utf8Kind::incomplete, i};
    unsigned char b = p[i];
    bool ok = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) return {Utf8Kind::invalid, i};
  }
  return {Utf8Kind::complete, need};
}

// For config values and other input a plugin wants to refuse rather than
// repair.
inline bool is_valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size();) {
    Utf8Seq seq = utf8_sequence(p + i, s.size() - i);
    if (seq.kind != Utf8Kind::complete) return false;
    i += seq.len;
  }
  return true;
}

// --- JSON strings -----------------------------------------------------------

// The UTF-8 policy of every JSON string a plugin writes with these:
//   - '"' and '\\' are escaped as \" and \\;
//   - \n, \r and \t use their short escapes, every other byte below 0x20
//     becomes \u00XX (lowercase hex); DEL and everything from 0x20 up is
//     written as is (JSON needs no more escaping);
//   - valid UTF-8 passes through unchanged, and each invalid or truncated
//     sequence becomes U+FFFD (maximal subpart, as utf8_sequence says).
// A JSON text must be UTF-8 (RFC 8259 section 8.1), and a client's parser
// refuses the whole response for one bad byte; bytes from a model, a child
// process or an upstream carry no such promise, so the writer repairs
// instead of trusting its input.

// Appends the inside of a JSON string literal, without the quotes: for
// splicing into JSON the plugin did not write itself.
inline void append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t run = 0;  // bytes that need nothing are copied in runs
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      Utf8Seq seq = utf8_sequence(p + i, n - i);
      if (seq.kind != Utf8Kind::complete) {
        out.append(s.data() + run, i - run);
        out.append(kReplacementChar);
        run = i + seq.len;
      }
      i += seq.len;
      continue;
    }
    out.append(s.data() + run, i - run);
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.append(esc, sizeof esc);
      }
    }
    ++i;
    run = i;
  }
  out.append(s.data() + run, n - run);
}

// Appends `s` as a quoted JSON string, under the policy above.
inline void append_json_string(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  append_json_escaped(out, s);
  out.push_back('"');
}

// --- server-sent events -----------------------------------------------------

// Splits an upstream text/event-stream into whole events. A streaming
// plugin needs this because the host writes each emit to the client at once
// and holds a stream back until its first content event: emitting half an
// event would send the client a broken frame, or a frame the host cannot
// recognise. Lines end in LF or CRLF, and a line of nothing but CRs counts
// as blank.
class SseSplitter {
 public:
  // An event that has not ended after this many buffered bytes ends the
  // stream: nothing legitimate is that big, and the buffer must stay
  // bounded.
  static constexpr size_t kDefaultMaxEvent = 16u << 20;

  explicit SseSplitter(size_t max_event = kDefaultMaxEvent) : max_event_(max_event) {}

  // Calls on_event(std::string_view) for each event that `bytes` completes:
  // its bytes up to and including the blank line that ends it, exactly as
  // received. The view is valid during the call only. An event wholly
  // inside `bytes` is passed without a copy. Returns false when on_event
  // returned false or when the pending event outgrew max_event (overflow()
  // is then true).
  template <typename OnEvent>
  bool feed(std::string_view bytes, OnEvent&& on_event) {
    size_t pos = 0;
    while (pos < bytes.size()) {
      size_t end = find_end(bytes, pos);
      if (end == std::string_view::npos) {
        if (pending_.size() + (bytes.size() - pos) > max_event_) {
          overflow_ = true;
          return false;
        }
        pending_.append(bytes.substr(pos));
        return true;
      }
      bool go;
      event_lines_ = lines_;
      lines_ = 0;
      if (pending_.empty()) {
        go = on_event(bytes.substr(pos, end - pos));
      } else {
        pending_.append(bytes.substr(pos, end - pos));
        go = on_event(std::string_view(pending_));
        pending_.clear();
      }
      pos = end;
      if (!go) return false;
    }
    return true;
  }

  // The bytes of an event that has not ended yet: what is left when the
  // upstream body ends without its last blank line.
  std::string_view tail() const noexcept { return pending_; }
  bool overflow() const noexcept { return overflow_; }
  // During on_event: how many lines the event has before the blank line
  // that ends it, not counting blank ones. Nearly every event is one line
  // ("data: {...}" and its blank line); knowing that, a plugin can take the
  // line's end from the event's end instead of searching for it again.
  size_t event_lines() const noexcept { return event_lines_; }

 private:
  // The index just past the blank line that ends the event at or before
  // `from`, or npos. line_dirty_ remembers, across calls, whether the line
  // cut off at the end of the previous bytes had anything but CRs.
  size_t find_end(std::string_view bytes, size_t from) noexcept {
    size_t i = from;
    while (i < bytes.size()) {
      // An empty line right here (how nearly every event ends, after its
      // one data line) needs no search.
      if (!line_dirty_ && bytes[i] == '\n') return i + 1;
      const void* hit = std::memchr(bytes.data() + i, '\n', bytes.size() - i);
      if (hit == nullptr) {
        if (bytes.find_first_not_of('\r', i) != std::string_view::npos) line_dirty_ = true;
        return std::string_view::npos;
      }
      size_t nl = static_cast<size_t>(static_cast<const char*>(hit) - bytes.data());
      bool blank = !line_dirty_ &&
                   bytes.substr(i, nl - i).find_first_not_of('\r') == std::string_view::npos;
      line_dirty_ = false;
      i = nl + 1;
      if (blank) return i;
      ++lines_;
    }
    return std::string_view::npos;
  }

  size_t max_event_;
  std::string pending_;
  size_t lines_ = 0;        // lines of the event being read that have ended
  size_t event_lines_ = 0;  // ...of the event passed to on_event
  bool line_dirty_ = false;  // the current line has a byte other than CR
  bool overflow_ = false;
};

// Calls on_field(name, value) for each field line of one event, the way
// the SSE spec reads them: comment lines (":...") and blank lines are
// skipped, the value is what follows the first colon less one leading
// space, and a line without a colon is a name with an empty value. What the
// fields mean (data, event, id) is the provider's business.
template <typename OnField>
void for_each_sse_field(std::string_view event, OnField&& on_field) {
  size_t pos = 0;
  while (pos < event.size()) {
    size_t nl = event.find('\n', pos);
    if (nl == std::string_view::npos) nl = event.size();
    std::string_view line = event.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == ':') continue;
    size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    on_field(name, value);
  }
}

// --- host callbacks added after 1.0 ------------------------------------------

// aigw_host.commit (ABI 1.2): "the response's content has begun". Call it
// right after emitting the first event that carries content. A host older
// than 1.2 has no such callback (its table ends before it) and finds the
// start by sniffing the emitted bytes itself, so there is nothing to do then.
inline aigw_status commit(const aigw_host* host, aigw_request* req) noexcept {
  if (!has_field(*host, &aigw_host::commit) || host->commit == nullptr) return AIGW_OK;
  return host->commit(req);
}

// --- small things every HTTP plugin needs -----------------------------------

namespace detail {

// Whether the bytes of two words are equal but for the case of ASCII
// letters: where they differ, only in the case bit (0x20), and only where x
// holds a letter. x's letters, per byte, on its low seven bits with the
// case bit set: adding 0x1f sets the high bit from 'a' up, adding 0x05 from
// past 'z' up, neither carries into the next byte, and a byte with its own
// high bit set is no letter. Per byte, so either endianness.
inline bool same_folded(uint64_t x, uint64_t y) noexcept {
  constexpr uint64_t kEach = 0x0101010101010101ull;
  const uint64_t c = (x | (kEach * 0x20)) & (kEach * 0x7f);
  const uint64_t letter = (c + kEach * (0x80 - 'a')) & ~(c + kEach * (0x7f - 'z')) & ~x & (kEach * 0x80);
  return ((x ^ y) & ~(letter >> 2)) == 0;
}

inline uint64_t load_word(const char* p, size_t n) noexcept {  // n is 4 or 8
  uint64_t w = 0;
  if (n == 8) {
    std::memcpy(&w, p, 8);
  } else {
    uint32_t h;
    std::memcpy(&h, p, 4);
    w = h;
  }
  return w;
}

}  // namespace detail

// HTTP field names are case-insensitive (RFC 9110 section 5.1), and
// upstreams vary the case: compare them with this, never with ==. ASCII
// only, with no locale, so it is the same on every machine. Eight bytes per
// step (the last step overlapping the one before it; 4 to 7 bytes as two
// 4-byte words): a plugin compares each upstream header's name with the
// few it keeps.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  if (n < 4) {
    for (size_t i = 0; i < n; ++i) {
      if (!detail::same_folded(static_cast<unsigned char>(x[i]), static_cast<unsigned char>(y[i]))) return false;
    }
    return true;
  }
  const size_t w = n < 8 ? 4 : 8;
  for (size_t i = 0;; i += w) {
    if (i + w > n) i = n - w;
    if (!detail::same_folded(detail::load_word(x + i, w), detail::load_word(y + i, w))) return false;
    if (i + w == n) return true;
  }
}

// aigw_host.config_secret asks plugins to wipe their copy of a secret when
// they free it. Writes through a volatile pointer are ones the optimiser
// may not remove as dead stores, which a memset before free would be.
inline void wipe(std::string& s) noexcept {
  volatile char* p = s.data();
  for (size_t i = 0; i < s.size(); ++i) p[i] = 0;
}

}  // namespace aigw::sdk

#endif  // AIGW_PLUGIN_HPP
