#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The .deb, as an installer would see it: cpack builds it from the build
# tree; it holds the programs in /usr/sbin, the unit in
# /usr/lib/systemd/system (ExecStart naming /usr/sbin and /etc), sysusers
# and tmpfiles in /usr/lib, the default config in /etc (a conffile), the
# examples and the three man pages; its postinst creates the user and the
# segment directory; its Depends name the package of every library the
# programs link directly; and the packaged daemon runs.
#
# Needs cpack, dpkg-deb and objdump; otherwise exits 77.  Nothing is
# installed on this machine.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mt_require_cmd cpack dpkg-deb dpkg objdump ldd
[ -f "$MT_BUILD_DIR/CPackConfig.cmake" ] ||
	fail "$MT_BUILD_DIR/CPackConfig.cmake missing: configure the build first"
mt_bin mirror-targetd >/dev/null
mt_bin mirrorctl >/dev/null

mt_expect_rc 0 cpack cpack --config "$MT_BUILD_DIR/CPackConfig.cmake" \
	-B "$MT_TMP/pkg"
DEB=$(find "$MT_TMP/pkg" -maxdepth 1 -name 'mirror-target_*.deb' | head -n1)
[ -n "$DEB" ] || fail "cpack made no mirror-target_*.deb (see $MT_TMP/cpack.out)"
log "built $(basename "$DEB")"

# ---- layout ------------------------------------------------------------------

dpkg-deb -c "$DEB" | awk '{ print $1, $2, $NF }' | sed 's# \./# /#' >"$MT_TMP/files"
has() {
	grep -Eq "^$1 [^ ]+ $2\$" "$MT_TMP/files" ||
		{ sed 's/^/    /' "$MT_TMP/files" >&2; fail "the .deb has no $2 ($1)"; }
}
has '-rwxr-xr-x' /usr/sbin/mirror-targetd
has '-rwxr-xr-x' /usr/sbin/mirrorctl
has '-rw-r--r--' /usr/lib/systemd/system/mirror-targetd.service
has '-rw-r--r--' /usr/lib/sysusers.d/mirror-target.conf
has '-rw-r--r--' /usr/lib/tmpfiles.d/mirror-target.conf
has '-rw-r--r--' /etc/mirror-target/mirror-target.conf
has '-rw-r--r--' /usr/share/doc/mirror-target/examples/mirror-target.conf.example
has '-rw-r--r--' /usr/share/doc/mirror-target/examples/mirror-target.rules.example
has '-rw-r--r--' /usr/share/man/man8/mirror-targetd.8
has '-rw-r--r--' /usr/share/man/man8/mirrorctl.8
has '-rw-r--r--' /usr/share/man/man5/mirror-target.conf.5
grep -Ev ' /(usr|etc)(/|$)' "$MT_TMP/files" | grep -v ' /$' && fail "files outside /usr and /etc"
log "layout: /usr/sbin, unit, sysusers, tmpfiles, /etc config, examples, man pages"

ROOT=$MT_TMP/root
dpkg-deb -x "$DEB" "$ROOT"
mt_assert_grep "$ROOT/usr/lib/systemd/system/mirror-targetd.service" \
	'^ExecStart=/usr/sbin/mirror-targetd --config /etc/mirror-target/mirror-target.conf$' \
	"packaged unit's ExecStart"
cmp -s "$ROOT/etc/mirror-target/mirror-target.conf" \
	"$MT_SOURCE_DIR/systemd/mirror-target.conf.example" ||
	fail "/etc/mirror-target/mirror-target.conf is not the example config"
mt_expect_rc 0 version "$ROOT/usr/sbin/mirror-targetd" --version
mt_expect_rc 0 check "$ROOT/usr/sbin/mirrorctl" check-config \
	"$ROOT/etc/mirror-target/mirror-target.conf"
mt_expect_rc 0 rules "$ROOT/usr/sbin/mirrorctl" check-rules --quiet \
	"$ROOT/usr/share/doc/mirror-target/examples/mirror-target.rules.example"

# ---- control: conffiles, maintainer scripts, dependencies -----------------

dpkg-deb -e "$DEB" "$MT_TMP/control"
mt_assert_grep "$MT_TMP/control/conffiles" '^/etc/mirror-target/mirror-target.conf$' conffiles
mt_assert_grep "$MT_TMP/control/postinst" 'systemd-sysusers' postinst
mt_assert_grep "$MT_TMP/control/postinst" 'systemd-tmpfiles --create' postinst
for s in postinst prerm postrm; do
	sh -n "$MT_TMP/control/$s" || fail "$s is not valid sh"
	[ -x "$MT_TMP/control/$s" ] || fail "$s is not executable"
done

DEPENDS=$(dpkg-deb -f "$DEB" Depends)
log "Depends: $DEPENDS"
# Every library a program links directly comes from a package in Depends.
for prog in mirror-targetd mirrorctl; do
	bin=$ROOT/usr/sbin/$prog
	for lib in $(objdump -p "$bin" | awk '$1 == "NEEDED" { print $2 }'); do
		path=$(ldd "$bin" | awk -v l="$lib" '$1 == l { print $3 }')
		[ -n "$path" ] || fail "$prog: $lib not found by ldd"
		pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n1 | cut -d: -f1) ||
			true
		[ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1) || true
		[ -n "$pkg" ] || fail "$prog: no package owns $path ($lib)"
		grep -Eq "(^|, )$pkg( |,|$)" <<<"$DEPENDS" ||
			fail "$prog links $lib from package $pkg, which Depends does not name"
	done
done
log "Depends covers every library the programs link"
log "PASS"
