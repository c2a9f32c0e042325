"""The command line: version, check-config, argument errors."""

import os
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
