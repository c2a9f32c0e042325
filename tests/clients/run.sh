#!/usr/bin/env bash
# Runs sdk_test.mjs (the official `openai` npm package against a running aigw),
# or the test file of this folder named as the argument (gemini_tools_test.mjs,
# messages_sdk_test.mjs for the official `@anthropic-ai/sdk`).
#
#   AIGW_BASE_URL=http://127.0.0.1:8080/v1 AIGW_MODEL=aigw-demo tests/clients/run.sh
#   AIGW_BASE_URL=... AIGW_GEMINI_FIXTURES=tests/fixtures tests/clients/run.sh gemini_tools_test.mjs
#
# The packages pinned by package-lock.json are installed once with `npm ci`
# into ${AIGW_NODE_CACHE:-~/.cache/aigw/node}/<sha256 of package-lock.json>
# and reused after that. Exit codes: those of `node --test` (0 = all passed),
# 77 (meson's "skipped") when node/npm is missing or the registry cannot be
# reached, 1 when the install fails for any other reason.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
script=${1:-sdk_test.mjs}

skip() { echo "run.sh: SKIP: $*" >&2; exit 77; }
fail() { echo "run.sh: $*" >&2; exit 1; }
staging= work=
trap 'rm -rf ${staging:+"$staging"} ${work:+"$work"}' EXIT

command -v node >/dev/null 2>&1 || skip "node is not installed (Debian: apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || skip "npm is not installed (Debian: apt-get install npm)"
[ -n "${AIGW_BASE_URL:-}" ] || fail "AIGW_BASE_URL is not set"
case $script in
  */* | .* | *[!A-Za-z0-9_.-]* | "") fail "expected the name of a test file of tests/clients, got '$script'" ;;
esac
[ -f "$here/$script" ] || fail "no $script in $here"

node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || skip "node $(node --version) is too old (18 or newer needed)"

lock_hash=$(sha256sum "$here/package-lock.json" | cut -c1-64)
cache_root=${AIGW_NODE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/aigw/node}
prefix=$cache_root/$lock_hash

if [ ! -f "$prefix/.installed" ]; then
  mkdir -p "$cache_root"
  # Install into a private directory and rename it into place, so that runs
  # side by side never see a half-installed tree.
  staging=$(mktemp -d "$cache_root/.staging.XXXXXX")
  cp "$here/package.json" "$here/package-lock.json" "$staging/"
  echo "run.sh: npm ci into $prefix" >&2
  start=$(date +%s)
  log=$staging/npm-ci.log
  rc=0
  (cd "$staging" && timeout 150 npm ci --prefix "$staging" --no-audit --no-fund \
      --fetch-timeout=30000 --fetch-retries=2 --fetch-retry-maxtimeout=20000) >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    cat "$log" >&2
    [ "$rc" -ne 124 ] || skip "npm ci timed out after 150s: the npm registry is unreachable or too slow"
    # No network (or no registry) is an environment matter, not a test failure.
    if grep -Eq 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|ESOCKETTIMEDOUT|network|socket hang up|request to .* failed' "$log"; then
      skip "npm ci could not reach the npm registry (see above)"
    fi
    fail "npm ci failed (see above)"
  fi
  echo "run.sh: npm ci took $(( $(date +%s) - start ))s" >&2
  [ -f "$staging/node_modules/openai/package.json" ] || fail "npm ci did not install openai"
  [ -f "$staging/node_modules/@anthropic-ai/sdk/package.json" ] || fail "npm ci did not install @anthropic-ai/sdk"
  rm -f "$log"
  touch "$staging/.installed"
  if mv -T "$staging" "$prefix" 2>/dev/null; then
    staging=
  elif [ ! -f "$prefix/.installed" ]; then
    # Not another run's finished install but something stale: replace it.
    rm -rf "$prefix"
    mv -T "$staging" "$prefix" || fail "cannot move $staging to $prefix"
    staging=
  fi  # else another run got there first; ours is removed on exit
fi

# ESM ignores NODE_PATH: bare imports resolve from the importing file's
# directory upward. Run a copy of the script from a private directory holding
# a node_modules link into the cache.
work=$(mktemp -d "${TMPDIR:-/tmp}/aigw-sdk.XXXXXX")
cp "$here/$script" "$work/"
ln -s "$prefix/node_modules" "$work/node_modules"

openai_version=$(node -p "require('$prefix/node_modules/openai/package.json').version")
anthropic_version=$(node -p "require('$prefix/node_modules/@anthropic-ai/sdk/package.json').version")
echo "run.sh: $script: node $(node --version), openai $openai_version, @anthropic-ai/sdk $anthropic_version, $AIGW_BASE_URL, model ${AIGW_MODEL:-aigw-demo}" >&2
cd "$work"
node --test-reporter=spec "$script"
