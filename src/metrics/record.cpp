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
  log->append_with(max_line_size(r), [&](char* to) { return format_to(r, wall_minus_mono_ns, to); });
}

}  // namespace aigw::metrics
