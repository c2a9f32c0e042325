/* A direct-mode plugin that starts a thread of its own in config_new and
 * joins it in config_destroy, as a plugin with background work does (the
 * gemini plugin's Vertex token refresher). The thread does not touch its
 * signal mask: it inherits whatever the host's thread had when it called
 * config_new, so the host must have blocked its signals by then, or a
 * SIGTERM meant for the drain can land here and kill the process. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <unistd.h>

#include "fixture.h"

typedef struct {
  fx_config base; /* first: the fixture's hooks read it as an fx_config */
  pthread_t thread;
  int pipe_fds[2]; /* the thread waits on [0]; closing [1] stops it */
} tc_config;

static void* tc_run(void* arg) {
  tc_config* c = (tc_config*)arg;
  char b;
  while (read(c->pipe_fds[0], &b, 1) > 0) {
  }
  return NULL;
}

static aigw_status tc_config_new(const aigw_host* host, aigw_host_plugin* plugin, aigw_config_source* src,
                                 void** config_out, aigw_errbuf* err) {
  tc_config* c = (tc_config*)malloc(sizeof *c);
  (void)plugin;
  (void)src;
  (void)err;
  if (!c) return AIGW_ERR_NO_MEMORY;
  c->base.host = host;
  if (pipe(c->pipe_fds) != 0) {
    free(c);
    return AIGW_ERR_INTERNAL;
  }
  if (pthread_create(&c->thread, NULL, tc_run, c) != 0) {
    close(c->pipe_fds[0]);
    close(c->pipe_fds[1]);
    free(c);
    return AIGW_ERR_INTERNAL;
  }
  *config_out = c;
  return AIGW_OK;
}

static void tc_config_destroy(void* config) {
  tc_config* c = (tc_config*)config;
  close(c->pipe_fds[1]);
  pthread_join(c->thread, NULL);
  close(c->pipe_fds[0]);
  free(c);
}

static const aigw_hooks hooks =
    FX_DIRECT_HOOKS_OF(tc_config_new, tc_config_destroy, fx_request_new, fx_request_destroy, fx_request_start);

static const aigw_plugin_def def = {
  AIGW_PLUGIN_DEF_HEADER, "thread_in_config", "1.0.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
