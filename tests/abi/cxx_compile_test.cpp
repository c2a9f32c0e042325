// The header must compile as C++ without a single warning (-Wall -Wextra
// -Werror -pedantic) and give C++ exactly the layout C sees: the same
// abi_layout.h numbers, checked with static_assert. A C++ plugin depends on
// both.
#include "aigw_plugin.h"

#include <cstring>
#include <type_traits>

#define ABI_STATIC_ASSERT(expr, msg) static_assert(expr, msg)
#define ABI_ALIGNOF(type) alignof(type)
#if defined(__LP64__)
#include "abi_layout.h"
#endif

// Tables a C++ plugin builds must stay plain aggregates: it initialises them
// statically, and the host reads them as C structs.
static_assert(std::is_standard_layout_v<aigw_hooks> && std::is_trivial_v<aigw_hooks>);
static_assert(std::is_standard_layout_v<aigw_plugin_def> && std::is_trivial_v<aigw_plugin_def>);
static_assert(std::is_standard_layout_v<aigw_host> && std::is_trivial_v<aigw_host>);
static_assert(std::is_standard_layout_v<aigw_client_request>);

namespace {

const aigw_hooks hooks = {sizeof(aigw_hooks), AIGW_MODE_DIRECT, nullptr, nullptr, nullptr, nullptr,
                          nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                          nullptr, nullptr, nullptr, nullptr, nullptr, 0};
const aigw_plugin_def def = {AIGW_PLUGIN_DEF_HEADER, "cxx", "1.0.0", 0, 0, &hooks};

}  // namespace

// AIGW_PLUGIN_ENTRY declares the function with the language's default
// linkage; in C++ that is a mangled name dlsym would not find, so a C++
// plugin must say extern "C" itself.
extern "C" AIGW_PLUGIN_ENTRY { return &def; }

int main() {
  const aigw_plugin_def* d = aigw_plugin_entry();
  return d->struct_size == sizeof(aigw_plugin_def) &&
                 std::strcmp(d->abi_signature, AIGW_ABI_SIGNATURE) == 0
             ? 0
             : 1;
}
