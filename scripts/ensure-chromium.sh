#!/usr/bin/env bash
# Make sure Debian's chromium is installed for the browser tests (needs root, as on CI).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-chromium: /usr/bin/chromium missing and not root; browser tests will not run" >&2
  exit 0
fi
echo "ensure-chromium: installing chromium (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
