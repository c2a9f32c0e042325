"""The official `openai` npm package (tests/clients/anthropic_tools_test.mjs)
through the real binary's anthropic plugin to aigw-mock standing in for the
Messages API (the recordings and the handwritten exchanges of
test_anthropic.py): a thinking tool loop whose second turn is answered only
if the thinking block came back through the tool-call id, a streamed tool
call, a streamed thinking answer with usage, cache tokens, 529 overloaded,
and a stream cut after content.

Skipped (exit 77), with the reason, when node/npm is missing or the npm
registry cannot be reached. No key in aigw's log or the client's output."""

import os
import sys
import unittest
import warnings

from harness import SOURCE_ROOT
from test_anthropic import ALL_KEYS, start_stand_in
from test_sdk import run_client


class OpenAINodeSDKThroughAnthropic(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.mock, cls.server = start_stand_in(workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.mock.stop()
        cls.tmp.cleanup()

    def test_openai_node_sdk(self):
        r = run_client({
            "AIGW_BASE_URL": "http://127.0.0.1:%d/v1" % self.server.port,
            "AIGW_ANTHROPIC_FIXTURES": os.path.abspath(os.path.join(SOURCE_ROOT, "tests", "fixtures", "anthropic")),
        }, "anthropic_tools_test.mjs")
        out = r.stdout.decode("utf-8", "replace")
        sys.stderr.write(out)
        if r.returncode == 77:
            reason = [l for l in out.splitlines() if "SKIP:" in l]
            raise unittest.SkipTest(reason[-1] if reason else "tests/clients/run.sh exited 77")
        if r.returncode != 0:
            self.fail("anthropic_tools_test.mjs exited %d; aigw log tail:\n%s"
                      % (r.returncode, "\n".join(self.server.lines[-30:])))
        # Every test ran (node --test's spec summary): none skipped.
        self.assertRegex(out, r"(?m)^\S* ?pass 6$")
        self.assertRegex(out, r"(?m)^\S* ?skipped 0$")
        log = "\n".join(self.server.lines)
        for k in ALL_KEYS:
            self.assertNotIn(k, out)
            self.assertNotIn(k, log)


if __name__ == "__main__":
    warnings.simplefilter("ignore", ResourceWarning)
    result = unittest.main(verbosity=2, exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    # Skipped (no node/npm, no registry): meson's skip code.
    sys.exit(77 if result.testsRun and len(result.skipped) == result.testsRun else 0)
