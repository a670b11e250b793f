#!/usr/bin/env bash
# Headless Chromium for the UI's end-to-end test. Idempotent: does nothing when it is there.
# Playwright never downloads a browser here: frontend/e2e drives Debian's chromium through
# playwright-core (a devDependency of frontend/).
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core
fi
/usr/bin/chromium --version

# playwright-core comes with the frontend's dev dependencies.
cd "$(dirname "$0")/../frontend"
if [ ! -d node_modules/playwright-core ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
