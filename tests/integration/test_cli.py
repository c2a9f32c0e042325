"""The command line: version, check-config, argument errors."""

import os
import re
import subprocess
import tempfile
import unittest

from harness import AIGW, SOURCE_ROOT, main


def run(*args):
    return subprocess.run([AIGW, *args], capture_output=True, text=True, timeout=30)


class Cli(unittest.TestCase):
    def test_version(self):
        r = run("version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^aigw \d+\.\d+\.\d+")
        self.assertIn("build:", r.stdout)

    def test_example_config_is_valid(self):
        path = os.path.join(SOURCE_ROOT, "examples", "aigw.toml")
        r = run("check-config", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("OK", r.stdout)

    def test_readme_provider_examples_are_valid(self):
        # Each TOML block of README.md that declares a provider is what a
        # newcomer pastes: it must pass check-config as written, with the
        # keys it names from the environment. check-config resolves every
        # base_url's host and tests have no network, so the host becomes
        # 127.0.0.1 (scheme, port and path stay as written).
        with open(os.path.join(SOURCE_ROOT, "README.md")) as f:
            blocks = f.read().split("```toml\n")[1:]
        examples = [b.split("```", 1)[0] for b in blocks if "[[provider]]" in b]
        self.assertGreaterEqual(len(examples), 2)
        env = dict(os.environ)
        for text in examples:
            for name in re.findall(r'"env:([A-Za-z_][A-Za-z0-9_]*)"', text):
                env[name] = "readme-" + name.lower()
        for text in examples:
            path = self.write_config(re.sub(r'(base_url = "https?://)[^/:"]+', r"\g<1>127.0.0.1", text))
            r = subprocess.run([AIGW, "check-config", "-c", path], capture_output=True, text=True,
                               timeout=30, env=env)
            self.assertEqual(r.returncode, 0, text + r.stderr)

    def test_bad_config_names_file_line_column_key(self):
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write('[server]\nworkers = "two"\nlisten = "127.0.0.1:8080"\nwrokers = 1\n')
        try:
            r = run("check-config", "-c", f.name)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f.name + ":2:", r.stderr)
            self.assertIn("server.workers", r.stderr)
            self.assertIn(f.name + ":4:", r.stderr)
            self.assertIn("server.wrokers", r.stderr)
            # serve refuses the same file without starting
            r = run("serve", "-c", f.name)
            self.assertEqual(r.returncode, 1)
        finally:
            os.unlink(f.name)

    def write_config(self, text):
        f = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
        with f:
            f.write(text)
        self.addCleanup(os.unlink, f.name)
        return f.name

    # One host-level error (provider[1].weight) and a typo in the plugin's
    # keys of two providers, each of another plugin.
    MIXED = """\
[[plugin]]
name = "openai"

[[provider]]
name = "up"
plugin = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key = "sk-test-key"
models = ["gpt"]
include_usgae = false

[[provider]]
name = "demo"
plugin = "local"
models = ["demo"]
weight = -1
chunk_wrods = 2
"""

    def test_check_config_reports_host_and_plugin_problems_in_one_run(self):
        path = self.write_config(self.MIXED)
        r = run("check-config", "-c", path)
        self.assertEqual(r.returncode, 1, r.stderr)
        want = [
            path + ':10:1: provider[0].include_usgae: unknown key for plugin "openai" '
            '(did you mean "provider[0].include_usage"?)',
            path + ":16:10: provider[1].weight: must be between 0 and 1000000, got -1",
            path + ':17:1: provider[1].chunk_wrods: unknown key for plugin "local" '
            '(did you mean "provider[1].chunk_words"?)',
            path + ": 3 errors",
        ]
        self.assertEqual(r.stderr.splitlines(), want)
        # serve refuses it with the same problems, before starting
        r = run("serve", "-c", path)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.splitlines(), want[:-1])

    def test_check_config_suggests_for_a_plugin_that_rejected_the_provider(self):
        # The plugin stops at the missing key, so only the near miss of a key
        # it asked for is reported as unknown, not every key it did not reach.
        path = self.write_config(
            '[[plugin]]\nname = "openai"\n[[provider]]\nname = "up"\nplugin = "openai"\n'
            'base_url = "http://127.0.0.1:9/v1"\nmodels = ["gpt"]\napi_kye = "sk-test-key"\n'
            '[server]\nworkers = "two"\n')
        r = run("check-config", "-c", path)
        self.assertEqual(r.returncode, 1, r.stderr)
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 4, r.stderr)
        self.assertTrue(lines[0].startswith(
            path + ':3:1: provider[0].plugin: plugin "openai" rejected the provider: api_keys '
            'is required'), r.stderr)
        self.assertEqual(lines[1], path + ':8:1: provider[0].api_kye: unknown key for plugin '
                         '"openai" (did you mean "provider[0].api_key"?)')
        self.assertEqual(lines[2], path + ":10:11: server.workers: expected an integer, got a "
                         "string")
        self.assertEqual(lines[3], path + ": 3 errors")

    def test_a_provider_without_a_usable_plugin_is_skipped(self):
        path = self.write_config(
            '[[provider]]\nname = "a"\nplugin = "nope"\nmodels = ["m"]\nwhatever = 1\n')
        r = run("check-config", "-c", path)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.splitlines(), [
            path + ':3:10: provider[0].plugin: no [[plugin]] named "nope" is declared (the bundled plugins '
            'local, openai, gemini and anthropic load by name; another plugin needs a [[plugin]] table with its name and '
            'path)',
            path + ": 1 error",
        ])

    def test_missing_config_file(self):
        r = run("check-config", "-c", "/nonexistent/aigw.toml")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/aigw.toml", r.stderr)

    def test_usage_errors(self):
        self.assertEqual(run("frobnicate").returncode, 2)
        self.assertEqual(run("serve", "--bogus").returncode, 2)
        self.assertEqual(run("check-config").returncode, 2)
        r = run("help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage:", r.stdout)
        for flag in ("-h", "--help"):
            r = run(flag)
            self.assertEqual(r.returncode, 0, flag)
            self.assertEqual(r.stdout, run("help").stdout, flag)

    def test_version_flags(self):
        want = run("version").stdout
        for flag in ("-V", "--version"):
            r = run(flag)
            self.assertEqual(r.returncode, 0, flag + ": " + r.stderr)
            self.assertEqual(r.stdout, want, flag)

    def test_address_in_use_is_one_clear_error(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write('[server]\nlisten = "127.0.0.1:%d"\nworkers = 1\n' % port)
        try:
            r = run("serve", "-c", f.name)
            self.assertEqual(r.returncode, 1)
            self.assertIn("cannot listen on 127.0.0.1:%d" % port, r.stderr)
        finally:
            os.unlink(f.name)
            s.close()


if __name__ == "__main__":
    main()
