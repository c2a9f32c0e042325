// Child processes for direct-mode plugins: spawned with pipes whose reads,
// writes and exit notification (a pidfd) all run on the worker's ring.
//
// Each child leads its own process group, and every kill is a kill of the
// group: a model script's own children (a shell pipeline, a Python worker)
// die with it, on a client disconnect as on a timeout. The leader is reaped
// only when the host is done with it, so its pid (the group's id) cannot be
// reused by another process while we may still signal the group.
//
// Deadlines are kept by the clock, not by the pipe: a descendant that
// escaped the group can hold stdout open for ever, so once the child is
// gone (exited, or killed at timeout_ms) stdout gets a short grace and is
// then ended by the host.
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

#include "io/clock.h"
#include "log/log.h"
#include "gateway/runtime.h"

extern char** environ;

namespace aigw::gateway {


namespace {

uint64_t now_ns() { return static_cast<uint64_t>(io::mono_ns()); }

// After the child exits on its own, how long its descendants may keep
// writing to stdout; after a timeout kill, only long enough for the pipe's
// last bytes.
constexpr uint64_t kEofGraceNs = 2'000'000'000;
constexpr uint64_t kKilledEofGraceNs = 100'000'000;

std::string str(aigw_plugin_str s) { return std::string(s.ptr ? s.ptr : "", s.ptr ? s.len : 0); }

}  // namespace

aigw_status Runtime::spawn(aigw_request* r, const aigw_spawn_options* o, aigw_process** out) {
  if (r->finished || r->client_gone) return AIGW_ERR_CLOSED;
  if (!r->attempt.hooks->on_process_exit) return AIGW_ERR_UNSUPPORTED;
  if (!o || !out || o->argc == 0 || !o->argv || o->struct_size < sizeof(uint32_t) * 2) {
    return AIGW_ERR_INVALID;
  }
  // Two pipe ends and a pidfd stay open while the child runs.
  if (!host_.fds().take(3)) {
    log::warn("plugin process refused: this worker's share of file descriptors is spent");
    return AIGW_ERR_LIMIT;
  }
  struct Undo {
    io::FdBudget* fds;
    ~Undo() {
      if (fds) fds->give(3);
    }
  } undo{&host_.fds()};
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

  io::SlotHandle h = procs_.acquire();
  aigw_process* p = procs_.get(h);
  *p = aigw_process{};  // a reused slot: nothing of its last tenant stays
  p->index = h.index;
  p->generation = h.generation;
  undo.fds = nullptr;  // reap() gives them back
  p->req = r;
  p->rt = this;
  p->pid = pid;
  p->pidfd = pidfd;
  p->stdin_fd = in_pipe[1];
  p->stdout_fd = out_pipe[0];
  r->attempt.procs.push_back(p);
  arm_process_read(p);
  arm_process_exit(p);
  if (o->timeout_ms != 0) {
    timers_.push(Timer{now_ns() + o->timeout_ms * 1000000u, p->index, p->generation, 0, kProcessDeadline});
  }
  *out = p;
  return AIGW_OK;
}

void Runtime::arm_process_read(aigw_process* p) {
  io_uring_sqe* sqe = host_.ring().sqe();
  io_uring_prep_read(sqe, p->stdout_fd, p->out_buf, sizeof p->out_buf, 0);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::process_read, p->index, p->generation));
  p->read_armed = true;
  ++p->ops;
}

void Runtime::kill_process(aigw_process* p) {
  if (p->pid > 0 && !p->reaped) kill(-p->pid, SIGKILL);
}

void Runtime::on_process_timer(uint8_t kind, uint32_t index, uint32_t generation) {
  aigw_process* p = procs_.get(index, generation);
  if (p == nullptr || p->reaped) return;
  if (kind == kProcessDeadline) {
    if (p->exited && p->stdout_eof) return;
    p->deadline_passed = true;
    kill_process(p);
    timers_.push(Timer{now_ns() + kKilledEofGraceNs, p->index, p->generation, 0, kProcessEof});
  } else if (kind == kProcessEof) {
    force_eof(p);
  }
}

void Runtime::force_eof(aigw_process* p) {
  if (p->stdout_eof) return;
  // Whoever still holds the pipe is not waited for: end stdout here, and let
  // the plugin hear it as it would hear a real end of file.
  kill_process(p);
  p->stdout_eof = true;
  if (p->read_armed) {
    io_uring_sqe* sqe = host_.ring().sqe();
    io_uring_prep_cancel64(sqe, io::pack(io::Op::process_read, p->index, p->generation), 0);
    io_uring_sqe_set_data64(sqe, io::pack(io::Op::cancel, 0, 0));
  }
  aigw_request* r = p->req;
  if (r && !r->finished && r->attempt.ctx_live && r->attempt.hooks->on_process_output) {
    enter(r);
    r->attempt.hooks->on_process_output(r->attempt.ctx, p, nullptr, 0, 1);
    leave(r);
  }
  process_op_done(p);
}

void Runtime::arm_process_exit(aigw_process* p) {
  io_uring_sqe* sqe = host_.ring().sqe();
  io_uring_prep_poll_add(sqe, p->pidfd, POLLIN);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::process_exit, p->index, p->generation));
  ++p->ops;
}

void Runtime::arm_process_write(aigw_process* p) {
  p->writing_buf.swap(p->pending_in);
  p->pending_in.clear();
  io_uring_sqe* sqe = host_.ring().sqe();
  io_uring_prep_write(sqe, p->stdin_fd, p->writing_buf.data(),
                      static_cast<unsigned>(p->writing_buf.size()), 0);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::process_write, p->index, p->generation));
  p->writing = true;
  ++p->ops;
}

aigw_status Runtime::process_write(aigw_process* p, const aigw_plugin_bytes* chunks, size_t n) {
  if (!p->req || p->stdin_fd < 0 || p->close_stdin_after_write) return AIGW_ERR_CLOSED;
  for (size_t i = 0; i < n; ++i) {
    p->pending_in.append(reinterpret_cast<const char*>(chunks[i].ptr), chunks[i].len);
  }
  if (!p->writing && !p->pending_in.empty()) arm_process_write(p);
  return AIGW_OK;
}

aigw_status Runtime::process_close_stdin(aigw_process* p) {
  if (p->stdin_fd < 0) return AIGW_OK;
  if (p->writing || !p->pending_in.empty()) {
    p->close_stdin_after_write = true;
  } else {
    close(p->stdin_fd);
    p->stdin_fd = -1;
  }
  return AIGW_OK;
}

aigw_status Runtime::process_kill(aigw_process* p) {
  kill_process(p);
  return AIGW_OK;
}

void Runtime::on_process_cqe(uint8_t op, uint32_t index, uint32_t generation, int res) {
  aigw_process* p = procs_.get(index, generation);
  if (p == nullptr) return;  // reaped: a late completion of the slot's last tenant
  --p->ops;
  aigw_request* r = p->req;
  bool deliver = r && !r->finished && r->attempt.ctx_live;
  switch (static_cast<io::Op>(op)) {
    case io::Op::process_read:
      p->read_armed = false;
      if (p->stdout_eof) {
        // Ended by force_eof: what the read brought is too late.
        if (p->stdout_fd >= 0) close(p->stdout_fd);
        p->stdout_fd = -1;
      } else if (res > 0) {
        if (deliver && r->attempt.hooks->on_process_output) {
          aigw_host_bytes b{reinterpret_cast<const uint8_t*>(p->out_buf), static_cast<size_t>(res)};
          enter(r);
          r->attempt.hooks->on_process_output(r->attempt.ctx, p, &b, 1, 0);
          leave(r);
        }
        if (p->stdout_fd >= 0 && !p->stdout_eof) arm_process_read(p);
      } else {
        p->stdout_eof = true;
        close(p->stdout_fd);
        p->stdout_fd = -1;
        if (deliver && r->attempt.hooks->on_process_output) {
          enter(r);
          r->attempt.hooks->on_process_output(r->attempt.ctx, p, nullptr, 0, 1);
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
      // Read the status without reaping (WNOWAIT): the pid stays ours, so
      // the group can still be signalled; reap() collects it.
      siginfo_t info{};
      if (waitid(P_PID, static_cast<id_t>(p->pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == p->pid) {
        p->exited = true;
        p->exit_status = info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
        if (p->stdin_fd >= 0 && !p->writing) {
          close(p->stdin_fd);
          p->stdin_fd = -1;
        }
        if (!p->stdout_eof) {
          // Descendants may still be writing; not for long.
          timers_.push(Timer{now_ns() + (p->deadline_passed ? kKilledEofGraceNs : kEofGraceNs), p->index,
                             p->generation, 0, kProcessEof});
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

void Runtime::process_op_done(aigw_process* p) {
  // The exit is reported after all of stdout, so a plugin sees the whole
  // output before it learns the status.
  if (p->exited && p->stdout_eof && p->req) {
    aigw_request* r = p->req;
    p->req = nullptr;
    auto& v = r->attempt.procs;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == p) {
        v.erase(v.begin() + static_cast<long>(i));
        break;
      }
    }
    if (!r->finished && r->attempt.ctx_live && r->attempt.hooks->on_process_exit) {
      enter(r);
      r->attempt.hooks->on_process_exit(r->attempt.ctx, p, p->exit_status);
      leave(r);
    }
  }
  if (p->ops == 0 && p->exited && p->req == nullptr) reap(p);
}

void Runtime::reap(aigw_process* p) {
  // Whatever the child left running in its group goes with it.
  kill_process(p);
  int st;
  waitpid(p->pid, &st, 0);  // it has exited (pidfd said so): does not block
  p->reaped = true;
  host_.fds().give(3);
  if (p->pidfd >= 0) close(p->pidfd);
  if (p->stdin_fd >= 0) close(p->stdin_fd);
  if (p->stdout_fd >= 0) close(p->stdout_fd);
  // A plugin may still hold p: reset, it reads as no process (req null,
  // no pid, no descriptors) until the slot's next tenant.
  io::SlotHandle h{p->index, p->generation};
  *p = aigw_process{};
  procs_.release(h);
}

}  // namespace aigw::gateway
