#include "plugin/loader.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <mbedtls/sha256.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "aigw_build_config.h"

namespace aigw::plugin {
namespace {

constexpr uint16_t kHostMajor = AIGW_ABI_MAJOR;
constexpr uint16_t kHostMinor = AIGW_ABI_MINOR;

// The smallest tables a plugin of a given minor may hand us. A minor that
// appends fields gets its own case, so that a plugin claiming 1.1 must also
// carry the 1.1 fields.
uint32_t def_min_size(uint16_t /*minor*/) { return kDefMinSize_1_0; }
uint32_t hooks_min_size(uint16_t minor) {
  return minor >= 3 ? kHooksMinSize_1_3 : minor >= 1 ? kHooksMinSize_1_1 : kHooksMinSize_1_0;
}

// Copies are shared: loading unchanged content again yields the same path
// and, from dlopen, the same handle. The file may only go when the last
// LoadedPlugin using it goes, or a reload of an unchanged plugin would pull
// the file out from under the generation that still runs on it.
struct CopyRegistry {
  std::mutex mu;
  std::map<std::string, int> users;  // loaded_path -> live LoadedPlugins
  std::set<std::string> on_disk;     // copies we wrote or reused that still exist
  std::string created_dir;           // set when create_runtime_dir made the directory
};

CopyRegistry& registry() {
  // Never destroyed: a LoadedPlugin with static storage may be destroyed
  // after any function-local static would be.
  static auto* r = new CopyRegistry;
  return *r;
}

void acquire_copy(const std::string& path) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  ++r.users[path];
  r.on_disk.insert(path);
}

void release_copy(const std::string& path) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.users.find(path);
  if (it == r.users.end() || --it->second > 0) return;
  r.users.erase(it);
  // The mapping survives the unlink; only the name goes, so a crash later
  // leaves nothing behind but a process-private directory.
  ::unlink(path.c_str());
  r.on_disk.erase(path);
}

std::string errno_text(int err) { return std::strerror(err); }

bool read_file(const std::string& path, std::string& data, std::string& why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    why = "cannot read plugin file " + path + ": " + errno_text(errno);
    return false;
  }
  data.clear();
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      why = "cannot read plugin file " + path + ": " + errno_text(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

std::string sha256_hex(const std::string& data) {
  unsigned char digest[32];
  mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, 0);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(64);
  for (unsigned char b : digest) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  return hex;
}

bool write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Makes `dst` hold exactly `data`. An existing file is trusted only after
// hashing it again: a half-written or foreign file must never be dlopen'ed.
bool ensure_copy(const std::string& source, const std::string& dst, const std::string& data,
                 const std::string& hex, std::string& why) {
  struct stat st {};
  if (::lstat(dst.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    std::string existing, ignored;
    if (read_file(dst, existing, ignored) && sha256_hex(existing) == hex) return true;
  }
  // A unique temporary name, then rename: a concurrent reader sees either no
  // file or the whole file, never a partial one.
  static std::atomic<uint64_t> counter{0};
  std::string tmp = dst + ".tmp-" + std::to_string(::getpid()) + "-" +
                    std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0700);
  if (fd < 0) {
    why = "cannot copy plugin " + source + " to " + dst + ": " + errno_text(errno);
    return false;
  }
  bool ok = write_all(fd, data);
  int err = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && ::rename(tmp.c_str(), dst.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    why = "cannot copy plugin " + source + " to " + dst + ": " + errno_text(err);
    return false;
  }
  return true;
}

std::string copy_name(const std::string& source, const std::string& hex) {
  std::string base = source.substr(source.find_last_of('/') + 1);
  if (base.size() > 3 && base.compare(base.size() - 3, 3, ".so") == 0) base.resize(base.size() - 3);
  return base + "-" + hex.substr(0, 16) + ".so";
}

std::string join(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// A string from the plugin, for a message: bounded (the pointer may not
// point at a terminated string) and with control bytes replaced.
std::string printable(const char* s, size_t max = 80) {
  if (!s) return "(null)";
  std::string out;
  size_t n = ::strnlen(s, max + 1);
  for (size_t i = 0; i < std::min(n, max); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (n > max) out += "...";
  return out;
}

std::string version_text(unsigned major, unsigned minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

const char* mode_name(aigw_mode mode) {
  switch (mode) {
    case AIGW_MODE_HTTP: return "HTTP";
    case AIGW_MODE_DIRECT: return "DIRECT";
    default: return "unknown";
  }
}

bool regular_file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

bool valid_plugin_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

uint16_t negotiate_minor(const aigw_plugin_def* def) {
  return std::min(kHostMinor, def->abi_minor);
}

bool validate(const aigw_plugin_def* def, std::string& why, std::string_view subject) {
  auto fail = [&](const std::string& rest) {
    why = std::string(subject) + rest;
    return false;
  };
  if (!def) return fail(": the definition is NULL");

  // Versions first: a plugin of another major may lay out everything after
  // the frozen prefix differently, so its version is the only thing worth
  // reporting about it.
  if (def->struct_size < kDefFrozenPrefix) {
    return fail(": aigw_plugin_def.struct_size is " + std::to_string(def->struct_size) +
                ", smaller than the 1.0 minimum of " + std::to_string(def_min_size(0)));
  }
  const std::string host_version = version_text(kHostMajor, kHostMinor);
  if (def->abi_major != kHostMajor) {
    return fail(" was built for plugin ABI " + version_text(def->abi_major, def->abi_minor) +
                " but this aigw speaks " + host_version);
  }
  if (def->abi_minor > kHostMinor) {
    return fail(" needs plugin ABI " + version_text(def->abi_major, def->abi_minor) +
                " but this aigw speaks " + host_version + "; upgrade aigw");
  }
  if (!def->abi_signature ||
      std::strncmp(def->abi_signature, AIGW_ABI_SIGNATURE, sizeof(AIGW_ABI_SIGNATURE)) != 0) {
    return fail(" has ABI signature \"" + printable(def->abi_signature) +
                "\" but this aigw needs \"" AIGW_ABI_SIGNATURE
                "\": it was built for another pointer size or byte order");
  }
  const uint16_t minor = def->abi_minor;
  if (def->struct_size < def_min_size(minor)) {
    return fail(": aigw_plugin_def.struct_size is " + std::to_string(def->struct_size) +
                ", smaller than the " + version_text(kHostMajor, minor) + " minimum of " +
                std::to_string(def_min_size(minor)));
  }

  if (!def->name) return fail(" has no name (aigw_plugin_def.name is NULL)");
  const size_t name_len = ::strnlen(def->name, kMaxNameLength + 1);
  if (!valid_plugin_name(std::string_view(def->name, name_len))) {
    return fail(" has an invalid name \"" + printable(def->name) + "\": a name is 1 to " +
                std::to_string(kMaxNameLength) + " characters of a-z, 0-9, '_' and '-'");
  }
  // `aigw plugins` prints it; free-form, but it must be a string.
  if (!def->version) return fail(" has no version (aigw_plugin_def.version is NULL)");

  const aigw_hooks* h = def->hooks;
  if (!h) return fail(" has no hooks table (aigw_plugin_def.hooks is NULL)");
  if (h->struct_size < hooks_min_size(minor)) {
    return fail(": aigw_hooks.struct_size is " + std::to_string(h->struct_size) +
                ", smaller than the " + version_text(kHostMajor, minor) + " minimum of " +
                std::to_string(hooks_min_size(minor)));
  }
  if (h->mode != AIGW_MODE_HTTP && h->mode != AIGW_MODE_DIRECT) {
    return fail(" has unknown mode " + std::to_string(h->mode) +
                " (aigw_hooks.mode must be 1 for HTTP or 2 for DIRECT)");
  }

  struct Required {
    const char* name;
    bool present;
  };
  const Required every_mode[] = {
      {"config_new", h->config_new != nullptr},
      {"config_destroy", h->config_destroy != nullptr},
      {"instance_new", h->instance_new != nullptr},
      {"instance_destroy", h->instance_destroy != nullptr},
      {"request_new", h->request_new != nullptr},
      {"request_destroy", h->request_destroy != nullptr},
  };
  const Required http_mode[] = {
      {"build_upstream", h->build_upstream != nullptr},
      {"on_upstream_head", h->on_upstream_head != nullptr},
      {"on_upstream_body", h->on_upstream_body != nullptr},
  };
  const Required direct_mode[] = {
      {"request_start", h->request_start != nullptr},
  };
  auto check = [&](const auto& list) {
    for (const Required& r : list) {
      if (!r.present) {
        why = std::string(subject) + ": mode " + mode_name(h->mode) + " requires hook " + r.name +
              ", which is NULL";
        return false;
      }
    }
    return true;
  };
  if (!check(every_mode)) return false;
  if (h->mode == AIGW_MODE_HTTP) return check(http_mode);
  return check(direct_mode);
}

LoadedPlugin::LoadedPlugin(LoadedPlugin&& other) noexcept { *this = std::move(other); }

LoadedPlugin& LoadedPlugin::operator=(LoadedPlugin&& other) noexcept {
  if (this == &other) return *this;
  reset();
  source_path = std::move(other.source_path);
  loaded_path = std::move(other.loaded_path);
  sha256_hex = std::move(other.sha256_hex);
  handle = std::exchange(other.handle, nullptr);
  def = std::exchange(other.def, nullptr);
  hooks = std::exchange(other.hooks, nullptr);
  negotiated_minor = std::exchange(other.negotiated_minor, 0);
  // A moved-from string is unspecified; the destructor of `other` must see
  // an empty path or it would release our copy.
  other.source_path.clear();
  other.loaded_path.clear();
  other.sha256_hex.clear();
  return *this;
}

LoadedPlugin::~LoadedPlugin() { reset(); }

void LoadedPlugin::reset() {
  // Read the flag before dlclose: `def` lives inside the object.
  const bool keep_mapped = no_unload();
  if (handle && !keep_mapped) ::dlclose(handle);
  if (!loaded_path.empty()) release_copy(loaded_path);
  source_path.clear();
  loaded_path.clear();
  sha256_hex.clear();
  handle = nullptr;
  def = nullptr;
  hooks = nullptr;
  negotiated_minor = 0;
}

bool load(const std::string& path, const std::string& runtime_dir, LoadedPlugin& out,
          std::string& why) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      why = "plugin file " + path + " does not exist";
    } else {
      why = "cannot read plugin file " + path + ": " + errno_text(errno);
    }
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    why = "plugin file " + path + " is not a regular file";
    return false;
  }
  std::string data;
  if (!read_file(path, data, why)) return false;

  LoadedPlugin p;
  p.source_path = path;
  p.sha256_hex = sha256_hex(data);
  const std::string dst = join(runtime_dir, copy_name(path, p.sha256_hex));
  // Take the reference before looking at the file, so that a generation
  // released meanwhile cannot unlink the copy we are about to reuse. From here
  // on every failure releases it (and the handle) through p's destructor.
  acquire_copy(dst);
  p.loaded_path = dst;
  if (!ensure_copy(path, dst, data, p.sha256_hex, why)) return false;

  // RTLD_NOW: an unresolved symbol must fail here, with a message, rather
  // than abort a worker on the first request. RTLD_LOCAL: two generations of
  // the same plugin define the same symbols and must not see each other's.
  p.handle = ::dlopen(dst.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!p.handle) {
    std::string err = ::dlerror();
    // dlerror names our private copy; the operator knows the source file.
    if (err.starts_with(dst + ": ")) err.erase(0, dst.size() + 2);
    const bool is_elf = data.size() >= 4 && std::memcmp(data.data(), "\x7f" "ELF", 4) == 0;
    if (is_elf) {
      why = "plugin " + path + " cannot be loaded (" + err + ")";
    } else {
      why = "plugin " + path + " is not a shared object (" + err + ")";
    }
    return false;
  }

  ::dlerror();
  void* sym = ::dlsym(p.handle, AIGW_PLUGIN_ENTRY_SYMBOL);
  if (!sym) {
    why = "plugin " + path + " does not export " AIGW_PLUGIN_ENTRY_SYMBOL ": it is not an aigw plugin";
    return false;
  }
  auto entry = reinterpret_cast<aigw_plugin_entry_fn>(sym);
  const aigw_plugin_def* def = entry();
  if (!def) {
    why = "plugin " + path + ": " AIGW_PLUGIN_ENTRY_SYMBOL " returned NULL instead of a definition";
    return false;
  }
  if (!validate(def, why, "plugin " + path)) return false;

  // Only a validated definition is stored: reset() reads its flags.
  p.def = def;
  p.hooks = def->hooks;
  p.negotiated_minor = negotiate_minor(def);
  out = std::move(p);
  return true;
}

std::string exe_relative_plugin_dir(const std::string& exe_path) {
  const std::string_view rel = AIGW_PLUGIN_DIR_FROM_BINDIR;
  if (rel.empty() || exe_path.empty() || exe_path[0] != '/') return "";
  std::filesystem::path dir = std::filesystem::path(exe_path).parent_path() / rel;
  std::string out = dir.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::vector<std::string> plugin_search_dirs(const std::string& exe_path) {
  std::vector<std::string> dirs;
  auto add = [&dirs](std::string dir) {
    if (dir.empty() || std::find(dirs.begin(), dirs.end(), dir) != dirs.end()) return;
    dirs.push_back(std::move(dir));
  };
  if (const char* env = std::getenv("AIGW_PLUGIN_PATH")) {
    std::string_view rest = env;
    while (!rest.empty()) {
      size_t colon = rest.find(':');
      add(std::string(rest.substr(0, colon)));
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  // Before the build directory: an installed binary (also one unpacked from
  // a DESTDIR somewhere else) must load the plugins installed beside it, not
  // those of the tree it was built in. A binary in the build tree has no
  // such directory next to it and goes on to the build directory.
  add(exe_relative_plugin_dir(exe_path));
  add(AIGW_PLUGIN_BUILD_DIR);
  add(AIGW_PLUGIN_INSTALL_DIR);
  return dirs;
}

std::string find_plugin_file(const std::string& name, std::vector<std::string>& tried) {
  tried.clear();
  // The name becomes part of a path: anything else could walk out of the
  // search directories.
  if (!valid_plugin_name(name)) return "";

  // The kernel's own record of the running file, symlinks resolved, so an
  // /usr/bin/aigw that links to /opt/aigw/bin/aigw finds /opt/aigw's plugins.
  std::error_code ec;
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  const std::vector<std::string> dirs = plugin_search_dirs(ec ? std::string() : exe);

  const std::string file = "libaigw_" + name + ".so";
  for (const auto& dir : dirs) {
    for (const std::string& candidate : {join(join(dir, name), file), join(dir, file)}) {
      tried.push_back(candidate);
      if (regular_file_exists(candidate)) return candidate;
    }
  }
  return "";
}

// One sentence: what is missing, every place it was looked for, and the two
// ways to point aigw at it. `tried` is empty when the name could not be a
// file name at all.
std::string missing_plugin_message(const std::string& name, const std::vector<std::string>& tried) {
  if (tried.empty()) {
    return "plugin \"" + name + "\": not a valid plugin name (a-z, 0-9, '-' and '_')";
  }
  std::string msg = "plugin \"" + name + "\": no plugin file found (looked for ";
  for (size_t i = 0; i < tried.size(); ++i) {
    if (i > 0) msg += i + 1 == tried.size() ? " and " : ", ";
    msg += tried[i];
  }
  msg += "); give its path in [[plugin]] path = \"...\" or its directory in AIGW_PLUGIN_PATH";
  return msg;
}

std::string runtime_dir_path() {
  auto strip = [](std::string s) {
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
  };
  const char* own = std::getenv("AIGW_RUNTIME_DIR");
  if (own && *own) return strip(own);
  const std::string pid = std::to_string(::getpid());
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg && *xdg) return join(strip(xdg), "aigw-" + pid);
  return "/tmp/aigw-" + std::to_string(::getuid()) + "-" + pid;
}

bool create_runtime_dir(std::string& dir, std::string& why) {
  dir = runtime_dir_path();
  if (::mkdir(dir.c_str(), 0700) == 0) {
    // The umask may have taken bits we need; it cannot have added any.
    ::chmod(dir.c_str(), 0700);
    auto& r = registry();
    std::lock_guard lock(r.mu);
    r.created_dir = dir;
    return true;
  }
  if (errno != EEXIST) {
    why = "cannot create runtime directory " + dir + ": " + errno_text(errno);
    return false;
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    why = "cannot inspect runtime directory " + dir + ": " + errno_text(errno);
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    why = "runtime directory " + dir + " exists but is not a directory";
    return false;
  }
  if (st.st_uid != ::geteuid()) {
    why = "runtime directory " + dir + " belongs to uid " + std::to_string(st.st_uid) +
          ", not to this process (uid " + std::to_string(::geteuid()) + ")";
    return false;
  }
  if (st.st_mode & 022) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    why = "runtime directory " + dir + " has mode " + mode +
          ": other users could replace the plugin copies in it; make it 0700";
    return false;
  }
  return true;
}

void remove_runtime_dir() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  for (const auto& path : r.on_disk) ::unlink(path.c_str());
  r.on_disk.clear();
  if (!r.created_dir.empty()) {
    // Fails, harmlessly, when something else was put there.
    ::rmdir(r.created_dir.c_str());
    r.created_dir.clear();
  }
}

}  // namespace aigw::plugin
