#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing (lab hypervisors, libvirt for lab VM hosts and
# gcc/binutils for their bare-metal test VM, sshd, browser).
# Runs as root on CI and lab machines; elsewhere it only reports what is missing.
set -euo pipefail
packages=(qemu-system-x86 busybox-static lvm2 thin-provisioning-tools openssh-server openssh-client kmod cpio chromium
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients gcc binutils)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if ((${#missing[@]} == 0)); then exit 0; fi
if [[ $(id -u) -ne 0 ]]; then
  echo "missing Debian packages: ${missing[*]} (run as root or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
