#!/bin/sh
# Does the bundle work on a bare machine? (run `make bundle` first; needs Xvfb, openbox and xdotool,
# wmctrl, and root for the .deb part: apt-get install -y xvfb openbox xdotool wmctrl imagemagick bc)
#  1. unpack the tarball into an empty folder and run it with a minimal environment (env -i: no
#     Python on PATH, a fresh HOME): --self-test passes;
#  2. open the window under Xvfb with a window manager: it shows the default model's grid (the
#     self-test line), and closes cleanly when its window is closed; the time to a visible window;
#  3. install.sh puts it in the applications menu; uninstall.sh takes it out;
#  4. apt-get install ./the.deb, the same checks from /opt, apt-get remove.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARBALL=$(ls "$ROOT"/dist/gan-art-studio-*-linux-x86_64.tar.gz | tail -1)
DEBFILE=$(ls "$ROOT"/dist/gan-art-studio_*_amd64.deb | tail -1)
WORK=$(mktemp -d /tmp/studio-smoke-XXXXXX)
HOME_DIR=$WORK/home
mkdir -p "$HOME_DIR"
DISPLAY_NUM=:93
BARE="env -i HOME=$HOME_DIR PATH=/usr/bin:/bin LANG=C.UTF-8"
fail() { echo "SMOKE FAIL: $*" >&2; exit 1; }

echo "== tarball: $(basename "$TARBALL")"
tar -C "$WORK" -xzf "$TARBALL"
APPDIR=$(ls -d "$WORK"/gan-art-studio-*/gan-art-studio)
unwanted=$(find "$APPDIR" \( -name 'libcuda*' -o -name 'libcudnn*' -o -name 'libcublas*' -o -name 'golden' \
    -o -path '*/torch/test' -o -name 'pytest' -o -name '_pytest' \) | head -5)
[ -z "$unwanted" ] || fail "the bundle holds what it should not: $unwanted"
echo "bundle: $(du -sm "$APPDIR" | cut -f1) MB unpacked, no CUDA libraries, tests or test data"
$BARE sh -c 'command -v python3 || command -v python' >/dev/null 2>&1 && \
    echo "(note: this machine has a python on /usr/bin; the bundle does not use it)"
$BARE "$APPDIR/gan-art-studio" --self-test --no-window || fail "self-test (no window) in a bare environment"

Xvfb $DISPLAY_NUM -screen 0 1280x800x24 >/dev/null 2>&1 &
XVFB=$!
sleep 1
DISPLAY=$DISPLAY_NUM openbox >/dev/null 2>&1 &
WM=$!
trap 'kill $WM $XVFB 2>/dev/null || true; rm -rf "$WORK"' EXIT
sleep 1

window_test() {   # $1: the executable
    start=$(date +%s.%N)
    $BARE DISPLAY=$DISPLAY_NUM "$1" >"$WORK/window.log" 2>&1 &
    pid=$!
    shown=""
    for _ in $(seq 1 600); do
        if DISPLAY=$DISPLAY_NUM xdotool search --name "GAN Art Studio" >/dev/null 2>&1; then
            shown=$(date +%s.%N); break
        fi
        sleep 0.1
    done
    [ -n "$shown" ] || { cat "$WORK/window.log"; fail "no window appeared within 60 s"; }
    echo "window visible after $(echo "$shown - $start" | bc) s"
    opened=""
    for _ in $(seq 1 600); do                  # the title names the model once it is open
        if DISPLAY=$DISPLAY_NUM xdotool search --name "default-abstract" >/dev/null 2>&1; then opened=1; break; fi
        sleep 0.1
    done
    [ -n "$opened" ] || fail "the window did not open the default model"
    sleep 10                                   # its grid renders (the self-test checks it does)
    DISPLAY=$DISPLAY_NUM import -window root "$WORK/screen.png" 2>/dev/null && cp "$WORK/screen.png" "$ROOT/dist/smoke-window.png" || true
    # close it as a user does: the window manager's close (wmctrl), else the Quit shortcut
    DISPLAY=$DISPLAY_NUM wmctrl -c "GAN Art Studio" 2>/dev/null || \
        DISPLAY=$DISPLAY_NUM xdotool search --name "GAN Art Studio" windowactivate --sync key ctrl+q
    for _ in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    if kill -0 $pid 2>/dev/null; then kill $pid; fail "the studio did not exit when its window closed"; fi
    wait $pid || fail "the studio exited with an error status after its window closed"
    echo "closed cleanly"
}

$BARE DISPLAY=$DISPLAY_NUM "$APPDIR/gan-art-studio" --self-test || fail "self-test with the window"
window_test "$APPDIR/gan-art-studio"

echo "== install.sh / uninstall.sh"
$BARE sh "$(dirname "$APPDIR")/install.sh" >/dev/null
[ -f "$HOME_DIR/.local/share/applications/gan-art-studio.desktop" ] || fail "install.sh made no menu entry"
grep -q "^Exec=$HOME_DIR/.local/share/gan-art-studio-app/app/gan-art-studio" \
    "$HOME_DIR/.local/share/applications/gan-art-studio.desktop" || fail "the menu entry runs something else"
$BARE "$HOME_DIR/.local/bin/gan-art-studio" --self-test --no-window >/dev/null || fail "the installed command"
$BARE sh "$HOME_DIR/.local/share/gan-art-studio-app/uninstall.sh" >/dev/null
[ ! -e "$HOME_DIR/.local/share/applications/gan-art-studio.desktop" ] || fail "uninstall.sh left the menu entry"
echo "installed, found in the menu entry, uninstalled"

if [ "$(id -u)" = 0 ]; then
    echo "== .deb: $(basename "$DEBFILE")"
    apt-get install -y -qq "$DEBFILE" >/dev/null || fail "apt-get install of the .deb"
    [ -f /usr/share/applications/gan-art-studio.desktop ] || fail "the .deb installed no menu entry"
    $BARE /usr/bin/gan-art-studio --self-test || fail "self-test of the installed .deb"
    window_test /usr/bin/gan-art-studio
    apt-get remove -y -qq gan-art-studio >/dev/null || fail "apt-get remove"
    [ ! -e /opt/gan-art-studio ] || fail "apt-get remove left /opt/gan-art-studio"
    echo "installed with apt, ran, removed"
else
    echo "(not root: the .deb part is skipped)"
fi
echo "SMOKE PASSED"
