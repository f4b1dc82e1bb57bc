#!/usr/bin/env bash
# Installs every Debian package mirror-target's build, tests, fuzzers and
# benchmarks need.  Idempotent; run as root on Debian 12.
set -euo pipefail

packages=(
	build-essential cmake pkg-config git
	clang llvm lld libclang-rt-14-dev clang-format
	libbpf-dev libxdp-dev libelf-dev zlib1g-dev
	libjansson-dev libpcap-dev libcriterion-dev
	bpftool iproute2 ethtool procps kmod
	tcpdump tshark tcpreplay python3-scapy
	gnuplot-nox hyperfine
	libmicrohttpd-dev curl
	libsystemd-dev systemd groff-base
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# tshark asks whether non-root users may capture; answer for it.
	echo "wireshark-common wireshark-common/install-setuid boolean false" |
		debconf-set-selections
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all ${#packages[@]} packages present"
