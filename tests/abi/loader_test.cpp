// The plugin loader against the fixture plugins in this folder: one fixture
// per way a plugin can be wrong, each refused with its own message; the
// content-hash copies that make hot swap possible; the search path; the
// runtime directory; and the example plugin driven through a fake host.
#include <fcntl.h>
#include <mbedtls/sha256.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aigw_build_config.h"
#include "plugin/loader.h"
#include "support/fake_host.h"

#ifndef ABI_FIXTURE_DIR
#error "ABI_FIXTURE_DIR must name the directory holding the fixture plugins"
#endif

namespace fs = std::filesystem;
using aigw::plugin::LoadedPlugin;

namespace {

std::string fixture(const std::string& name) {
  return std::string(ABI_FIXTURE_DIR) + "/lib" + name + ".so";
}

std::string host_version() {
  return std::to_string(AIGW_ABI_MAJOR) + "." + std::to_string(AIGW_ABI_MINOR);
}

// Under the build directory rather than /tmp: the copies are dlopen'ed, and
// /tmp is mounted noexec on some CI machines.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = std::string(ABI_FIXTURE_DIR) + "/loader-test-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, ec);
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  size_t entry_count() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(path_), fs::directory_iterator()));
  }

 private:
  std::string path_;
};

bool is_mapped(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find(path) != std::string::npos) return true;
  }
  return false;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

void copy_over(const std::string& from, const std::string& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

std::string sha256_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  unsigned char digest[32];
  mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, 0);
  char hex[65];
  for (int i = 0; i < 32; ++i) std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  return hex;
}

// Sets an environment variable for one test and puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// --- loading good plugins ---------------------------------------------------

TEST(PluginLoader, LoadsDirectModePlugin) {
  TempDir rt;
  LoadedPlugin p;
  std::string why;
  const std::string src = fixture("good_direct");
  ASSERT_TRUE(aigw::plugin::load(src, rt.path(), p, why)) << why;
  EXPECT_TRUE(p.loaded());
  EXPECT_EQ(p.source_path, src);
  EXPECT_EQ(p.sha256_hex, sha256_of(src));
  EXPECT_EQ(p.loaded_path, rt / ("libgood_direct-" + p.sha256_hex.substr(0, 16) + ".so"));
  EXPECT_TRUE(exists(p.loaded_path));
  EXPECT_TRUE(is_mapped(p.loaded_path));
  // The operator's file itself is never dlopen'ed.
  EXPECT_FALSE(is_mapped(src));
  ASSERT_NE(p.def, nullptr);
  EXPECT_STREQ(p.def->name, "good_direct");
  EXPECT_EQ(p.hooks, p.def->hooks);
  EXPECT_EQ(p.hooks->mode, AIGW_MODE_DIRECT);
  EXPECT_EQ(p.negotiated_minor, std::min<uint16_t>(AIGW_ABI_MINOR, p.def->abi_minor));
  EXPECT_FALSE(p.no_unload());
}

TEST(PluginLoader, LoadsHttpModePlugin) {
  TempDir rt;
  LoadedPlugin p;
  std::string why;
  ASSERT_TRUE(aigw::plugin::load(fixture("good_http"), rt.path(), p, why)) << why;
  EXPECT_STREQ(p.def->name, "good_http");
  EXPECT_EQ(p.hooks->mode, AIGW_MODE_HTTP);
  EXPECT_EQ(p.negotiated_minor, AIGW_ABI_MINOR);
}

TEST(PluginLoader, KeyCountOfA11Plugin) {
  // ABI 1.1: the host reads key_count when the hooks table covers it, and
  // makes that many routing channels of the provider.
  TempDir rt;
  LoadedPlugin p;
  std::string why;
  ASSERT_TRUE(aigw::plugin::load(fixture("keyed_http"), rt.path(), p, why)) << why;
  EXPECT_GE(p.negotiated_minor, 1);
  ASSERT_GE(p.hooks->struct_size, aigw::plugin::kHooksMinSize_1_1);
  ASSERT_NE(p.hooks->key_count, nullptr);
  EXPECT_EQ(p.hooks->key_count(nullptr), 3u);
}

TEST(PluginLoader, LoadsPluginBuiltForOlderMinor) {
  // A 1.0 plugin's hooks table is shorter (no key_count): still loadable,
  // spoken to in 1.0.
  TempDir rt;
  LoadedPlugin p;
  std::string why;
  ASSERT_TRUE(aigw::plugin::load(fixture("abi_1_0"), rt.path(), p, why)) << why;
  EXPECT_EQ(p.negotiated_minor, 0);
  EXPECT_EQ(p.hooks->struct_size, offsetof(aigw_hooks, key_count));
}

TEST(PluginLoader, LoadsA11BinaryBuiltAgainstThe11Header) {
  // abi_1_1_http was compiled against the header as 1.1 released it
  // (tests/abi/abi_1_1): its hooks table ends at key_count (1.3 appended
  // native_dialects after it, 1.2 only to aigw_host), and it is spoken to
  // in 1.1 (no commit: the host sniffs; no native dialects).
  TempDir rt;
  LoadedPlugin p;
  std::string why;
  ASSERT_TRUE(aigw::plugin::load(fixture("abi_1_1_http"), rt.path(), p, why)) << why;
  EXPECT_EQ(p.def->abi_minor, 1);
  EXPECT_EQ(p.negotiated_minor, 1);
  EXPECT_EQ(p.hooks->mode, AIGW_MODE_HTTP);
  EXPECT_EQ(p.hooks->struct_size, aigw::plugin::kHooksMinSize_1_1);
  // The host must not read native_dialects beyond that, and refuses
  // nothing for its absence.
  EXPECT_LT(p.hooks->struct_size, aigw::plugin::kHooksMinSize_1_3);
}

TEST(PluginLoader, NativeDialectsOfA13Plugin) {
  // ABI 1.3: a plugin that serves Anthropic's Messages API natively says so
  // in native_dialects, which the host reads at load time.
  TempDir rt;
  LoadedPlugin p;
  std::string why;
  ASSERT_TRUE(aigw::plugin::load(fixture("native_messages"), rt.path(), p, why)) << why;
  EXPECT_EQ(p.def->abi_minor, 3);
  EXPECT_EQ(p.negotiated_minor, 3);
  EXPECT_EQ(p.hooks->mode, AIGW_MODE_HTTP);
  ASSERT_GE(p.hooks->struct_size, aigw::plugin::kHooksMinSize_1_3);
  EXPECT_EQ(p.hooks->native_dialects, uint64_t{AIGW_DIALECT_ANTHROPIC_MESSAGES});
  // The hooks it leaves out are NULL, as for a positional table.
  EXPECT_EQ(p.hooks->health_probe, nullptr);
  EXPECT_EQ(p.hooks->key_count, nullptr);
}

TEST(PluginLoader, A13PluginWithoutTheBitIsLoadedAsBefore) {
  // good_http is built against the current header (1.3 or later) with the
  // fixtures' positional table, which leaves native_dialects 0: the host
  // translates for it.
  TempDir rt;
  LoadedPlugin p;
  std::string why;
  ASSERT_TRUE(aigw::plugin::load(fixture("good_http"), rt.path(), p, why)) << why;
  EXPECT_EQ(p.negotiated_minor, AIGW_ABI_MINOR);
  ASSERT_GE(p.hooks->struct_size, aigw::plugin::kHooksMinSize_1_3);
  EXPECT_EQ(p.hooks->native_dialects, 0u);
}

// --- every way to be wrong ----------------------------------------------------

struct FailureCase {
  std::string fixture;               // fixture name, or a path for the special cases
  std::vector<std::string> expected; // substrings of `why`; "{path}" is the file
};

void PrintTo(const FailureCase& c, std::ostream* os) { *os << c.fixture; }

class PluginLoaderFailure : public ::testing::TestWithParam<FailureCase> {};

TEST_P(PluginLoaderFailure, RefusesWithItsOwnMessage) {
  TempDir rt;
  const FailureCase& c = GetParam();
  std::string path = fixture(c.fixture);
  if (c.fixture == "not_a_plugin") {
    // A text file that only looks like a plugin by name (longer than an ELF
    // header, or dlopen says "file too short" instead).
    path = rt / "libnot_a_plugin.so";
    std::ofstream(path) << "This is a text file. Somebody saved it under a plugin's name;\n"
                           "the loader must say so instead of trying to run it.\n";
  } else if (c.fixture == "missing") {
    path = rt / "libmissing.so";
  }
  // The copies go to their own directory so that leftovers can be counted.
  TempDir copies;
  LoadedPlugin p;
  std::string why;
  ASSERT_FALSE(aigw::plugin::load(path, copies.path(), p, why));
  for (std::string want : c.expected) {
    if (auto at = want.find("{path}"); at != std::string::npos) want.replace(at, 6, path);
    EXPECT_NE(why.find(want), std::string::npos) << "message: " << why << "\nwanted: " << want;
  }
  // One sentence, naming the operator's file rather than our private copy.
  EXPECT_EQ(why.find('\n'), std::string::npos) << why;
  EXPECT_NE(why.find(path), std::string::npos) << why;
  EXPECT_EQ(why.find(copies.path()), std::string::npos) << why;
  // A refused plugin leaves nothing behind.
  EXPECT_FALSE(p.loaded());
  EXPECT_EQ(p.def, nullptr);
  EXPECT_EQ(copies.entry_count(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, PluginLoaderFailure,
    ::testing::Values(
        FailureCase{"missing", {"plugin file {path} does not exist"}},
        FailureCase{"not_a_plugin", {"plugin {path} is not a shared object (", "invalid ELF header"}},
        FailureCase{"no_entry",
                    {"plugin {path} does not export aigw_plugin_entry: it is not an aigw plugin"}},
        FailureCase{"null_def", {"plugin {path}: aigw_plugin_entry returned NULL"}},
        FailureCase{"wrong_major",
                    {"plugin {path} was built for plugin ABI 2.0 but this aigw speaks " +
                     host_version()}},
        FailureCase{"minor_too_new",
                    {"plugin {path} needs plugin ABI " + std::to_string(AIGW_ABI_MAJOR) + "." +
                         std::to_string(AIGW_ABI_MINOR + 3) + " but this aigw speaks " +
                         host_version() + "; upgrade aigw"}},
        FailureCase{"bad_signature",
                    {"plugin {path} has ABI signature \"aigw-abi1-p32-be\"",
                     "this aigw needs \"" AIGW_ABI_SIGNATURE "\""}},
        FailureCase{"small_def",
                    {"plugin {path}: aigw_plugin_def.struct_size is 12, smaller than the 1.0 "
                     "minimum of " +
                     std::to_string(sizeof(aigw_plugin_def))}},
        FailureCase{"small_hooks",
                    {"plugin {path}: aigw_hooks.struct_size is 8, smaller than the " + host_version() +
                     " minimum of " +
                     std::to_string(sizeof(aigw_hooks))}},
        FailureCase{"missing_hook",
                    {"plugin {path}: mode DIRECT requires hook request_start, which is NULL"}},
        FailureCase{"bad_name", {"plugin {path} has an invalid name \"Bad Name!\""}},
        FailureCase{"null_hooks", {"plugin {path} has no hooks table"}},
        FailureCase{"unknown_mode", {"plugin {path} has unknown mode 7"}}),
    [](const ::testing::TestParamInfo<FailureCase>& info) { return info.param.fixture; });

TEST(PluginLoader, DirectoryIsNotAPluginFile) {
  TempDir rt;
  LoadedPlugin p;
  std::string why;
  EXPECT_FALSE(aigw::plugin::load(rt.path(), rt.path(), p, why));
  EXPECT_EQ(why, "plugin file " + rt.path() + " is not a regular file");
}

TEST(PluginLoader, MissingRuntimeDirIsReported) {
  TempDir rt;
  LoadedPlugin p;
  std::string why;
  EXPECT_FALSE(aigw::plugin::load(fixture("good_direct"), rt / "nope", p, why));
  EXPECT_NE(why.find("cannot copy plugin " + fixture("good_direct") + " to " + rt.path() + "/nope/"),
            std::string::npos)
      << why;
}

TEST(PluginLoader, FailedLoadLeavesPreviousPluginInPlace) {
  TempDir rt;
  LoadedPlugin p;
  std::string why;
  ASSERT_TRUE(aigw::plugin::load(fixture("good_direct"), rt.path(), p, why)) << why;
  const std::string kept = p.loaded_path;
  EXPECT_FALSE(aigw::plugin::load(fixture("wrong_major"), rt.path(), p, why));
  EXPECT_EQ(p.loaded_path, kept);
  EXPECT_STREQ(p.def->name, "good_direct");
  EXPECT_TRUE(is_mapped(kept));
}

// --- the content-hash copies --------------------------------------------------

TEST(PluginLoader, SameContentSharesOneCopyUntilTheLastUserGoes) {
  TempDir rt;
  std::string why;
  auto a = std::make_unique<LoadedPlugin>();
  auto b = std::make_unique<LoadedPlugin>();
  ASSERT_TRUE(aigw::plugin::load(fixture("good_direct"), rt.path(), *a, why)) << why;
  ASSERT_TRUE(aigw::plugin::load(fixture("good_direct"), rt.path(), *b, why)) << why;
  EXPECT_EQ(a->loaded_path, b->loaded_path);
  EXPECT_EQ(a->handle, b->handle);
  const std::string copy = a->loaded_path;

  // An unchanged plugin reloaded must survive the old generation's release.
  a.reset();
  EXPECT_TRUE(exists(copy));
  EXPECT_TRUE(is_mapped(copy));
  EXPECT_STREQ(b->def->name, "good_direct");

  b.reset();
  EXPECT_FALSE(exists(copy));
  EXPECT_FALSE(is_mapped(copy));
}

TEST(PluginLoader, ChangedFileIsLoadedAsNewObjectBesideTheOld) {
  TempDir rt;
  TempDir src_dir;
  const std::string src = src_dir / "libswap.so";
  std::string why;

  copy_over(fixture("good_direct"), src);
  auto old_gen = std::make_unique<LoadedPlugin>();
  ASSERT_TRUE(aigw::plugin::load(src, rt.path(), *old_gen, why)) << why;

  // The operator replaces the file under the same name.
  copy_over(fixture("good_http"), src);
  auto new_gen = std::make_unique<LoadedPlugin>();
  ASSERT_TRUE(aigw::plugin::load(src, rt.path(), *new_gen, why)) << why;

  EXPECT_EQ(old_gen->source_path, new_gen->source_path);
  EXPECT_NE(old_gen->sha256_hex, new_gen->sha256_hex);
  EXPECT_NE(old_gen->loaded_path, new_gen->loaded_path);
  EXPECT_NE(old_gen->handle, new_gen->handle);
  // Both generations are live: requests in flight keep running on the old.
  EXPECT_STREQ(old_gen->def->name, "good_direct");
  EXPECT_STREQ(new_gen->def->name, "good_http");
  EXPECT_TRUE(is_mapped(old_gen->loaded_path));
  EXPECT_TRUE(is_mapped(new_gen->loaded_path));

  const std::string old_copy = old_gen->loaded_path;
  const std::string new_copy = new_gen->loaded_path;
  old_gen.reset();
  EXPECT_FALSE(is_mapped(old_copy));
  EXPECT_FALSE(exists(old_copy));
  EXPECT_TRUE(is_mapped(new_copy));
  EXPECT_TRUE(exists(new_copy));
  EXPECT_STREQ(new_gen->def->name, "good_http");

  // Swapping back to the first content gets a fresh object again, since the
  // old one was unloaded.
  copy_over(fixture("good_direct"), src);
  LoadedPlugin third;
  ASSERT_TRUE(aigw::plugin::load(src, rt.path(), third, why)) << why;
  EXPECT_EQ(third.loaded_path, old_copy);
  EXPECT_STREQ(third.def->name, "good_direct");
}

TEST(PluginLoader, StaleCopyWithWrongContentIsReplaced) {
  TempDir rt;
  LoadedPlugin probe;
  std::string why;
  ASSERT_TRUE(aigw::plugin::load(fixture("good_direct"), rt.path(), probe, why)) << why;
  const std::string copy = probe.loaded_path;
  probe.reset();
  ASSERT_FALSE(exists(copy));

  // Something left a truncated file under the name the copy will get.
  std::ofstream(copy) << "\x7f" "ELF truncated";
  LoadedPlugin p;
  ASSERT_TRUE(aigw::plugin::load(fixture("good_direct"), rt.path(), p, why)) << why;
  EXPECT_EQ(p.loaded_path, copy);
  EXPECT_EQ(sha256_of(copy), p.sha256_hex);
}

TEST(PluginLoader, LoadingIntoAFullSlotReleasesThePreviousPlugin) {
  TempDir rt;
  LoadedPlugin p;
  std::string why;
  ASSERT_TRUE(aigw::plugin::load(fixture("good_direct"), rt.path(), p, why)) << why;
  const std::string first = p.loaded_path;
  ASSERT_TRUE(aigw::plugin::load(fixture("good_http"), rt.path(), p, why)) << why;
  EXPECT_FALSE(exists(first));
  EXPECT_FALSE(is_mapped(first));
  EXPECT_STREQ(p.def->name, "good_http");
}

TEST(PluginLoader, MoveTransfersOwnership) {
  TempDir rt;
  std::string why;
  LoadedPlugin a;
  ASSERT_TRUE(aigw::plugin::load(fixture("good_direct"), rt.path(), a, why)) << why;
  const std::string copy = a.loaded_path;
  {
    LoadedPlugin b(std::move(a));
    EXPECT_FALSE(a.loaded());  // NOLINT(bugprone-use-after-move): the point of the test
    EXPECT_TRUE(a.loaded_path.empty());
    EXPECT_EQ(b.loaded_path, copy);
    a.reset();  // releasing the moved-from one must not touch b's copy
    EXPECT_TRUE(exists(copy));
    EXPECT_TRUE(is_mapped(copy));
    LoadedPlugin c;
    c = std::move(b);
    EXPECT_STREQ(c.def->name, "good_direct");
  }
  EXPECT_FALSE(exists(copy));
  EXPECT_FALSE(is_mapped(copy));
}

TEST(PluginLoader, NoUnloadFlagKeepsObjectMapped) {
  TempDir rt;
  LoadedPlugin p;
  std::string why;
  ASSERT_TRUE(aigw::plugin::load(fixture("no_unload"), rt.path(), p, why)) << why;
  EXPECT_TRUE(p.no_unload());
  const std::string copy = p.loaded_path;
  p.reset();
  // The name goes, the code stays: /proc/self/maps shows it "(deleted)".
  EXPECT_FALSE(exists(copy));
  EXPECT_TRUE(is_mapped(copy));
}

// --- validate() on its own (the built-in plugin has no file) -------------------

aigw_status stub_config_new(const aigw_host*, aigw_host_plugin*, aigw_config_source*, void**,
                            aigw_errbuf*) {
  return AIGW_OK;
}
void stub_destroy(void*) {}
aigw_status stub_instance_new(void*, const aigw_worker_info*, void**, aigw_errbuf*) { return AIGW_OK; }
aigw_status stub_request_new(void*, aigw_request*, const aigw_client_request*, void**,
                             aigw_errbuf*) {
  return AIGW_OK;
}
aigw_status stub_build_upstream(void*, aigw_upstream_request*, aigw_errbuf*) { return AIGW_OK; }
aigw_status stub_on_upstream_head(void*, int32_t, const aigw_host_header*, size_t,
                                  aigw_upstream_verdict*) {
  return AIGW_OK;
}
aigw_status stub_on_upstream_body(void*, const aigw_host_bytes*, size_t, int32_t) { return AIGW_OK; }
aigw_status stub_request_start(void*) { return AIGW_OK; }

aigw_hooks complete_hooks(aigw_mode mode) {
  aigw_hooks h{};
  h.struct_size = sizeof h;
  h.mode = mode;
  h.config_new = stub_config_new;
  h.config_destroy = stub_destroy;
  h.instance_new = stub_instance_new;
  h.instance_destroy = stub_destroy;
  h.request_new = stub_request_new;
  h.request_destroy = stub_destroy;
  if (mode == AIGW_MODE_HTTP) {
    h.build_upstream = stub_build_upstream;
    h.on_upstream_head = stub_on_upstream_head;
    h.on_upstream_body = stub_on_upstream_body;
  } else {
    h.request_start = stub_request_start;
  }
  return h;
}

aigw_plugin_def def_with(const aigw_hooks* hooks, const char* name = "builtin") {
  return aigw_plugin_def{AIGW_PLUGIN_DEF_HEADER, name, "1.0", 0, 0, hooks};
}

TEST(PluginValidate, AcceptsMinimalDefinitions) {
  std::string why;
  for (aigw_mode mode : {AIGW_MODE_HTTP, AIGW_MODE_DIRECT}) {
    aigw_hooks h = complete_hooks(mode);
    aigw_plugin_def d = def_with(&h);
    EXPECT_TRUE(aigw::plugin::validate(&d, why)) << why;
    EXPECT_EQ(aigw::plugin::negotiate_minor(&d), AIGW_ABI_MINOR);
  }
}

TEST(PluginValidate, NamesTheSubject) {
  std::string why;
  aigw_hooks h = complete_hooks(AIGW_MODE_DIRECT);
  h.request_start = nullptr;
  aigw_plugin_def d = def_with(&h, "local");
  ASSERT_FALSE(aigw::plugin::validate(&d, why, "built-in plugin local"));
  EXPECT_EQ(why, "built-in plugin local: mode DIRECT requires hook request_start, which is NULL");
  EXPECT_FALSE(aigw::plugin::validate(nullptr, why));
  EXPECT_EQ(why, "plugin definition: the definition is NULL");
}

TEST(PluginValidate, EveryRequiredHookIsChecked) {
  struct Hook {
    const char* name;
    std::function<void(aigw_hooks&)> clear;
  };
  const std::vector<Hook> every_mode = {
      {"config_new", [](aigw_hooks& h) { h.config_new = nullptr; }},
      {"config_destroy", [](aigw_hooks& h) { h.config_destroy = nullptr; }},
      {"instance_new", [](aigw_hooks& h) { h.instance_new = nullptr; }},
      {"instance_destroy", [](aigw_hooks& h) { h.instance_destroy = nullptr; }},
      {"request_new", [](aigw_hooks& h) { h.request_new = nullptr; }},
      {"request_destroy", [](aigw_hooks& h) { h.request_destroy = nullptr; }},
  };
  const std::vector<Hook> http_only = {
      {"build_upstream", [](aigw_hooks& h) { h.build_upstream = nullptr; }},
      {"on_upstream_head", [](aigw_hooks& h) { h.on_upstream_head = nullptr; }},
      {"on_upstream_body", [](aigw_hooks& h) { h.on_upstream_body = nullptr; }},
  };
  auto expect_refused = [](aigw_mode mode, const Hook& hook) {
    aigw_hooks h = complete_hooks(mode);
    hook.clear(h);
    aigw_plugin_def d = def_with(&h);
    std::string why;
    EXPECT_FALSE(aigw::plugin::validate(&d, why)) << hook.name;
    const std::string mode_name = mode == AIGW_MODE_HTTP ? "HTTP" : "DIRECT";
    EXPECT_EQ(why, "plugin definition: mode " + mode_name + " requires hook " + hook.name +
                       ", which is NULL");
  };
  for (const Hook& hook : every_mode) {
    expect_refused(AIGW_MODE_HTTP, hook);
    expect_refused(AIGW_MODE_DIRECT, hook);
  }
  for (const Hook& hook : http_only) expect_refused(AIGW_MODE_HTTP, hook);
  expect_refused(AIGW_MODE_DIRECT,
                 Hook{"request_start", [](aigw_hooks& h) { h.request_start = nullptr; }});
}

TEST(PluginValidate, OptionalHooksMayBeNull) {
  // complete_hooks() leaves every optional hook NULL, and the other mode's
  // hooks too; setting them is fine as well.
  aigw_hooks h = complete_hooks(AIGW_MODE_DIRECT);
  h.build_upstream = stub_build_upstream;
  aigw_plugin_def d = def_with(&h);
  std::string why;
  EXPECT_TRUE(aigw::plugin::validate(&d, why)) << why;
}

TEST(PluginValidate, NameSyntax) {
  aigw_hooks h = complete_hooks(AIGW_MODE_DIRECT);
  std::string why;
  const std::string longest(aigw::plugin::kMaxNameLength, 'a');
  const std::string too_long = longest + "a";
  for (const char* good : {"openai", "a", "my-plugin_2", longest.c_str()}) {
    aigw_plugin_def d = def_with(&h, good);
    EXPECT_TRUE(aigw::plugin::validate(&d, why)) << good << ": " << why;
  }
  for (const char* bad : {"", "OpenAI", "a/b", "../x", "a b", "caf\xc3\xa9", too_long.c_str()}) {
    aigw_plugin_def d = def_with(&h, bad);
    EXPECT_FALSE(aigw::plugin::validate(&d, why)) << bad;
    EXPECT_NE(why.find("has an invalid name"), std::string::npos) << why;
  }
  aigw_plugin_def d = def_with(&h, nullptr);
  EXPECT_FALSE(aigw::plugin::validate(&d, why));
  EXPECT_EQ(why, "plugin definition has no name (aigw_plugin_def.name is NULL)");
}

TEST(PluginValidate, OtherFieldChecks) {
  aigw_hooks h = complete_hooks(AIGW_MODE_HTTP);
  std::string why;

  aigw_plugin_def d = def_with(&h);
  d.version = nullptr;
  EXPECT_FALSE(aigw::plugin::validate(&d, why));
  EXPECT_NE(why.find("has no version"), std::string::npos) << why;

  d = def_with(&h);
  d.abi_signature = nullptr;
  EXPECT_FALSE(aigw::plugin::validate(&d, why));
  EXPECT_NE(why.find("has ABI signature \"(null)\""), std::string::npos) << why;

  // A def between the frozen prefix and the 1.0 size: versions are readable
  // and fine, so the size is what gets reported.
  d = def_with(&h);
  d.struct_size = aigw::plugin::kDefFrozenPrefix;
  EXPECT_FALSE(aigw::plugin::validate(&d, why));
  EXPECT_EQ(why, "plugin definition: aigw_plugin_def.struct_size is " +
                     std::to_string(aigw::plugin::kDefFrozenPrefix) +
                     ", smaller than the " + host_version() + " minimum of " +
                     std::to_string(sizeof(aigw_plugin_def)));

  // Larger tables than we know are fine: we never read past our own fields.
  d = def_with(&h);
  d.struct_size = sizeof(aigw_plugin_def) + 16;
  EXPECT_TRUE(aigw::plugin::validate(&d, why)) << why;

  // Major before signature: a 2.0 plugin is told about its version, not
  // about a signature that a 2.0 header would also have changed.
  d = def_with(&h);
  d.abi_major = 2;
  d.abi_signature = "aigw-abi2-p64-le";
  EXPECT_FALSE(aigw::plugin::validate(&d, why));
  EXPECT_NE(why.find("was built for plugin ABI 2." + std::to_string(AIGW_ABI_MINOR)), std::string::npos)
      << why;
}

// --- the search path -----------------------------------------------------------

// The directory beside this test's own binary that find_plugin_file tries.
std::string exe_relative_dir() {
  return aigw::plugin::exe_relative_plugin_dir(fs::read_symlink("/proc/self/exe").string());
}

TEST(PluginSearch, FindsInPathOrderAndReportsWhatItTried) {
  TempDir d1, d2;
  fs::create_directories(d2 / "foo");
  std::ofstream(d2 / "foo/libaigw_foo.so") << "x";
  std::ofstream(d1 / "libaigw_bar.so") << "x";
  std::ofstream(d2 / "libaigw_bar.so") << "x";  // shadowed by d1's
  fs::create_directories(d1 / "libaigw_dir.so");  // a directory is not a plugin file

  const std::string path = d1.path() + "::" + d2.path() + ":";
  ScopedEnv env("AIGW_PLUGIN_PATH", path.c_str());
  std::vector<std::string> tried;

  EXPECT_EQ(aigw::plugin::find_plugin_file("foo", tried), d2 / "foo/libaigw_foo.so");
  EXPECT_EQ(tried, (std::vector<std::string>{d1 / "foo/libaigw_foo.so", d1 / "libaigw_foo.so",
                                             d2 / "foo/libaigw_foo.so"}));

  EXPECT_EQ(aigw::plugin::find_plugin_file("bar", tried), d1 / "libaigw_bar.so");
  EXPECT_EQ(tried.size(), 2u);

  EXPECT_EQ(aigw::plugin::find_plugin_file("dir", tried), "");

  EXPECT_EQ(aigw::plugin::find_plugin_file("nothere", tried), "");
  // d1, d2, beside this test's binary, the build and the install directory.
  ASSERT_EQ(tried.size(), 10u);
  EXPECT_EQ(tried[4], exe_relative_dir() + "/nothere/libaigw_nothere.so");
  EXPECT_EQ(tried[6], std::string(AIGW_PLUGIN_BUILD_DIR) + "/nothere/libaigw_nothere.so");
  EXPECT_EQ(tried[7], std::string(AIGW_PLUGIN_BUILD_DIR) + "/libaigw_nothere.so");
  EXPECT_EQ(tried[8], std::string(AIGW_PLUGIN_INSTALL_DIR) + "/nothere/libaigw_nothere.so");
  EXPECT_EQ(tried[9], std::string(AIGW_PLUGIN_INSTALL_DIR) + "/libaigw_nothere.so");

  // A name that could leave the search directories finds nothing.
  EXPECT_EQ(aigw::plugin::find_plugin_file("../foo", tried), "");
  EXPECT_TRUE(tried.empty());
}

TEST(PluginSearch, WithoutPluginPathUsesExeRelativeThenBuildThenInstallDir) {
  ScopedEnv env("AIGW_PLUGIN_PATH", nullptr);
  std::vector<std::string> tried;
  aigw::plugin::find_plugin_file("nothere", tried);
  ASSERT_EQ(tried.size(), 6u);
  EXPECT_EQ(tried[0], exe_relative_dir() + "/nothere/libaigw_nothere.so");
  EXPECT_EQ(tried[2], std::string(AIGW_PLUGIN_BUILD_DIR) + "/nothere/libaigw_nothere.so");
  EXPECT_EQ(tried[5], std::string(AIGW_PLUGIN_INSTALL_DIR) + "/libaigw_nothere.so");
}

// An install unpacked somewhere else (a DESTDIR, a tarball) finds the
// plugins beside its binary: <exe dir>/<bindir -> libdir/aigw/plugins>.
TEST(PluginSearch, ExeRelativeDirFollowsTheBinary) {
  const std::string rel = AIGW_PLUGIN_DIR_FROM_BINDIR;
  ASSERT_FALSE(rel.empty()) << "meson's default bindir and libdir are relative";
  const std::string dir = aigw::plugin::exe_relative_plugin_dir("/tmp/dest/usr/local/bin/aigw");
  EXPECT_EQ(dir, fs::path("/tmp/dest/usr/local/bin/" + rel).lexically_normal().string());
  EXPECT_TRUE(dir.starts_with("/tmp/dest/usr/local/")) << dir;
  EXPECT_TRUE(dir.ends_with("/aigw/plugins")) << dir;
  EXPECT_EQ(aigw::plugin::exe_relative_plugin_dir("relative/aigw"), "");
  EXPECT_EQ(aigw::plugin::exe_relative_plugin_dir(""), "");

  // Searched after $AIGW_PLUGIN_PATH and before the build directory; a
  // directory that is both (a binary run from the install prefix) once.
  ScopedEnv env("AIGW_PLUGIN_PATH", "/p");
  auto dirs = aigw::plugin::plugin_search_dirs("/tmp/dest/usr/local/bin/aigw");
  ASSERT_EQ(dirs.size(), 4u);
  EXPECT_EQ(dirs[0], "/p");
  EXPECT_EQ(dirs[1], dir);
  EXPECT_EQ(dirs[2], AIGW_PLUGIN_BUILD_DIR);
  EXPECT_EQ(dirs[3], AIGW_PLUGIN_INSTALL_DIR);

  // Each directory once: one named twice is searched (and reported) once.
  ScopedEnv twice("AIGW_PLUGIN_PATH", (dir + ":/p:" + dir).c_str());
  dirs = aigw::plugin::plugin_search_dirs("/tmp/dest/usr/local/bin/aigw");
  ASSERT_EQ(dirs.size(), 4u);
  EXPECT_EQ(dirs[0], dir);
  EXPECT_EQ(dirs[1], "/p");
  EXPECT_EQ(dirs[2], AIGW_PLUGIN_BUILD_DIR);
}

// --- the runtime directory -------------------------------------------------------

TEST(RuntimeDir, PathFollowsTheEnvironment) {
  const std::string pid = std::to_string(::getpid());
  {
    ScopedEnv own("AIGW_RUNTIME_DIR", "/run/aigw-test/");
    ScopedEnv xdg("XDG_RUNTIME_DIR", "/run/user/1000");
    EXPECT_EQ(aigw::plugin::runtime_dir_path(), "/run/aigw-test");
  }
  {
    ScopedEnv own("AIGW_RUNTIME_DIR", "");
    ScopedEnv xdg("XDG_RUNTIME_DIR", "/run/user/1000");
    EXPECT_EQ(aigw::plugin::runtime_dir_path(), "/run/user/1000/aigw-" + pid);
  }
  {
    ScopedEnv own("AIGW_RUNTIME_DIR", nullptr);
    ScopedEnv xdg("XDG_RUNTIME_DIR", nullptr);
    EXPECT_EQ(aigw::plugin::runtime_dir_path(),
              "/tmp/aigw-" + std::to_string(::getuid()) + "-" + pid);
  }
}

TEST(RuntimeDir, CreatedPrivateAndRemovedWithItsCopies) {
  TempDir parent;
  const std::string dir = parent / "rt";
  ScopedEnv env("AIGW_RUNTIME_DIR", dir.c_str());
  std::string made, why;
  ASSERT_TRUE(aigw::plugin::create_runtime_dir(made, why)) << why;
  EXPECT_EQ(made, dir);
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  LoadedPlugin p;
  ASSERT_TRUE(aigw::plugin::load(fixture("good_direct"), made, p, why)) << why;
  const std::string copy = p.loaded_path;
  EXPECT_TRUE(exists(copy));

  // At exit, copies still loaded lose their names; the code stays mapped.
  aigw::plugin::remove_runtime_dir();
  EXPECT_FALSE(exists(copy));
  EXPECT_FALSE(exists(dir));
  EXPECT_TRUE(is_mapped(copy));
  EXPECT_STREQ(p.def->name, "good_direct");
  p.reset();
  EXPECT_FALSE(is_mapped(copy));
}

TEST(RuntimeDir, ExistingDirectoryIsCheckedAndKept) {
  TempDir parent;
  const std::string dir = parent / "rt";
  ScopedEnv env("AIGW_RUNTIME_DIR", dir.c_str());
  std::string made, why;

  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_TRUE(aigw::plugin::create_runtime_dir(made, why)) << why;
  aigw::plugin::remove_runtime_dir();
  EXPECT_TRUE(exists(dir));  // not ours to remove

  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  EXPECT_FALSE(aigw::plugin::create_runtime_dir(made, why));
  EXPECT_EQ(why, "runtime directory " + dir +
                     " has mode 0777: other users could replace the plugin copies in it; make it 0700");

  ASSERT_EQ(::rmdir(dir.c_str()), 0);
  std::ofstream(dir) << "file";
  EXPECT_FALSE(aigw::plugin::create_runtime_dir(made, why));
  EXPECT_EQ(why, "runtime directory " + dir + " exists but is not a directory");

  ScopedEnv missing_parent("AIGW_RUNTIME_DIR", (parent / "no/such/dir").c_str());
  EXPECT_FALSE(aigw::plugin::create_runtime_dir(made, why));
  EXPECT_NE(why.find("cannot create runtime directory " + parent.path() + "/no/such/dir: "),
            std::string::npos)
      << why;
}

// --- the example plugin through a fake host ----------------------------------------

#ifdef EXAMPLE_PLUGIN_PATH

using aigw::test::FakeConfig;
using aigw::test::FakeHost;

// What one request produced, in the shape the tests below read.
struct Outcome {
  int32_t status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<aigw_status> finished;
  std::optional<aigw_usage> usage;
  std::optional<aigw_finish_reason> reason;
};

Outcome outcome_of(const aigw::test::FakeRequest& fr) {
  Outcome o;
  o.status = fr.status;
  o.headers = fr.headers;
  o.body = fr.body();
  if (fr.finished()) o.finished = fr.finish_status;
  if (fr.usage_calls > 0) o.usage = fr.usage;
  if (fr.reason_calls > 0) o.reason = fr.reason;
  return o;
}

class ExamplePlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    ASSERT_TRUE(aigw::plugin::load(EXAMPLE_PLUGIN_PATH, rt_.path(), plugin_, why)) << why;
    hooks_ = plugin_.hooks;
  }

  // config_new with `cfg`; returns the status and fills config_/err_.
  aigw_status configure(FakeConfig& cfg) {
    err_[0] = '\0';
    aigw_errbuf err{err_, sizeof err_};
    return hooks_->config_new(host_.table(), host_.plugin(), cfg.handle(), &config_, &err);
  }

  // One request through request_new / request_start / request_destroy.
  Outcome run(aigw_endpoint endpoint, bool stream, aigw_status* new_status = nullptr) {
    aigw::test::FakeRequest fr;
    const std::string body = R"({"model":"hello-1","messages":[{"role":"user","content":"hi"}]})";
    aigw_host_bytes chunk{reinterpret_cast<const uint8_t*>(body.data()), body.size()};
    aigw_client_request client{};
    client.struct_size = sizeof client;
    client.endpoint = endpoint;
    client.stream = stream ? 1 : 0;
    client.model = {"hello-1", 7};
    client.upstream_model = {"hello-1", 7};
    client.method = {"POST", 4};
    client.path = {"/v1/chat/completions", 20};
    client.body = &chunk;
    client.body_count = 1;
    void* ctx = nullptr;
    err_[0] = '\0';
    aigw_errbuf err{err_, sizeof err_};
    aigw_status st = hooks_->request_new(instance_, fr.handle(), &client, &ctx, &err);
    if (new_status) *new_status = st;
    if (st != AIGW_OK) return outcome_of(fr);
    EXPECT_EQ(hooks_->request_start(ctx), AIGW_OK);
    hooks_->request_destroy(ctx);
    return outcome_of(fr);
  }

  void start_instance() {
    aigw_worker_info worker{sizeof(aigw_worker_info), 3, 4, 0};
    aigw_errbuf err{err_, sizeof err_};
    ASSERT_EQ(hooks_->instance_new(config_, &worker, &instance_, &err), AIGW_OK);
  }

  void TearDown() override {
    if (instance_) hooks_->instance_destroy(instance_);
    if (config_) hooks_->config_destroy(config_);
  }

  TempDir rt_;
  LoadedPlugin plugin_;
  FakeHost host_{AIGW_MODE_DIRECT};
  const aigw_hooks* hooks_ = nullptr;
  void* config_ = nullptr;
  void* instance_ = nullptr;
  char err_[256] = {};
};

TEST_F(ExamplePlugin, PassesValidation) {
  std::string why;
  EXPECT_TRUE(aigw::plugin::validate(plugin_.def, why)) << why;
  EXPECT_STREQ(plugin_.def->name, "hello");
  EXPECT_EQ(plugin_.hooks->mode, AIGW_MODE_DIRECT);
}

TEST_F(ExamplePlugin, AnswersWithConfiguredGreeting) {
  FakeConfig cfg;
  cfg.values["greeting"] = std::string("Hi \"tester\"");
  ASSERT_EQ(configure(cfg), AIGW_OK) << err_;
  start_instance();

  Outcome r = run(AIGW_ENDPOINT_CHAT_COMPLETIONS, false);
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].second, "application/json");
  EXPECT_NE(r.body.find(R"("object":"chat.completion")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("model":"hello-1")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("content":"Hi \"tester\"")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("id":"chatcmpl-hello-3-0")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("finish_reason":"stop")"), std::string::npos) << r.body;
  ASSERT_TRUE(r.finished.has_value());
  EXPECT_EQ(*r.finished, AIGW_OK);
  ASSERT_TRUE(r.usage.has_value());
  EXPECT_EQ(r.usage->completion_tokens, 2u);
  EXPECT_EQ(r.usage->total_tokens, r.usage->prompt_tokens + r.usage->completion_tokens);
  EXPECT_EQ(r.reason, AIGW_FINISH_STOP);

  // Per-worker ids count up without any sharing between workers.
  Outcome again = run(AIGW_ENDPOINT_CHAT_COMPLETIONS, false);
  EXPECT_NE(again.body.find(R"("id":"chatcmpl-hello-3-1")"), std::string::npos) << again.body;
}

TEST_F(ExamplePlugin, StreamsWordsAndEndsWithDone) {
  FakeConfig cfg;
  cfg.values["greeting"] = std::string("Hi there");
  ASSERT_EQ(configure(cfg), AIGW_OK) << err_;
  start_instance();

  Outcome r = run(AIGW_ENDPOINT_CHAT_COMPLETIONS, true);
  EXPECT_EQ(r.status, 200);
  ASSERT_FALSE(r.headers.empty());
  EXPECT_EQ(r.headers[0].second, "text/event-stream");
  EXPECT_NE(r.body.find(R"("object":"chat.completion.chunk")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("delta":{"role":"assistant","content":""})"), std::string::npos);
  const size_t first = r.body.find(R"("delta":{"content":"Hi "})");
  const size_t second = r.body.find(R"("delta":{"content":"there"})");
  ASSERT_NE(first, std::string::npos) << r.body;
  ASSERT_NE(second, std::string::npos) << r.body;
  EXPECT_LT(first, second);
  EXPECT_TRUE(r.body.starts_with("data: {"));
  const std::string done = "data: [DONE]\n\n";
  ASSERT_GE(r.body.size(), done.size());
  EXPECT_EQ(r.body.substr(r.body.size() - done.size()), done);
  EXPECT_EQ(r.finished, AIGW_OK);
  ASSERT_TRUE(r.usage.has_value());
  EXPECT_EQ(r.usage->completion_tokens, 2u);
}

TEST_F(ExamplePlugin, DefaultGreeting) {
  FakeConfig cfg;
  ASSERT_EQ(configure(cfg), AIGW_OK) << err_;
  start_instance();
  Outcome r = run(AIGW_ENDPOINT_CHAT_COMPLETIONS, false);
  EXPECT_NE(r.body.find(R"("content":"Hello from a C plugin!")"), std::string::npos) << r.body;
}

TEST_F(ExamplePlugin, RejectsBadConfiguration) {
  FakeConfig empty;
  empty.values["greeting"] = std::string();
  EXPECT_EQ(configure(empty), AIGW_ERR_CONFIG);
  EXPECT_STREQ(err_, "greeting must not be empty");

  FakeConfig wrong;
  wrong.values["greeting"] = int64_t{1};  // not a string
  EXPECT_EQ(configure(wrong), AIGW_ERR_CONFIG);
  EXPECT_STREQ(err_, "greeting must be a string");
  config_ = nullptr;
}

TEST_F(ExamplePlugin, RefusesOtherEndpoints) {
  FakeConfig cfg;
  ASSERT_EQ(configure(cfg), AIGW_OK) << err_;
  start_instance();
  aigw_status st = AIGW_OK;
  Outcome r = run(AIGW_ENDPOINT_EMBEDDINGS, false, &st);
  EXPECT_EQ(st, AIGW_ERR_UNSUPPORTED);
  EXPECT_STREQ(err_, "the hello provider only answers /v1/chat/completions");
  EXPECT_EQ(r.status, 0);
}

#else

TEST(ExamplePlugin, Built) {
  GTEST_SKIP() << "EXAMPLE_PLUGIN_PATH is not defined: examples/plugin-hello is not part of this build";
}

#endif  // EXAMPLE_PLUGIN_PATH

}  // namespace
