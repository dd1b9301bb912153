#!/usr/bin/env bash
# The install as an outside host meets it, on the local stack:
#   1. cmake --install into a temporary prefix;
#   2. examples/embedding-host configured and built against that prefix
#      (find_package(membatch 5), CMAKE_PREFIX_PATH) and run: it finds the
#      plugin through Qt's plugin path and submits a batch, which the
#      installed membatch worker stores;
#   3. the same host refuses a plugin for other hosts, from its metadata;
#   4. the Debian packages built with CPack, unpacked with dpkg-deb -x into a
#      temporary root: membatch --version and membatch plugins run from there.
# usage: outside_host.sh BUILD_DIR SOURCE_DIR SAMPLE_FILE REFUSED_PLUGIN
# (with the stack's env sourced: MEMBATCH_*)
set -euo pipefail
BUILD=$1 SOURCE=$2 SAMPLE=$3 REFUSED=$4
. "$SOURCE/tests/cli/expect.sh"

WORK=$(mktemp -d /tmp/membatch-outside.XXXXXX)
WORKER_PID=
cleanup() {
  [[ -n $WORKER_PID ]] && kill "$WORKER_PID" 2>/dev/null && wait "$WORKER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

PREFIX=$WORK/prefix
cmake --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log"
QT_PLUGINS=$(sed -n 's/^MEMBATCH_INSTALL_PLUGINDIR:STRING=\(.*\)\/membatch$/\1/p' "$BUILD/CMakeCache.txt")
[[ -n $QT_PLUGINS ]] || { echo "FAIL: no MEMBATCH_INSTALL_PLUGINDIR in $BUILD/CMakeCache.txt" >&2; exit 1; }
[[ -f $PREFIX/$QT_PLUGINS/membatch/libmembatch-parse-temporal.so ]] || { echo "FAIL: the plugin is not installed under $QT_PLUGINS/membatch" >&2; exit 1; }
echo "PASS: installed into $PREFIX"

cmake -S "$SOURCE/examples/embedding-host" -B "$WORK/host" -G Ninja -DCMAKE_PREFIX_PATH="$PREFIX" >"$WORK/configure.log" ||
  { cat "$WORK/configure.log" >&2; exit 1; }
cmake --build "$WORK/host" >"$WORK/build.log" || { cat "$WORK/build.log" >&2; exit 1; }
echo "PASS: examples/embedding-host built against the installed package"

export LD_LIBRARY_PATH=$PREFIX/lib
# The installed worker, for the one batch.
"$PREFIX/bin/membatch" work --max-tasks 1 --concurrency 1 >"$WORK/worker.log" 2>&1 &
WORKER_PID=$!
ok=0
expect "the outside host submits through the installed plugin" 0 "batch .*: completed, [0-9]+ stored" -- \
  env QT_PLUGIN_PATH="$PREFIX/$QT_PLUGINS" "$WORK/host/embedding-host" "$SAMPLE" || ok=1
grep -q "^loaded org.membatch.parse-temporal" <<<"$LAST_OUTPUT" || { echo "FAIL: it did not say which plugin it loaded" >&2; ok=1; }
wait "$WORKER_PID" || { echo "FAIL: the installed worker failed:" >&2; cat "$WORK/worker.log" >&2; ok=1; }
WORKER_PID=

mkdir -p "$WORK/other-plugins/membatch"
cp "$REFUSED" "$WORK/other-plugins/membatch/"
expect "a plugin for other hosts is refused from its metadata" 1 "works with hosts 10\.0\.0 to 19\.0\.0; this host is [0-9]+\." -- \
  env QT_PLUGIN_PATH="$WORK/other-plugins" "$WORK/host/embedding-host" "$SAMPLE" || ok=1

(cd "$BUILD" && cpack -G DEB -B "$WORK/debs" >"$WORK/cpack.log" 2>&1) || { cat "$WORK/cpack.log" >&2; exit 1; }
for deb in "$WORK"/debs/*.deb; do
  dpkg-deb -x "$deb" "$WORK/root"
done
ls "$WORK"/debs/membatch_*.deb "$WORK"/debs/membatch-dev_*.deb >/dev/null || { echo "FAIL: missing packages" >&2; ok=1; }
export LD_LIBRARY_PATH=$WORK/root/usr/lib
expect "membatch --version from the unpacked package" 0 "^membatch 5\.[0-9]+\.[0-9]+ \(plugin API" -- "$WORK/root/usr/bin/membatch" --version || ok=1
expect "membatch plugins from the unpacked package finds its own plugin" 0 \
  "$WORK/root/usr/$QT_PLUGINS/membatch/libmembatch-parse-temporal.so" -- \
  env -u MEMBATCH_PLUGIN_PATH "$WORK/root/usr/bin/membatch" plugins || ok=1
[[ -f $WORK/root/usr/share/man/man1/membatch.1.gz && -f $WORK/root/usr/include/membatch/version.h ]] ||
  { echo "FAIL: the man page or the headers are not in the packages" >&2; ok=1; }
exit $ok
