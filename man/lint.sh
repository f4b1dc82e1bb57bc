#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# lint.sh PAGE...: every page renders with groff without a warning, and
# man(1) shows its NAME section.  Exit 77 (skip) without groff.
command -v groff >/dev/null 2>&1 || { echo "lint.sh: SKIP: groff is not installed (apt install groff-base)" >&2; exit 77; }
rc=0
for page in "$@"; do
	[ -s "$page" ] || { echo "lint.sh: FAIL: $page is missing or empty" >&2; rc=1; continue; }
	warn=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	if [ -n "$warn" ]; then
		printf 'lint.sh: FAIL: %s:\n%s\n' "$page" "$warn" >&2
		rc=1
	fi
	name=$(groff -man -Tutf8 -P-cbou "$page" 2>/dev/null | sed -n '/^NAME/{n;p;q}')
	case $name in
	*" - "* | *" ‐ "* | *" − "*) ;;
	*)
		echo "lint.sh: FAIL: $page: no 'NAME' line of the form 'name - what'" >&2
		rc=1
		;;
	esac
	echo "lint.sh: $page: ok"
done
exit $rc
