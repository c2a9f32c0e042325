// The aigw_host table every plugin gets (see aigw_plugin.h): the
// configuration callbacks of src/plugin and the per-request ones of the
// gateway, in the order the ABI fixes. Nothing in a plugin is trusted to
// pass a valid handle beyond not being null: the runtime checks state
// (finished, closed) itself.
#include "gateway/abi_host.h"

#include "gateway/runtime.h"
#include "plugin/host_config.h"

namespace aigw::gateway {

namespace {

// The per-request callbacks: C entry points that find the runtime through
// the request (or process) and check what a plugin may get wrong.

void* arena_alloc(aigw_request* req, size_t size, size_t align) {
  return req ? req->rt->arena_alloc(req, size, align) : nullptr;
}
aigw_status respond_start(aigw_request* req, int32_t status, const aigw_plugin_header* headers,
                          size_t header_count) {
  return req ? req->rt->respond_start(req, status, headers, header_count) : AIGW_ERR_INVALID;
}
aigw_status emit(aigw_request* req, const aigw_plugin_bytes* chunks, size_t count) {
  return req ? req->rt->emit(req, chunks, count) : AIGW_ERR_INVALID;
}
aigw_status finish(aigw_request* req, aigw_status status, aigw_plugin_str message) {
  return req ? req->rt->finish(req, status, {message.ptr ? message.ptr : "", message.ptr ? message.len : 0})
             : AIGW_ERR_INVALID;
}
aigw_status report_usage(aigw_request* req, const aigw_usage* usage) {
  if (!req || !usage || usage->struct_size < offsetof(aigw_usage, total_tokens) + sizeof(uint64_t)) {
    return AIGW_ERR_INVALID;
  }
  // Kept for the access log, the token metrics and settling the client
  // key's token budget when the request ends. A later report replaces an
  // earlier one (a stream's final usage event is the whole story).
  req->usage_prompt = usage->prompt_tokens;
  req->usage_completion = usage->completion_tokens;
  req->usage_total = usage->total_tokens != 0 ? usage->total_tokens
                                              : usage->prompt_tokens + usage->completion_tokens;
  // ABI 1.4 parts, read only as far as the plugin's struct reaches (a 1.3
  // plugin's ends at total_tokens).
  auto covers = [&](size_t end) { return usage->struct_size >= end; };
  req->usage_cached = covers(offsetof(aigw_usage, cached_tokens) + sizeof(uint64_t)) ? usage->cached_tokens : 0;
  req->usage_reasoning =
      covers(offsetof(aigw_usage, reasoning_tokens) + sizeof(uint64_t)) ? usage->reasoning_tokens : 0;
  req->has_usage = true;
  return AIGW_OK;
}
aigw_status report_finish_reason(aigw_request* req, aigw_finish_reason reason) {
  if (!req || reason < AIGW_FINISH_UNKNOWN || reason > AIGW_FINISH_ERROR) return AIGW_ERR_INVALID;
  // Accounted when the request ends: the access log's finish_reason and
  // aigw_finish_reasons_total. A later report replaces an earlier one.
  req->attempt.finish_reason = reason;
  return AIGW_OK;
}
aigw_status commit(aigw_request* req) { return req ? req->rt->commit_stream(req) : AIGW_ERR_INVALID; }
aigw_status timer_start(aigw_request* req, uint64_t delay_ns, uint64_t token) {
  return req ? req->rt->timer_start(req, delay_ns, token) : AIGW_ERR_INVALID;
}
aigw_status spawn(aigw_request* req, const aigw_spawn_options* options, aigw_process** out) {
  return req ? req->rt->spawn(req, options, out) : AIGW_ERR_INVALID;
}
aigw_status process_write(aigw_process* proc, const aigw_plugin_bytes* chunks, size_t count) {
  return proc ? proc->rt->process_write(proc, chunks, count) : AIGW_ERR_INVALID;
}
aigw_status process_close_stdin(aigw_process* proc) {
  return proc ? proc->rt->process_close_stdin(proc) : AIGW_ERR_INVALID;
}
aigw_status process_kill(aigw_process* proc) {
  return proc ? proc->rt->process_kill(proc) : AIGW_ERR_INVALID;
}

const aigw_host kHost = {
    sizeof(aigw_host),
    AIGW_ABI_MAJOR,
    AIGW_ABI_MINOR,
    plugin::host_log,
    plugin::host_now_ns,
    plugin::cfg_string,
    plugin::cfg_int,
    plugin::cfg_bool,
    plugin::cfg_duration,
    plugin::cfg_array_len,
    plugin::cfg_array_string,
    plugin::cfg_secret,
    arena_alloc,
    respond_start,
    emit,
    finish,
    report_usage,
    report_finish_reason,
    timer_start,
    spawn,
    process_write,
    process_close_stdin,
    process_kill,
    commit,
};

}  // namespace

const aigw_host* host_table() { return &kHost; }

}  // namespace aigw::gateway
