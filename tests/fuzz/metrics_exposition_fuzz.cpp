// libFuzzer target for the Prometheus exposition (src/metrics/exposition.cpp
// and the merge of per-worker snapshots in src/metrics/metrics.cpp). Label
// values are route, provider, key and channel names from the operator's
// config: any bytes a TOML string can hold. One bad label value makes
// Prometheus reject the whole scrape, so the output must stay valid text
// format 0.0.4 whatever the names.
//
// The input is split at 0xFF bytes (never in UTF-8) into names; the bytes
// after the last split drive the counts (statuses, tokens, durations) of two
// workers' metrics, which are merged and rendered. Besides crashes and
// sanitizer reports it aborts when:
//   - a line is neither `# HELP name text`, `# TYPE name type` nor a sample
//     `name{label="value",...} number` with a metric and label names of the
//     format's alphabet, escapes only `\\`, `\"`, `\n`, and valid UTF-8;
//   - a sample's family has no TYPE line before it;
//   - a name that is valid UTF-8 does not come back, unescaped, as a label
//     value of the exposition.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "json/utf8.h"
#include "metrics/metrics.h"

namespace {

using aigw::metrics::WorkerMetrics;

bool metric_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

// Reads a metric or label name at `i`; returns its end (== i: none).
size_t read_name(std::string_view line, size_t i, bool label) {
  size_t j = i;
  while (j < line.size() && metric_char(line[j], j == i) && !(label && line[j] == ':')) ++j;
  return j;
}

bool valid_number(std::string_view v) {
  if (v == "+Inf" || v == "-Inf" || v == "NaN") return true;
  if (v.empty()) return false;
  std::string s(v);
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

// Checks one sample line; adds its unescaped label values to `values` and
// returns the metric name.
std::string_view check_sample(std::string_view line, std::set<std::string>& values) {
  size_t i = read_name(line, 0, false);
  FUZZ_CHECK(i > 0);
  std::string_view name = line.substr(0, i);
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (true) {
      size_t j = read_name(line, i, true);
      FUZZ_CHECK(j > i);
      FUZZ_CHECK(j + 1 < line.size() && line[j] == '=' && line[j + 1] == '"');
      i = j + 2;
      std::string value;
      while (true) {
        FUZZ_CHECK(i < line.size());
        char c = line[i];
        if (c == '"') break;
        if (c == '\\') {
          FUZZ_CHECK(i + 1 < line.size());
          char e = line[i + 1];
          FUZZ_CHECK(e == '\\' || e == '"' || e == 'n');
          value += e == 'n' ? '\n' : e;
          i += 2;
          continue;
        }
        value += c;
        ++i;
      }
      FUZZ_CHECK(aigw::json::utf8_valid_run(value, 0) == value.size());
      values.insert(value);
      ++i;  // the closing quote
      FUZZ_CHECK(i < line.size());
      if (line[i] == ',') {
        ++i;
        continue;
      }
      FUZZ_CHECK(line[i] == '}');
      ++i;
      break;
    }
  }
  FUZZ_CHECK(i < line.size() && line[i] == ' ');
  FUZZ_CHECK(valid_number(line.substr(i + 1)));
  return name;
}

std::string_view family_of(std::string_view sample_name, const std::set<std::string, std::less<>>& typed) {
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (sample_name.ends_with(suffix)) {
      std::string_view base = sample_name.substr(0, sample_name.size() - suffix.size());
      if (typed.count(base)) return base;
    }
  }
  return sample_name;
}

std::string_view or_none(std::string_view s) { return s.empty() ? std::string_view("none") : s; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i < in.size() && parts.size() < 8; ++i) {
    if (static_cast<unsigned char>(in[i]) == 0xFF) {
      parts.push_back(in.substr(start, i - start));
      start = i + 1;
    }
  }
  std::string_view drive = in.substr(start);
  while (parts.size() < 4) parts.push_back(drive.substr(0, drive.size() / 2));
  std::string_view model = or_none(parts[0]), provider = or_none(parts[1]), key = or_none(parts[2]),
                   channel = or_none(parts[3]);

  WorkerMetrics w[2];
  std::vector<std::string_view> used{channel};  // every name given to a series
  uint64_t tokens = 0;
  for (size_t i = 0; i < drive.size() && i < 64; ++i) {
    auto b = static_cast<unsigned char>(drive[i]);
    WorkerMetrics& m = w[b & 1];
    const size_t alt = 4 + (b & 3u);
    std::string_view other = parts.size() > alt ? or_none(parts[alt]) : model;
    std::string_view series_model = b & 2 ? other : model, provider_name = b & 4 ? other : provider;
    used.insert(used.end(), {series_model, provider, key, provider_name});
    auto* s = m.series(series_model, provider, key);
    s->count(100 + (b * 7) % 520);  // 100..619: also statuses past 599
    tokens = tokens * 31 + b;
    s->add_tokens(tokens, b);
    s->observe_duration(b / 7.0 - 3.0);
    s->observe_ttft(b % 3 == 0 ? 1e300 : b / 100.0);
    m.provider(provider_name)->count_error(static_cast<aigw::metrics::UpstreamError>(b % 9));
    m.key(key)->count_rate_limited(static_cast<aigw::metrics::RateLimit>(b % 5));
    if (b & 8) m.stream_opened();
  }
  std::vector<aigw::metrics::Snapshot> snaps{w[0].snapshot(), w[1].snapshot()};
  snaps[0].set_channel_state(channel, aigw::metrics::ChannelState::open);
  snaps[1].set_channel_state(channel, aigw::metrics::ChannelState::half_open);
  aigw::metrics::Info info;
  info.version = "fuzz";
  info.plugin_generation = 1;
  info.config_reloads_ok = 2;
  info.config_reloads_error = 3;
  // The optional families too: Redis, the usage store, and a quota gauge
  // under the fuzzed key name (label escaping).
  info.redis_configured = (tokens & 1) != 0;
  info.redis_up = (tokens & 2) != 0;
  info.redis_calls = tokens;
  info.state_enabled = (tokens & 4) != 0;
  info.state_written = tokens;
  info.usage_copy_configured = (tokens & 16) != 0;
  info.usage_copy_pending = tokens;
  if (tokens & 8) info.quotas.push_back({std::string(key), "daily", tokens, tokens / 2});
  std::string out;
  aigw::metrics::render(snaps, info, out);

  FUZZ_CHECK(!out.empty() && out.back() == '\n');
  std::set<std::string> values;
  std::set<std::string, std::less<>> typed;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    std::string_view line(out.data() + pos, nl - pos);
    pos = nl + 1;
    FUZZ_CHECK(!line.empty());
    if (line.starts_with("# HELP ")) {
      FUZZ_CHECK(read_name(line, 7, false) > 7);
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      size_t e = read_name(line, 7, false);
      FUZZ_CHECK(e > 7 && e < line.size() && line[e] == ' ');
      std::string_view type = line.substr(e + 1);
      FUZZ_CHECK(type == "counter" || type == "gauge" || type == "histogram");
      typed.insert(std::string(line.substr(7, e - 7)));
      continue;
    }
    FUZZ_CHECK(line[0] != '#');
    std::string_view name = check_sample(line, values);
    FUZZ_CHECK(typed.count(family_of(name, typed)) == 1);
  }
  for (std::string_view n : used) {
    if (aigw::json::utf8_valid_run(n, 0) == n.size()) FUZZ_CHECK(values.count(std::string(n)) == 1);
  }
  return 0;
}
