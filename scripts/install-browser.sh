#!/usr/bin/env bash
# Debian's Chromium and a CJK font for the browser tests (without the font Chinese renders as boxes).
# Never downloads a browser of its own: Playwright drives /usr/bin/chromium.
set -euo pipefail
if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "WenQuanYi Micro Hei"; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "install-browser: not root; browser tests will be skipped unless chromium and fonts-wqy-microhei are installed" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
