#include "metrics/record.h"

#include "metrics/access_log.h"

namespace aigw::metrics {

void record(const RequestRecord& r, WorkerMetrics& m, LogBuffer* log, const config::AccessLogConfig* cfg,
            uint64_t& sample_rng, int64_t wall_minus_mono_ns) {
  auto none = [](std::string_view s) { return s.empty() ? std::string_view("none") : s; };
  RequestSeries* s = m.series(none(r.model), none(r.provider), none(r.key));
  s->count(r.status);
  s->add_tokens(r.prompt_tokens, r.completion_tokens);
  s->observe_duration(static_cast<double>(r.end_ns - r.start_ns) / 1e9);
  if (r.first_byte_ns != 0) s->observe_ttft(static_cast<double>(r.first_byte_ns - r.start_ns) / 1e9);
  if (r.finish_reason && !r.provider.empty()) m.provider(r.provider)->count_finish(*r.finish_reason);

  if (log == nullptr || cfg == nullptr) return;
  if (!cfg->enabled || !should_log(r.status, cfg->sample, sample_rng)) return;
  // Built in one initializer: fields assigned one by one after a default
  // construction were each stored twice.
  const AccessRecord a{
      .unix_ms = (r.end_ns + wall_minus_mono_ns) / 1'000'000,
      .request_id = r.request_id,
      .method = r.method,
      .path = r.path,
      .client = r.peer,
      .key = r.key,
      .model = r.model,
      .provider = r.provider,
      .status = r.status,
      .prompt_tokens = r.prompt_tokens,
      .completion_tokens = r.completion_tokens,
      .total_tokens = r.total_tokens,
      .ttfb_us = r.first_byte_ns != 0 ? (r.first_byte_ns - r.start_ns) / 1000 : -1,
      .duration_us = (r.end_ns - r.start_ns) / 1000,
      .attempts = r.attempts,
      .stream = r.stream,
      .error = r.status >= 400 ? r.error : std::string_view(),
      .finish_reason = r.finish_reason ? label(*r.finish_reason) : std::string_view(),
  };
  log->append_with(max_line_size(a), [&](char* to) { return format_to(a, to); });
}

}  // namespace aigw::metrics
