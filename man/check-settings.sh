#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# check-settings.sh MIRROR-TARGETD PAGE: mirror-target.conf(5) documents
# every setting `mirror-targetd --dump-config` prints, under its section.
set -eu
daemon=$1
page=$2
missing=0
keys=$(ASAN_OPTIONS=detect_leaks=0 "$daemon" --dump-config |
	sed -n 's/^\(# \)\{0,1\}\([a-z_][a-z_0-9]*\) *=.*/\2/p')
[ -n "$keys" ] || { echo "check-settings.sh: FAIL: no settings from $daemon --dump-config" >&2; exit 1; }
n=0
for k in $keys; do
	n=$((n + 1))
	esc=$(printf '%s' "$k" | sed 's/-/\\\\-/g')
	grep -qF "\\fB$esc\\fR" "$page" || {
		echo "check-settings.sh: FAIL: $page does not document '$k'" >&2
		missing=1
	}
done
[ "$missing" = 0 ] && echo "check-settings.sh: $page documents all $n settings"
exit $missing
