#include "io/ring.h"

#include <cerrno>
#include <cstring>
#include <memory>

namespace aigw::io {

Ring::~Ring() {
  if (initialised_) io_uring_queue_exit(&ring_);
}

namespace {

struct FlagName {
  unsigned flag;
  const char* name;
};

// Order = the order in which flags are given up when the kernel refuses the
// set: the least important first.
constexpr FlagName kOptionalFlags[] = {
    {IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN"},
    {IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"},
    {IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER"},
};

}  // namespace

bool Ring::init(unsigned sq_entries, std::string& dropped, std::string& why) {
  unsigned flags = IORING_SETUP_CQSIZE;
  for (const auto& f : kOptionalFlags) flags |= f.flag;

  for (size_t drop = 0;; ++drop) {
    io_uring_params p{};
    p.flags = flags;
    p.cq_entries = sq_entries * 4;
    int rc = io_uring_queue_init_params(sq_entries, &ring_, &p);
    if (rc == 0) {
      initialised_ = true;
      return true;
    }
    if (rc != -EINVAL || drop >= std::size(kOptionalFlags)) {
      why = std::string("io_uring_setup failed: ") + std::strerror(-rc);
      return false;
    }
    // DEFER_TASKRUN requires SINGLE_ISSUER, so giving up SINGLE_ISSUER also
    // gives up DEFER_TASKRUN (already dropped first by the order above).
    flags &= ~kOptionalFlags[drop].flag;
    if (!dropped.empty()) dropped += ",";
    dropped += kOptionalFlags[drop].name;
  }
}

io_uring_sqe* Ring::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (s == nullptr) {
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

bool check_kernel_support(std::string& why) {
  io_uring ring{};
  int rc = io_uring_queue_init(8, &ring, 0);
  if (rc < 0) {
    if (rc == -EPERM || rc == -ENOSYS || rc == -EACCES) {
      why = std::string("io_uring is not available here (") + std::strerror(-rc) +
            "): the kernel or a seccomp profile forbids it (Docker's default profile does; "
            "/proc/sys/kernel/io_uring_disabled may be set); aigw needs io_uring on Linux >= 6.1";
    } else {
      why = std::string("io_uring_setup failed: ") + std::strerror(-rc);
    }
    return false;
  }
  std::unique_ptr<io_uring_probe, void (*)(io_uring_probe*)> probe(io_uring_get_probe_ring(&ring),
                                                                   io_uring_free_probe);
  bool ok = true;
  if (!probe) {
    why = "io_uring opcode probe failed: aigw needs Linux >= 6.1";
    ok = false;
  } else {
    const struct {
      int op;
      const char* name;
    } needed[] = {{IORING_OP_ACCEPT, "ACCEPT"}, {IORING_OP_RECV, "RECV"},
                  {IORING_OP_SEND, "SEND"},     {IORING_OP_READ, "READ"},
                  {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"}};
    for (const auto& n : needed) {
      if (!io_uring_opcode_supported(probe.get(), n.op)) {
        why = std::string("io_uring lacks opcode ") + n.name + ": aigw needs Linux >= 6.1";
        ok = false;
        break;
      }
    }
  }
  if (ok) {
    // Provided-buffer rings (5.19) carry every receive; register a tiny one to
    // find out now rather than in a worker.
    size_t sz = sizeof(io_uring_buf) * 8;
    void* mem = nullptr;
    if (posix_memalign(&mem, 4096, 4096) != 0) {
      why = "out of memory probing io_uring";
      ok = false;
    } else {
      std::memset(mem, 0, sz);
      io_uring_buf_reg reg{};
      reg.ring_addr = reinterpret_cast<uint64_t>(mem);
      reg.ring_entries = 8;
      reg.bgid = 0;
      rc = io_uring_register_buf_ring(&ring, &reg, 0);
      if (rc < 0) {
        why = std::string("io_uring provided-buffer rings are not supported (") +
              std::strerror(-rc) + "): aigw needs Linux >= 6.1";
        ok = false;
      } else {
        io_uring_unregister_buf_ring(&ring, 0);
      }
      free(mem);
    }
  }
  io_uring_queue_exit(&ring);
  return ok;
}

}  // namespace aigw::io
