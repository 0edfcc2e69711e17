#!/usr/bin/env bash
# Installs the Debian packages that hold the real data the demo and the tests use, when they are
# missing and this machine can install them (root with apt-get). Elsewhere it says what to do and
# goes on: the loaders then explain where they looked.
set -u
want=()
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || want+=(dataset-fashion-mnist)
[ -d /usr/share/games/fortunes ] || want+=(fortunes)
[ -e /usr/share/games/fortunes/tang300.u8 ] || want+=(fortunes-zh)
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${want[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${want[@]}" >/dev/null 2>&1; } \
    || echo "install-data: could not install ${want[*]}; see README (ZEROGRAD_DATA, ZEROGRAD_ALLOW_DOWNLOAD)" >&2
else
  echo "install-data: missing ${want[*]}; install them with apt-get, or see README (ZEROGRAD_DATA, ZEROGRAD_ALLOW_DOWNLOAD)" >&2
fi
exit 0
