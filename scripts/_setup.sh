# Shared set-up for scripts/demo.sh and scripts/test.sh (sourced, not run).
# Installs the Debian compilers the demo and the tests build their own C sources with, and a
# virtual environment with the locked Python dependencies. Re-running it is cheap.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need=()
tools="gcc:gcc clang:clang x86_64-w64-mingw32-gcc:gcc-mingw-w64-x86-64 strip:binutils"
# The HTML report test opens the report in a real headless browser (Debian's chromium).
[ -z "${ATTRIBUTOR_NEED_BROWSER:-}" ] || tools="$tools chromium:chromium"
for tool in $tools; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool##*:}")
done
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "installing Debian packages: ${need[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

VENV="${ATTRIBUTOR_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install -q -r requirements.lock
"$VENV/bin/python" -m pip install -q --no-deps -e .
export PATH="$PWD/$VENV/bin:$PATH"
