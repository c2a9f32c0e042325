#include "load/report.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <string_view>

namespace aigw::bench {

namespace {

double seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

double window_s(const Results& r) {
  return r.measure_end_ns > r.measure_start_ns ? seconds(r.measure_end_ns - r.measure_start_ns)
                                               : 0.0;
}

double per_s(uint64_t n, double window) { return window > 0 ? static_cast<double>(n) / window : 0; }

void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out.append(buf, std::min(static_cast<size_t>(n), sizeof buf - 1));
}

void json_string(std::string& out, std::string_view s) {
  out += '"';
  out += json_escape(s);
  out += '"';
}

void json_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
  } else {
    appendf(out, "%.3f", v);
  }
}

void json_histogram(std::string& out, const Histogram& h) {
  appendf(out,
          "{\"count\": %" PRIu64 ", \"min\": %" PRIu64 ", \"mean\": %.0f, \"p50\": %" PRIu64
          ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"p99_9\": %" PRIu64
          ", \"max\": %" PRIu64 "}",
          h.count(), h.min(), h.mean(), h.percentile(50), h.percentile(90), h.percentile(99),
          h.percentile(99.9), h.max());
}

std::string percentiles_line(const Histogram& h) {
  if (h.count() == 0) return "(none)";
  std::string s;
  appendf(s, "p50 %-10s p90 %-10s p99 %-10s p99.9 %-10s max %-10s mean %s",
          format_ns(h.percentile(50)).c_str(), format_ns(h.percentile(90)).c_str(),
          format_ns(h.percentile(99)).c_str(), format_ns(h.percentile(99.9)).c_str(),
          format_ns(h.max()).c_str(), format_ns(static_cast<uint64_t>(h.mean())).c_str());
  return s;
}

std::string bytes_text(uint64_t b) {
  std::string s;
  if (b < 10 * 1024) {
    appendf(s, "%" PRIu64 " B", b);
  } else if (b < 10 * 1024 * 1024) {
    appendf(s, "%.1f KiB", static_cast<double>(b) / 1024);
  } else if (b < 10ull * 1024 * 1024 * 1024) {
    appendf(s, "%.1f MiB", static_cast<double>(b) / (1024 * 1024));
  } else {
    appendf(s, "%.1f GiB", static_cast<double>(b) / (1024.0 * 1024 * 1024));
  }
  return s;
}

std::string duration_text(uint64_t ns) {
  std::string s;
  appendf(s, "%.2f s", seconds(ns));
  return s;
}

}  // namespace

std::string format_ns(uint64_t ns) {
  std::string s;
  double v = static_cast<double>(ns);
  if (ns < 1000) {
    appendf(s, "%" PRIu64 "ns", ns);
  } else if (ns < 1'000'000) {
    appendf(s, v < 1e4 ? "%.2fus" : v < 1e5 ? "%.1fus" : "%.0fus", v / 1e3);
  } else if (ns < 1'000'000'000) {
    appendf(s, v < 1e7 ? "%.3fms" : v < 1e8 ? "%.2fms" : "%.1fms", v / 1e6);
  } else {
    appendf(s, "%.3fs", v / 1e9);
  }
  return s;
}

void print_table(std::FILE* out, const Config& cfg, const Results& r) {
  double w = window_s(r);
  std::string what = cfg.scenario.empty() ? "body file " + cfg.body_file : "scenario " + cfg.scenario;
  std::fprintf(out, "aigw-bench %s %s%s, %s\n", cfg.spec.method.c_str(), cfg.url.c_str(),
               cfg.spec.path.c_str(), what.c_str());
  std::string mode;
  if (cfg.mode == Mode::open) {
    appendf(mode, "open loop at %.1f req/s", cfg.rate);
  } else {
    mode = "closed loop";
  }
  std::fprintf(out, "  %s, %u thread%s, %u connection%s, %.2f s measured", mode.c_str(),
               cfg.threads, cfg.threads == 1 ? "" : "s", cfg.connections,
               cfg.connections == 1 ? "" : "s", w);
  if (cfg.warmup_ns > 0) std::fprintf(out, " after %s warm-up", duration_text(cfg.warmup_ns).c_str());
  std::fprintf(out, "\n\n");

  uint64_t errors = r.error_total();
  std::fprintf(out, "  requests      %" PRIu64 " sent, %" PRIu64 " ok, %" PRIu64 " errors, %.1f req/s ok\n",
               r.started, r.ok, errors, per_s(r.ok, w));
  if (r.not_sent > 0) {
    std::fprintf(out,
                 "  NOT SENT      %" PRIu64
                 " requests came due but never found a free connection (the target was slower than --rate allows with these connections)\n",
                 r.not_sent);
  }
  std::fprintf(out, "  latency       %s\n", percentiles_line(r.latency).c_str());
  if (cfg.mode == Mode::open) {
    std::fprintf(out, "  service time  %s\n", percentiles_line(r.service_time).c_str());
    std::fprintf(out, "                (latency counts from the intended send time, service time from the send)\n");
  }
  std::string errs;
  for (size_t k = 0; k < kErrorKinds; ++k) {
    if (r.errors[k] == 0) continue;
    if (!errs.empty()) errs += ", ";
    appendf(errs, "%s %" PRIu64, error_name(static_cast<ErrorKind>(k)), r.errors[k]);
  }
  std::fprintf(out, "  errors        %s\n", errs.empty() ? "none" : errs.c_str());
  std::string codes;
  for (size_t c = 1; c < r.status_classes.size(); ++c) {
    if (r.status_classes[c] == 0) continue;
    if (!codes.empty()) codes += ", ";
    appendf(codes, "%zuxx %" PRIu64, c, r.status_classes[c]);
  }
  std::fprintf(out, "  status        %s\n", codes.empty() ? "(no responses)" : codes.c_str());
  if (r.streams > 0) {
    std::fprintf(out, "\n  streams       %" PRIu64 ", %" PRIu64 " without data: [DONE]%s\n", r.streams,
                 r.streams_without_done, r.streams_without_done == 0 ? " (all complete)" : "");
    std::fprintf(out, "  ttfb          %s\n", percentiles_line(r.ttfb).c_str());
    std::fprintf(out, "  first content %s\n", percentiles_line(r.first_content).c_str());
    std::fprintf(out, "  event gap     %s\n", percentiles_line(r.gaps).c_str());
    std::fprintf(out, "  events        %" PRIu64 " (%.1f/s), %" PRIu64 " with content\n", r.events,
                 per_s(r.events, w), r.content_events);
    std::fprintf(out, "  tokens        %" PRIu64 " (%.1f/s; from usage.completion_tokens in %" PRIu64
                 " of %" PRIu64 " streams, else one per content event)\n",
                 r.tokens, per_s(r.tokens, w), r.usage_streams, r.streams);
  }
  std::fprintf(out, "\n  transfer      %s sent, %s received; %" PRIu64 " connects, %" PRIu64
               " closed by the server\n",
               bytes_text(r.bytes_sent).c_str(), bytes_text(r.bytes_received).c_str(), r.connects,
               r.server_closes);
  if (r.warmup_requests > 0) {
    std::fprintf(out, "  warm-up       %" PRIu64 " requests, not counted above\n", r.warmup_requests);
  }
}

std::string results_json(const Config& cfg, const Results& r) {
  double w = window_s(r);
  std::string o;
  o += "{\n  \"schema\": \"aigw-bench/1\",\n  \"config\": {\"url\": ";
  json_string(o, cfg.url);
  o += ", \"method\": ";
  json_string(o, cfg.spec.method);
  o += ", \"path\": ";
  json_string(o, cfg.spec.path);
  o += ", \"scenario\": ";
  if (cfg.scenario.empty()) {
    o += "null";
  } else {
    json_string(o, cfg.scenario);
  }
  o += ", \"body_file\": ";
  if (cfg.body_file.empty()) {
    o += "null";
  } else {
    json_string(o, cfg.body_file);
  }
  o += ", \"models\": [";
  for (size_t i = 0; i < cfg.spec.models.size(); ++i) {
    if (i) o += ", ";
    json_string(o, cfg.spec.models[i]);
  }
  // Keys and header values may be secrets: the report names only counts and
  // header names.
  appendf(o, "], \"keys\": %zu, \"headers\": [", cfg.spec.keys.size());
  for (size_t i = 0; i < cfg.spec.headers.size(); ++i) {
    if (i) o += ", ";
    const std::string& h = cfg.spec.headers[i];
    json_string(o, std::string_view(h).substr(0, h.find(':')));
  }
  appendf(o, "], \"mode\": \"%s\", \"threads\": %u, \"connections\": %u, \"rate\": ",
          cfg.mode == Mode::open ? "open" : "closed", cfg.threads, cfg.connections);
  if (cfg.mode == Mode::open) {
    json_number(o, cfg.rate);
  } else {
    o += "null";
  }
  o += ", \"duration_s\": ";
  json_number(o, seconds(cfg.duration_ns));
  o += ", \"requests\": ";
  if (cfg.requests > 0) {
    appendf(o, "%" PRIu64, cfg.requests);
  } else {
    o += "null";
  }
  o += ", \"warmup_s\": ";
  json_number(o, seconds(cfg.warmup_ns));
  o += ", \"timeout_s\": ";
  json_number(o, seconds(cfg.timeout_ns));
  o += ", \"grace_s\": ";
  json_number(o, seconds(cfg.grace_ns));
  o += "},\n  \"measured_s\": ";
  json_number(o, w);
  appendf(o,
          ",\n  \"requests\": {\"sent\": %" PRIu64 ", \"ok\": %" PRIu64 ", \"errors\": %" PRIu64
          ", \"not_sent\": %" PRIu64 ", \"warmup\": %" PRIu64 "},\n",
          r.started, r.ok, r.error_total(), r.not_sent, r.warmup_requests);
  o += "  \"requests_per_s\": ";
  json_number(o, per_s(r.ok, w));
  o += ",\n  \"sent_per_s\": ";
  json_number(o, per_s(r.started, w));
  o += ",\n  \"errors\": {";
  for (size_t k = 0; k < kErrorKinds; ++k) {
    if (k) o += ", ";
    appendf(o, "\"%s\": %" PRIu64, error_name(static_cast<ErrorKind>(k)), r.errors[k]);
  }
  o += "},\n  \"status\": {";
  for (size_t c = 1; c < r.status_classes.size(); ++c) {
    if (c > 1) o += ", ";
    appendf(o, "\"%zuxx\": %" PRIu64, c, r.status_classes[c]);
  }
  o += "},\n  \"latency_ns\": ";
  json_histogram(o, r.latency);
  o += ",\n  \"service_time_ns\": ";
  json_histogram(o, r.service_time);
  appendf(o,
          ",\n  \"stream\": {\"streams\": %" PRIu64 ", \"without_done\": %" PRIu64
          ", \"all_done\": %s, \"events\": %" PRIu64 ", \"content_events\": %" PRIu64
          ", \"tokens\": %" PRIu64 ", \"usage_streams\": %" PRIu64 ", \"events_per_s\": ",
          r.streams, r.streams_without_done, r.streams_without_done == 0 ? "true" : "false",
          r.events, r.content_events, r.tokens, r.usage_streams);
  json_number(o, per_s(r.events, w));
  o += ", \"tokens_per_s\": ";
  json_number(o, per_s(r.tokens, w));
  o += ",\n    \"ttfb_ns\": ";
  json_histogram(o, r.ttfb);
  o += ",\n    \"first_content_ns\": ";
  json_histogram(o, r.first_content);
  o += ",\n    \"gap_ns\": ";
  json_histogram(o, r.gaps);
  appendf(o,
          "},\n  \"bytes\": {\"sent\": %" PRIu64 ", \"received\": %" PRIu64
          "},\n  \"connections\": {\"connects\": %" PRIu64 ", \"server_closes\": %" PRIu64
          "}\n}\n",
          r.bytes_sent, r.bytes_received, r.connects, r.server_closes);
  return o;
}

}  // namespace aigw::bench
