/* The frozen layout of plugin ABI 1.x (1.0, 1.1, 1.2) on LP64 (x86-64, aarch64).
 *
 * Included by layout_test.c (C11) and cxx_compile_test.cpp (C++20) so that
 * both languages check the same numbers. A failure here means a change to
 * include/aigw_plugin.h moved, resized or removed something: that is a new
 * major (see docs/abi/CHANGELOG.md). A field appended at the end trips the
 * struct's size check only: that is a new minor, and this file gets the new
 * field and size in the same change.
 *
 * The caller defines ABI_STATIC_ASSERT(expr, msg) and ABI_ALIGNOF(type). */
#ifndef AIGW_TEST_ABI_LAYOUT_H
#define AIGW_TEST_ABI_LAYOUT_H

#include <stddef.h>

#include "aigw_plugin.h"

#define ABI_STRUCT(type, size, align)                                        \
  ABI_STATIC_ASSERT(sizeof(type) == (size) && ABI_ALIGNOF(type) == (align),  \
                    #type " changed size or alignment")
#define ABI_FIELD(type, field, offset, size)                                 \
  ABI_STATIC_ASSERT(offsetof(type, field) == (offset) &&                     \
                        sizeof(((type*)0)->field) == (size),                 \
                    #type "." #field " moved or changed size")
#define ABI_VALUE(name, value) \
  ABI_STATIC_ASSERT((name) == (value), #name " changed value")

ABI_VALUE(AIGW_ABI_MAJOR, 1);
ABI_STATIC_ASSERT(AIGW_ABI_MINOR >= 2, "AIGW_ABI_MINOR only grows");

/* Enumerations travel as int32_t: their values are part of the ABI. */
ABI_VALUE(sizeof(aigw_status), 4);
ABI_VALUE(AIGW_OK, 0);
ABI_VALUE(AIGW_ERR_INVALID, 1);
ABI_VALUE(AIGW_ERR_NOT_FOUND, 2);
ABI_VALUE(AIGW_ERR_NO_MEMORY, 3);
ABI_VALUE(AIGW_ERR_UNSUPPORTED, 4);
ABI_VALUE(AIGW_ERR_CLOSED, 5);
ABI_VALUE(AIGW_ERR_LIMIT, 6);
ABI_VALUE(AIGW_ERR_CONFIG, 7);
ABI_VALUE(AIGW_ERR_INTERNAL, 8);
ABI_VALUE(sizeof(aigw_log_level), 4);
ABI_VALUE(AIGW_LOG_DEBUG, 0);
ABI_VALUE(AIGW_LOG_INFO, 1);
ABI_VALUE(AIGW_LOG_WARN, 2);
ABI_VALUE(AIGW_LOG_ERROR, 3);
ABI_VALUE(sizeof(aigw_endpoint), 4);
ABI_VALUE(AIGW_ENDPOINT_CHAT_COMPLETIONS, 1);
ABI_VALUE(AIGW_ENDPOINT_COMPLETIONS, 2);
ABI_VALUE(AIGW_ENDPOINT_EMBEDDINGS, 3);
ABI_VALUE(sizeof(aigw_mode), 4);
ABI_VALUE(AIGW_MODE_HTTP, 1);
ABI_VALUE(AIGW_MODE_DIRECT, 2);
ABI_VALUE(sizeof(aigw_error_class), 4);
ABI_VALUE(AIGW_ERROR_NONE, 0);
ABI_VALUE(AIGW_ERROR_CLIENT, 1);
ABI_VALUE(AIGW_ERROR_RETRYABLE, 2);
ABI_VALUE(AIGW_ERROR_RATE_LIMITED, 3);
ABI_VALUE(AIGW_ERROR_KEY_INVALID, 4);
ABI_VALUE(sizeof(aigw_finish_reason), 4);
ABI_VALUE(AIGW_FINISH_UNKNOWN, 0);
ABI_VALUE(AIGW_FINISH_STOP, 1);
ABI_VALUE(AIGW_FINISH_LENGTH, 2);
ABI_VALUE(AIGW_FINISH_TOOL_CALLS, 3);
ABI_VALUE(AIGW_FINISH_CONTENT_FILTER, 4);
ABI_VALUE(AIGW_FINISH_ERROR, 5);
ABI_VALUE(AIGW_PLUGIN_FLAG_NO_UNLOAD, 1);
ABI_VALUE(sizeof(aigw_plugin_entry_fn), 8);

ABI_STRUCT(aigw_host_str, 16, 8);
ABI_FIELD(aigw_host_str, ptr, 0, 8);
ABI_FIELD(aigw_host_str, len, 8, 8);

ABI_STRUCT(aigw_host_bytes, 16, 8);
ABI_FIELD(aigw_host_bytes, ptr, 0, 8);
ABI_FIELD(aigw_host_bytes, len, 8, 8);

ABI_STRUCT(aigw_plugin_str, 16, 8);
ABI_FIELD(aigw_plugin_str, ptr, 0, 8);
ABI_FIELD(aigw_plugin_str, len, 8, 8);

ABI_STRUCT(aigw_plugin_bytes, 16, 8);
ABI_FIELD(aigw_plugin_bytes, ptr, 0, 8);
ABI_FIELD(aigw_plugin_bytes, len, 8, 8);

ABI_STRUCT(aigw_host_header, 32, 8);
ABI_FIELD(aigw_host_header, name, 0, 16);
ABI_FIELD(aigw_host_header, value, 16, 16);

ABI_STRUCT(aigw_plugin_header, 32, 8);
ABI_FIELD(aigw_plugin_header, name, 0, 16);
ABI_FIELD(aigw_plugin_header, value, 16, 16);

ABI_STRUCT(aigw_errbuf, 16, 8);
ABI_FIELD(aigw_errbuf, ptr, 0, 8);
ABI_FIELD(aigw_errbuf, cap, 8, 8);

ABI_STRUCT(aigw_usage, 48, 8); /* 32 until 1.3 */
ABI_FIELD(aigw_usage, struct_size, 0, 4);
ABI_FIELD(aigw_usage, reserved, 4, 4);
ABI_FIELD(aigw_usage, prompt_tokens, 8, 8);
ABI_FIELD(aigw_usage, completion_tokens, 16, 8);
ABI_FIELD(aigw_usage, total_tokens, 24, 8);
/* 1.4 */
ABI_FIELD(aigw_usage, cached_tokens, 32, 8);
ABI_FIELD(aigw_usage, reasoning_tokens, 40, 8);

ABI_STRUCT(aigw_client_request, 144, 8);
ABI_FIELD(aigw_client_request, struct_size, 0, 4);
ABI_FIELD(aigw_client_request, endpoint, 4, 4);
ABI_FIELD(aigw_client_request, stream, 8, 4);
ABI_FIELD(aigw_client_request, reserved, 12, 4);
ABI_FIELD(aigw_client_request, model, 16, 16);
ABI_FIELD(aigw_client_request, upstream_model, 32, 16);
ABI_FIELD(aigw_client_request, method, 48, 16);
ABI_FIELD(aigw_client_request, path, 64, 16);
ABI_FIELD(aigw_client_request, headers, 80, 8);
ABI_FIELD(aigw_client_request, header_count, 88, 8);
ABI_FIELD(aigw_client_request, body, 96, 8);
ABI_FIELD(aigw_client_request, body_count, 104, 8);
ABI_FIELD(aigw_client_request, model_value_offset, 112, 8);
ABI_FIELD(aigw_client_request, model_value_len, 120, 8);
/* 1.1 */
ABI_FIELD(aigw_client_request, key_index, 128, 4);
ABI_FIELD(aigw_client_request, reserved2, 132, 4);
/* 1.5 */
ABI_FIELD(aigw_client_request, body_facts, 136, 4);
ABI_FIELD(aigw_client_request, reserved3, 140, 4);

ABI_STRUCT(aigw_worker_info, 16, 4);
ABI_FIELD(aigw_worker_info, struct_size, 0, 4);
ABI_FIELD(aigw_worker_info, worker_index, 4, 4);
ABI_FIELD(aigw_worker_info, worker_count, 8, 4);
ABI_FIELD(aigw_worker_info, reserved, 12, 4);

ABI_STRUCT(aigw_upstream_request, 72, 8);
ABI_FIELD(aigw_upstream_request, struct_size, 0, 4);
ABI_FIELD(aigw_upstream_request, body_unchanged, 4, 4);
ABI_FIELD(aigw_upstream_request, method, 8, 16);
ABI_FIELD(aigw_upstream_request, path_and_query, 24, 16);
ABI_FIELD(aigw_upstream_request, headers, 40, 8);
ABI_FIELD(aigw_upstream_request, header_count, 48, 8);
ABI_FIELD(aigw_upstream_request, body, 56, 8);
ABI_FIELD(aigw_upstream_request, body_count, 64, 8);

ABI_STRUCT(aigw_upstream_verdict, 16, 8);
ABI_FIELD(aigw_upstream_verdict, struct_size, 0, 4);
ABI_FIELD(aigw_upstream_verdict, error_class, 4, 4);
ABI_FIELD(aigw_upstream_verdict, retry_after_ms, 8, 8);

ABI_STRUCT(aigw_health_probe, 40, 8);
ABI_FIELD(aigw_health_probe, struct_size, 0, 4);
ABI_FIELD(aigw_health_probe, expect_status, 4, 4);
ABI_FIELD(aigw_health_probe, method, 8, 16);
ABI_FIELD(aigw_health_probe, path, 24, 16);

ABI_STRUCT(aigw_spawn_options, 48, 8);
ABI_FIELD(aigw_spawn_options, struct_size, 0, 4);
ABI_FIELD(aigw_spawn_options, reserved, 4, 4);
ABI_FIELD(aigw_spawn_options, argv, 8, 8);
ABI_FIELD(aigw_spawn_options, argc, 16, 8);
ABI_FIELD(aigw_spawn_options, env, 24, 8);
ABI_FIELD(aigw_spawn_options, env_count, 32, 8);
ABI_FIELD(aigw_spawn_options, timeout_ms, 40, 8);

ABI_STRUCT(aigw_host, 176, 8); /* 168 in 1.0 and 1.1 */
ABI_FIELD(aigw_host, struct_size, 0, 4);
ABI_FIELD(aigw_host, abi_major, 4, 2);
ABI_FIELD(aigw_host, abi_minor, 6, 2);
ABI_FIELD(aigw_host, log, 8, 8);
ABI_FIELD(aigw_host, now_ns, 16, 8);
ABI_FIELD(aigw_host, config_string, 24, 8);
ABI_FIELD(aigw_host, config_int, 32, 8);
ABI_FIELD(aigw_host, config_bool, 40, 8);
ABI_FIELD(aigw_host, config_duration_ms, 48, 8);
ABI_FIELD(aigw_host, config_array_len, 56, 8);
ABI_FIELD(aigw_host, config_array_string, 64, 8);
ABI_FIELD(aigw_host, config_secret, 72, 8);
ABI_FIELD(aigw_host, arena_alloc, 80, 8);
ABI_FIELD(aigw_host, respond_start, 88, 8);
ABI_FIELD(aigw_host, emit, 96, 8);
ABI_FIELD(aigw_host, finish, 104, 8);
ABI_FIELD(aigw_host, report_usage, 112, 8);
ABI_FIELD(aigw_host, report_finish_reason, 120, 8);
ABI_FIELD(aigw_host, timer_start, 128, 8);
ABI_FIELD(aigw_host, spawn, 136, 8);
ABI_FIELD(aigw_host, process_write, 144, 8);
ABI_FIELD(aigw_host, process_close_stdin, 152, 8);
ABI_FIELD(aigw_host, process_kill, 160, 8);
/* 1.2 */
ABI_FIELD(aigw_host, commit, 168, 8);

ABI_STRUCT(aigw_hooks, 152, 8);
ABI_FIELD(aigw_hooks, struct_size, 0, 4);
ABI_FIELD(aigw_hooks, mode, 4, 4);
ABI_FIELD(aigw_hooks, config_new, 8, 8);
ABI_FIELD(aigw_hooks, config_destroy, 16, 8);
ABI_FIELD(aigw_hooks, instance_new, 24, 8);
ABI_FIELD(aigw_hooks, instance_destroy, 32, 8);
ABI_FIELD(aigw_hooks, list_models, 40, 8);
ABI_FIELD(aigw_hooks, request_new, 48, 8);
ABI_FIELD(aigw_hooks, request_destroy, 56, 8);
ABI_FIELD(aigw_hooks, build_upstream, 64, 8);
ABI_FIELD(aigw_hooks, on_upstream_head, 72, 8);
ABI_FIELD(aigw_hooks, on_upstream_body, 80, 8);
ABI_FIELD(aigw_hooks, health_probe, 88, 8);
ABI_FIELD(aigw_hooks, request_start, 96, 8);
ABI_FIELD(aigw_hooks, on_timer, 104, 8);
ABI_FIELD(aigw_hooks, on_process_output, 112, 8);
ABI_FIELD(aigw_hooks, on_process_exit, 120, 8);
ABI_FIELD(aigw_hooks, on_client_gone, 128, 8);
/* 1.1 */
ABI_FIELD(aigw_hooks, key_count, 136, 8);
/* 1.3 */
ABI_FIELD(aigw_hooks, native_dialects, 144, 8);

ABI_STRUCT(aigw_plugin_def, 48, 8);
ABI_FIELD(aigw_plugin_def, struct_size, 0, 4);
ABI_FIELD(aigw_plugin_def, abi_major, 4, 2);
ABI_FIELD(aigw_plugin_def, abi_minor, 6, 2);
ABI_FIELD(aigw_plugin_def, abi_signature, 8, 8);
ABI_FIELD(aigw_plugin_def, name, 16, 8);
ABI_FIELD(aigw_plugin_def, version, 24, 8);
ABI_FIELD(aigw_plugin_def, flags, 32, 4);
ABI_FIELD(aigw_plugin_def, reserved, 36, 4);
ABI_FIELD(aigw_plugin_def, hooks, 40, 8);

#endif /* AIGW_TEST_ABI_LAYOUT_H */
