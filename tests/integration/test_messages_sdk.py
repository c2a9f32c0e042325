"""The official `@anthropic-ai/sdk` npm package (tests/clients/
messages_sdk_test.mjs) against the real binary's /v1/messages: translated,
to an OpenAI-dialect provider (the Python upstream of upstreams.py behind
the openai plugin), and native, to aigw-mock replaying Anthropic's
recordings behind the anthropic plugin.

Skipped (exit 77), with the reason, when node/npm is missing or the npm
registry cannot be reached. No key in aigw's log or the client's output."""

import os
import sys
import unittest
import warnings

from harness import SOURCE_ROOT, Server
from test_messages import CLIENT_KEY, PROVIDER_KEY, config
from test_messages_native import StandIn, native_provider, PROVIDER_KEY as NATIVE_KEY
from test_sdk import run_client
from upstreams import Upstream


class AnthropicNodeSDK(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = Upstream()
        cls.mock = StandIn()
        cls.server = Server(config(cls.up) + native_provider(cls.mock.port), workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.mock.stop()
        cls.up.stop()

    def test_anthropic_node_sdk(self):
        r = run_client({
            "AIGW_ROOT_URL": "http://127.0.0.1:%d" % self.server.port,
            "AIGW_BASE_URL": "http://127.0.0.1:%d/v1" % self.server.port,
            "AIGW_API_KEY": CLIENT_KEY,
            "AIGW_ANTHROPIC_FIXTURES": os.path.abspath(os.path.join(SOURCE_ROOT, "tests", "fixtures", "anthropic")),
        }, "messages_sdk_test.mjs")
        out = r.stdout.decode("utf-8", "replace")
        sys.stderr.write(out)
        if r.returncode == 77:
            reason = [l for l in out.splitlines() if "SKIP:" in l]
            raise unittest.SkipTest(reason[-1] if reason else "tests/clients/run.sh exited 77")
        if r.returncode != 0:
            self.fail("tests/clients/run.sh exited %d; aigw log tail:\n%s"
                      % (r.returncode, "\n".join(self.server.lines[-30:])))
        log = "\n".join(self.server.lines)
        for secret in (CLIENT_KEY, PROVIDER_KEY, NATIVE_KEY):
            self.assertNotIn(secret, log)
            self.assertNotIn(secret, out)


if __name__ == "__main__":
    warnings.simplefilter("ignore", ResourceWarning)
    result = unittest.main(verbosity=2, exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    sys.exit(77 if result.testsRun and len(result.skipped) == result.testsRun else 0)
