// Loading provider plugins: find the file, copy it under its content hash,
// dlopen the copy, read the definition and refuse anything this aigw cannot
// speak to, with one sentence that names the file and the reason.
//
// Everything here runs on the control thread. Workers never call into this
// file; they get hooks through the generations the host builds on top.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aigw_plugin.h"

namespace aigw::plugin {

// The plugins this host loads: major AIGW_ABI_MAJOR, any minor from
// kOldestMinor to AIGW_ABI_MINOR (validate() refuses the rest; `aigw
// version` prints the range). A host that drops an old minor raises
// this and adds the lower-bound check to validate().
inline constexpr uint16_t kOldestMinor = 0;

// The smallest struct_size the host accepts for each table of ABI 1.0: the
// end of the last field that 1.0 defines. A future minor that appends fields
// keeps these numbers (a 1.0 plugin is still loadable) and adds its own, e.g.
// kDefSize_1_1 = offsetof(aigw_plugin_def, new_field) + sizeof(new_field);
// the host then reads a new field only when struct_size covers it.
inline constexpr uint32_t kDefMinSize_1_0 =
    offsetof(aigw_plugin_def, hooks) + sizeof(aigw_plugin_def::hooks);
inline constexpr uint32_t kHooksMinSize_1_0 =
    offsetof(aigw_hooks, on_client_gone) + sizeof(aigw_hooks::on_client_gone);

// The part of aigw_plugin_def that is frozen across all majors (struct_size,
// versions, signature, name): what the host must be able to read to refuse
// an incompatible plugin with a message that names its version.
inline constexpr uint32_t kDefFrozenPrefix =
    offsetof(aigw_plugin_def, name) + sizeof(aigw_plugin_def::name);

// 1.1 appended aigw_hooks.key_count (and aigw_client_request.key_index,
// which the host fills and the plugin reads when struct_size covers it).
inline constexpr uint32_t kHooksMinSize_1_1 =
    offsetof(aigw_hooks, key_count) + sizeof(aigw_hooks::key_count);

// 1.3 appended aigw_hooks.native_dialects (1.2 added only to aigw_host).
inline constexpr uint32_t kHooksMinSize_1_3 =
    offsetof(aigw_hooks, native_dialects) + sizeof(aigw_hooks::native_dialects);

static_assert(kDefMinSize_1_0 == sizeof(aigw_plugin_def), "1.0 ends at the last field of the def");
static_assert(kHooksMinSize_1_3 == sizeof(aigw_hooks), "1.3 ends at native_dialects");

// Names are used in file names (libaigw_<name>.so), log fields and metric
// labels, so they are kept short and free of anything needing quoting.
inline constexpr size_t kMaxNameLength = 64;
bool valid_plugin_name(std::string_view name);

// One dlopen'ed plugin object. Move-only. Destroying it dlcloses the object
// (unless its definition sets AIGW_PLUGIN_FLAG_NO_UNLOAD) and unlinks the
// private copy once no other LoadedPlugin uses the same copy. The lead's
// generation code must destroy it only after every config made from it is
// destroyed: the hooks point into the object.
struct LoadedPlugin {
  std::string source_path;  // the file the operator named
  std::string loaded_path;  // the content-hash copy actually dlopen'ed
  std::string sha256_hex;   // of the file content
  void* handle = nullptr;
  const aigw_plugin_def* def = nullptr;
  const aigw_hooks* hooks = nullptr;
  uint16_t negotiated_minor = 0;  // min(host minor, plugin minor)

  LoadedPlugin() = default;
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;
  LoadedPlugin(LoadedPlugin&& other) noexcept;
  LoadedPlugin& operator=(LoadedPlugin&& other) noexcept;
  ~LoadedPlugin();

  // Unloads now; the object is empty afterwards.
  void reset();
  bool loaded() const { return handle != nullptr; }
  bool no_unload() const { return def && (def->flags & AIGW_PLUGIN_FLAG_NO_UNLOAD); }
};

// Loads `path` through a copy in `runtime_dir` named
// <basename-without-.so>-<first 16 hex of its SHA-256>.so, so that a changed
// file gets a new path and a new dlopen (the same path would return the
// object that is already loaded). `runtime_dir` must exist (see
// create_runtime_dir). On failure returns false, leaves `out` untouched and
// sets `why` to one sentence naming the file.
bool load(const std::string& path, const std::string& runtime_dir, LoadedPlugin& out,
          std::string& why);

// Checks a definition: signature, versions, name, struct sizes, mode and the
// hooks the mode requires. Used by load() and for the built-in plugin, which
// is linked in and has no file. `subject` starts the message ("plugin
// /x/libfoo.so", "built-in plugin local").
bool validate(const aigw_plugin_def* def, std::string& why,
              std::string_view subject = "plugin definition");

// The minor both sides speak. Only meaningful for a definition validate()
// accepted.
uint16_t negotiate_minor(const aigw_plugin_def* def);

// The install's plugin directory as seen from the running binary:
// <dir of exe_path>/<bindir -> libdir/aigw/plugins>, e.g. /opt/x/bin/aigw ->
// /opt/x/lib/x86_64-linux-gnu/aigw/plugins. "" when exe_path is not absolute
// or meson's bindir/libdir are absolute (no relation between them).
std::string exe_relative_plugin_dir(const std::string& exe_path);

// The directories find_plugin_file searches, in order, each once:
// $AIGW_PLUGIN_PATH (colon-separated), the one beside the binary at
// exe_path (exe_relative_plugin_dir), the build directory, the install
// directory.
std::vector<std::string> plugin_search_dirs(const std::string& exe_path);

// Where a plugin named `name` lives when [[plugin]] gives no path: the
// plugin_search_dirs of the running binary (/proc/self/exe); in each, <dir>/<name>/libaigw_<name>.so, then
// <dir>/libaigw_<name>.so. Returns the first regular file found, or "" when
// none is. `tried` receives every candidate looked at, in order, for the
// error message. An invalid name finds nothing and tries nothing.
std::string find_plugin_file(const std::string& name, std::vector<std::string>& tried);

// The error for a plugin find_plugin_file did not find: one sentence naming
// every place it looked and the two ways to point aigw at the file.
std::string missing_plugin_message(const std::string& name, const std::vector<std::string>& tried);

// The directory for the hash copies: $AIGW_RUNTIME_DIR, else
// $XDG_RUNTIME_DIR/aigw-<pid>, else /tmp/aigw-<uid>-<pid>. Not created.
std::string runtime_dir_path();

// Creates runtime_dir_path() with mode 0700 if it does not exist, and checks
// that an existing one is a directory owned by us that nobody else can write
// (a copy there is dlopen'ed, so another user must not be able to swap it).
// Sets `dir` to the path. Returns false with `why` on failure.
bool create_runtime_dir(std::string& dir, std::string& why);

// At exit: removes the copies this process wrote that are still there and the
// directory itself if create_runtime_dir created it (and it is then empty).
// Objects still loaded stay mapped; only the names go.
void remove_runtime_dir();

}  // namespace aigw::plugin
