// Child processes for direct-mode plugins: spawned with pipes whose reads,
// writes and exit notification (a pidfd) all run on the worker's ring.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log/log.h"
#include "server/plugin_exchange.h"
#include "server/worker.h"

extern char** environ;

namespace aigw::server {

namespace {

uint64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

std::string str(aigw_plugin_str s) { return std::string(s.ptr ? s.ptr : "", s.ptr ? s.len : 0); }

}  // namespace

aigw_status PluginRuntime::spawn(aigw_request* r, const aigw_spawn_options* o, aigw_process** out) {
  if (r->finished || r->client_gone) return AIGW_ERR_CLOSED;
  if (!r->hooks->on_process_exit) return AIGW_ERR_UNSUPPORTED;
  if (!o || !out || o->argc == 0 || !o->argv || o->struct_size < sizeof(uint32_t) * 2) {
    return AIGW_ERR_INVALID;
  }
  std::vector<std::string> args;
  for (size_t i = 0; i < o->argc; ++i) args.push_back(str(o->argv[i]));
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> envs;
  std::vector<char*> envp;
  if (o->env) {
    for (size_t i = 0; i < o->env_count; ++i) envs.push_back(str(o->env[i]));
    for (std::string& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
  }

  int in_pipe[2], out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) return AIGW_ERR_INTERNAL;
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    close(in_pipe[0]);
    close(in_pipe[1]);
    return AIGW_ERR_INTERNAL;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The child must not inherit our blocked signal mask (SIGTERM would never
  // reach it) and gets its own process group for a clean kill.
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), o->env ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(in_pipe[0]);
  close(out_pipe[1]);
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    log::warn("plugin process could not be started",
              {{"program", args[0]}, {"error", std::strerror(rc)}});
    return AIGW_ERR_NOT_FOUND;
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    close(in_pipe[1]);
    close(out_pipe[0]);
    return AIGW_ERR_INTERNAL;
  }

  uint32_t i;
  if (!free_procs_.empty()) {
    i = free_procs_.back();
    free_procs_.pop_back();
  } else {
    i = static_cast<uint32_t>(procs_.size());
    procs_.push_back(std::make_unique<aigw_process>());
    procs_[i]->index = i;
  }
  aigw_process* p = procs_[i].get();
  p->req = r;
  p->rt = this;
  p->pid = pid;
  p->pidfd = pidfd;
  p->stdin_fd = in_pipe[1];
  p->stdout_fd = out_pipe[0];
  r->procs.push_back(p);
  arm_process_read(p);
  arm_process_exit(p);
  if (o->timeout_ms != 0) {
    timers_.push(Timer{mono_ns() + o->timeout_ms * 1000000u, p->index, p->generation, 0, 1});
  }
  *out = p;
  return AIGW_OK;
}

void PluginRuntime::arm_process_read(aigw_process* p) {
  io_uring_sqe* sqe = worker_.sqe();
  io_uring_prep_read(sqe, p->stdout_fd, p->out_buf, sizeof p->out_buf, 0);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::process_read, p->index, p->generation));
  ++p->ops;
}

void PluginRuntime::arm_process_exit(aigw_process* p) {
  io_uring_sqe* sqe = worker_.sqe();
  io_uring_prep_poll_add(sqe, p->pidfd, POLLIN);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::process_exit, p->index, p->generation));
  ++p->ops;
}

void PluginRuntime::arm_process_write(aigw_process* p) {
  p->writing_buf.swap(p->pending_in);
  p->pending_in.clear();
  io_uring_sqe* sqe = worker_.sqe();
  io_uring_prep_write(sqe, p->stdin_fd, p->writing_buf.data(),
                      static_cast<unsigned>(p->writing_buf.size()), 0);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::process_write, p->index, p->generation));
  p->writing = true;
  ++p->ops;
}

aigw_status PluginRuntime::process_write(aigw_process* p, const aigw_plugin_bytes* chunks, size_t n) {
  if (!p->req || p->stdin_fd < 0 || p->close_stdin_after_write) return AIGW_ERR_CLOSED;
  for (size_t i = 0; i < n; ++i) {
    p->pending_in.append(reinterpret_cast<const char*>(chunks[i].ptr), chunks[i].len);
  }
  if (!p->writing && !p->pending_in.empty()) arm_process_write(p);
  return AIGW_OK;
}

aigw_status PluginRuntime::process_close_stdin(aigw_process* p) {
  if (p->stdin_fd < 0) return AIGW_OK;
  if (p->writing || !p->pending_in.empty()) {
    p->close_stdin_after_write = true;
  } else {
    close(p->stdin_fd);
    p->stdin_fd = -1;
  }
  return AIGW_OK;
}

aigw_status PluginRuntime::process_kill(aigw_process* p) {
  if (!p->exited && p->pid > 0) kill(p->pid, SIGKILL);
  return AIGW_OK;
}

void PluginRuntime::on_process_cqe(uint8_t op, uint32_t index, uint32_t generation, int res) {
  if (index >= procs_.size()) return;
  aigw_process* p = procs_[index].get();
  if (p->generation != generation) return;
  --p->ops;
  aigw_request* r = p->req;
  bool deliver = r && !r->finished && r->ctx_live;
  switch (static_cast<io::Op>(op)) {
    case io::Op::process_read:
      if (res > 0) {
        if (deliver && r->hooks->on_process_output) {
          aigw_host_bytes b{reinterpret_cast<const uint8_t*>(p->out_buf), static_cast<size_t>(res)};
          enter(r);
          r->hooks->on_process_output(r->ctx, p, &b, 1, 0);
          leave(r);
        }
        if (p->stdout_fd >= 0) arm_process_read(p);
      } else {
        p->stdout_eof = true;
        close(p->stdout_fd);
        p->stdout_fd = -1;
        if (deliver && r->hooks->on_process_output) {
          enter(r);
          r->hooks->on_process_output(r->ctx, p, nullptr, 0, 1);
          leave(r);
        }
      }
      break;
    case io::Op::process_write:
      p->writing = false;
      if (res < 0 || p->stdin_fd < 0) {
        p->pending_in.clear();  // the child closed its stdin: nothing more to say
      } else if (static_cast<size_t>(res) < p->writing_buf.size()) {
        p->pending_in.insert(0, p->writing_buf.substr(static_cast<size_t>(res)));
      }
      p->writing_buf.clear();
      if (!p->pending_in.empty() && p->stdin_fd >= 0) {
        arm_process_write(p);
      } else if (p->close_stdin_after_write && p->stdin_fd >= 0) {
        close(p->stdin_fd);
        p->stdin_fd = -1;
      }
      break;
    case io::Op::process_exit: {
      int st = 0;
      if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
        p->exited = true;
        p->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
        if (p->stdin_fd >= 0 && !p->writing) {
          close(p->stdin_fd);
          p->stdin_fd = -1;
        }
      } else {
        arm_process_exit(p);  // spurious wake-up
      }
      break;
    }
    default:
      break;
  }
  process_op_done(p);
}

void PluginRuntime::process_op_done(aigw_process* p) {
  // The exit is reported after all of stdout, so a plugin sees the whole
  // output before it learns the status.
  if (p->exited && p->stdout_eof && p->req) {
    aigw_request* r = p->req;
    p->req = nullptr;
    auto& v = r->procs;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == p) {
        v.erase(v.begin() + static_cast<long>(i));
        break;
      }
    }
    if (!r->finished && r->ctx_live && r->hooks->on_process_exit) {
      enter(r);
      r->hooks->on_process_exit(r->ctx, p, p->exit_status);
      leave(r);
    }
  }
  if (p->ops == 0 && p->exited && p->req == nullptr) reap(p);
}

void PluginRuntime::reap(aigw_process* p) {
  if (p->pidfd >= 0) close(p->pidfd);
  if (p->stdin_fd >= 0) close(p->stdin_fd);
  if (p->stdout_fd >= 0) close(p->stdout_fd);
  uint32_t index = p->index;
  uint32_t generation = p->generation + 1;
  *p = aigw_process{};
  p->index = index;
  p->generation = generation;
  free_procs_.push_back(index);
}

}  // namespace aigw::server
