"""`meson install` into a DESTDIR, and the installed tree used the way an
operator and a plugin author use it: the installed aigw serves the demo
model and finds its plugins beside itself (not in the build tree), `aigw
version` names the plugin ABI range, the example plugin builds out of tree
against the installed header through pkg-config and loads into the
installed aigw, and installing again keeps an edited aigw.toml."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import Server, main, request, roundtrip

BUILD_ROOT = os.environ.get("AIGW_BUILD_ROOT", "build")
# meson's directory options of this build, relative to the prefix or absolute.
PREFIX = os.environ.get("AIGW_PREFIX", "/usr/local")
DIRS = {k: os.environ.get("AIGW_" + k.upper() + "DIR", v) for k, v in
        (("bin", "bin"), ("lib", "lib"), ("include", "include"), ("data", "share"), ("sysconf", "etc"))}
BUNDLED = ("local", "openai", "gemini", "anthropic")


def chat(model):
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hello?"}]}).encode()
    return request("POST", "/v1/chat/completions", {"Content-Type": "application/json"}, body)


class Installed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.meson = shutil.which("meson")
        if not cls.meson:
            raise unittest.SkipTest("meson is not on PATH")
        cls.tmp = tempfile.TemporaryDirectory(prefix="aigw-install-")
        cls.destdir = os.path.join(cls.tmp.name, "dest")
        cls.install()

        def under(option):
            d = DIRS[option]
            return os.path.join(cls.destdir, os.path.relpath(os.path.join(PREFIX, d), "/"))
        cls.root = os.path.join(cls.destdir, os.path.relpath(PREFIX, "/"))
        cls.aigw = os.path.join(under("bin"), "aigw")
        cls.plugin_dir = os.path.join(under("lib"), "aigw", "plugins")
        cls.pkgconfig_dir = os.path.join(under("lib"), "pkgconfig")
        cls.include_dir = os.path.join(under("include"), "aigw")
        cls.doc_dir = os.path.join(under("data"), "doc", "aigw")
        cls.config_dir = os.path.join(under("sysconf"), "aigw")

    @classmethod
    def install(cls):
        r = subprocess.run([cls.meson, "install", "-C", BUILD_ROOT, "--no-rebuild", "--destdir", cls.destdir],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("meson install failed:\n" + r.stdout[-3000:] + r.stderr[-3000:])
        return r

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_aigw(self, *args):
        return subprocess.run([self.aigw, *args], capture_output=True, text=True, timeout=60,
                              env={k: v for k, v in os.environ.items() if k != "AIGW_PLUGIN_PATH"})

    def config(self, text):
        path = os.path.join(self.tmp.name, "test-%d.toml" % len(os.listdir(self.tmp.name)))
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_layout(self):
        self.assertTrue(os.access(self.aigw, os.X_OK), self.aigw)
        for name in BUNDLED:
            self.assertTrue(os.path.isfile(os.path.join(self.plugin_dir, "libaigw_%s.so" % name)), name)
        for header in ("aigw_plugin.h", "aigw_plugin.hpp"):
            self.assertTrue(os.path.isfile(os.path.join(self.include_dir, header)), header)
        self.assertTrue(os.path.isfile(os.path.join(self.pkgconfig_dir, "aigw-plugin.pc")))
        for doc in ("README.md", "docs/plugins.md", "docs/operations.md", "deploy/systemd/aigw.service",
                    "examples/plugin-hello/hello.c"):
            self.assertTrue(os.path.isfile(os.path.join(self.doc_dir, doc)), doc)
        for conf in ("aigw.toml", "aigw.toml.example"):
            self.assertTrue(os.path.isfile(os.path.join(self.config_dir, conf)), conf)

    def test_version_names_the_abi_range(self):
        r = self.run_aigw("version")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.include_dir, "aigw_plugin.h")) as f:
            header = f.read()
        major = header.split("#define AIGW_ABI_MAJOR ")[1].split()[0]
        minor = header.split("#define AIGW_ABI_MINOR ")[1].split()[0]
        self.assertIn("plugin ABI %s.0 - %s.%s" % (major, major, minor), r.stdout)

    def test_finds_the_plugins_beside_itself(self):
        # The build tree's plugins are on the binary's search path too; the
        # installed ones, found from /proc/self/exe, come first.
        path = self.config('[[plugin]]\nname = "nothere"\n[[provider]]\nname = "demo"\nplugin = "local"\nmodels = ["aigw-demo"]\n'
                           'mode = "demo"\n[[provider]]\nname = "gone"\nplugin = "nothere"\n'
                           'models = ["m"]\n')
        r = self.run_aigw("plugins", "-c", path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)  # nothere fails
        local = [l for l in r.stdout.splitlines() if l.startswith("local ")]
        self.assertEqual(len(local), 1, r.stdout)
        self.assertIn(" ok ", local[0])
        self.assertTrue(local[0].endswith(os.path.join(self.plugin_dir, "local", "libaigw_local.so")) or
                        local[0].endswith(os.path.join(self.plugin_dir, "libaigw_local.so")), local[0])
        # A missing one names every place tried, the one beside the binary first.
        missing = [l for l in r.stdout.splitlines() if l.startswith("nothere ")]
        self.assertEqual(len(missing), 1, r.stdout)
        self.assertIn("looked for " + os.path.join(self.plugin_dir, "nothere", "libaigw_nothere.so"), missing[0])

    def test_example_config_is_valid(self):
        r = self.run_aigw("check-config", "-c", os.path.join(self.config_dir, "aigw.toml"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def build_hello(self):
        """examples/plugin-hello built as its README says, with nothing from
        the tree: the installed copy, the installed header, pkg-config."""
        cc = shutil.which("cc")
        pkg_config = shutil.which("pkg-config")
        if not cc or not pkg_config:
            self.skipTest("cc or pkg-config is not installed")
        env = dict(os.environ, PKG_CONFIG_PATH=self.pkgconfig_dir)
        # The .pc says prefix=<the real prefix>; the files are under DESTDIR.
        r = subprocess.run([pkg_config, "--define-variable=prefix=" + self.root, "--cflags", "aigw-plugin"],
                           capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        cflags = r.stdout.split()
        self.assertEqual(cflags, ["-I" + self.include_dir])
        out = os.path.join(self.tmp.name, "libaigw_hello.so")
        src = os.path.join(self.doc_dir, "examples", "plugin-hello", "hello.c")
        r = subprocess.run([cc, "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", *cflags, "-shared",
                            "-fPIC", "-fvisibility=hidden", src, "-o", out],
                           capture_output=True, text=True, timeout=120, cwd=self.tmp.name)
        self.assertEqual(r.returncode, 0, r.stderr)
        return out

    def test_serves_demo_and_an_out_of_tree_plugin(self):
        hello = self.build_hello()
        config = ('[[plugin]]\nname = "hello"\npath = "%s"\n'
                  '[[provider]]\nname = "hello"\nplugin = "hello"\nmodels = ["hello-1"]\ngreeting = "Hi there"\n'
                  '[[provider]]\nname = "demo"\nplugin = "local"\nmodels = ["aigw-demo"]\nmode = "demo"\n'
                  % hello)
        env = {k: v for k, v in os.environ.items() if k != "AIGW_PLUGIN_PATH"}
        server = Server(config, binary=self.aigw, env=env)
        try:
            resp = roundtrip(server, chat("aigw-demo"))
            self.assertEqual(resp.status, 200, resp.body)
            self.assertIn("hello?", resp.json()["choices"][0]["message"]["content"])
            resp = roundtrip(server, chat("hello-1"))
            self.assertEqual(resp.status, 200, resp.body)
            self.assertEqual(resp.json()["choices"][0]["message"]["content"], "Hi there")
        finally:
            server.stop()

    def test_zz_install_again_keeps_the_operators_config(self):
        # Named to run last: it installs over the tree the others use.
        conf = os.path.join(self.config_dir, "aigw.toml")
        with open(conf, "a") as f:
            f.write("\n# edited by the operator\n")
        self.install()
        with open(conf) as f:
            self.assertIn("# edited by the operator", f.read())
        with open(os.path.join(self.config_dir, "aigw.toml.example")) as f:
            self.assertNotIn("# edited by the operator", f.read())


if __name__ == "__main__":
    main()
