#!/usr/bin/env bash
# Debian packages the tests drive: Chromium and a CJK font for the browser tests (without the font
# Chinese renders as boxes), nginx for the sticky-session proxy test (deploy/nginx-assistant.conf).
# Never downloads a browser of its own: Playwright drives /usr/bin/chromium.
set -euo pipefail
if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "WenQuanYi Micro Hei" && command -v nginx >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "install-browser: not root; browser and proxy tests will be skipped unless chromium, fonts-wqy-microhei and nginx-light are installed" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-wqy-microhei nginx-light >/dev/null
