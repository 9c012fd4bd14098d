#!/bin/sh
# Installs the Karta CLI from this unpacked archive: the files go to PREFIX/lib/karta-cli and a
# `karta` link to PREFIX/bin (PREFIX is ~/.local unless --prefix says otherwise). Running it again
# replaces an earlier install in place; it never overwrites a `karta` that it did not put there
# unless --force is given.
set -eu

usage() {
  cat <<'EOF'
Usage: install.sh [--prefix DIR] [--force]

Installs the Karta CLI: DIR/bin/karta (a link) and DIR/lib/karta-cli (the jar and launcher).

  --prefix DIR  where to install (default: ~/.local, so the command is ~/.local/bin/karta)
  --force       replace a DIR/bin/karta that is not a link to this CLI
  -h, --help    show this help

Needs Java 17 or newer to run (JAVA_HOME, or java on PATH); installing needs nothing but sh.
EOF
}

prefix="${HOME:-}/.local"
force=no
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix)
      [ $# -ge 2 ] && [ -n "$2" ] || { echo "install.sh: --prefix needs a folder" >&2; exit 2; }
      prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --force) force=yes; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[ -n "$prefix" ] && [ "$prefix" != "/.local" ] || { echo "install.sh: HOME is not set; pass --prefix DIR" >&2; exit 2; }

here="$(cd "$(dirname "$0")" && pwd)"
version="$(cat "$here/VERSION")"
[ -f "$here/lib/karta-cli.jar" ] && [ -f "$here/bin/karta" ] || {
  echo "install.sh: run it from the unpacked karta-cli archive (bin/ and lib/ are missing)" >&2; exit 1; }

mkdir -p "$prefix/bin" "$prefix/lib"
prefix="$(cd "$prefix" && pwd)"
dest="$prefix/lib/karta-cli"
link="$prefix/bin/karta"

if [ -e "$link" ] || [ -L "$link" ]; then
  if [ "$(readlink "$link" 2>/dev/null || true)" != "$dest/bin/karta" ] && [ "$force" != yes ]; then
    echo "install.sh: $link exists and is not this CLI's link; move it away or pass --force" >&2
    exit 1
  fi
fi

# Copy beside the old install, then swap, so that a failed copy leaves the old one working.
rm -rf "$dest.new"
mkdir -p "$dest.new"
cp -R "$here/bin" "$here/lib" "$here/VERSION" "$dest.new/"
chmod 755 "$dest.new/bin/karta"
rm -rf "$dest"
mv "$dest.new" "$dest"
ln -sfn "$dest/bin/karta" "$link"

echo "Installed karta $version: $link -> $dest/bin/karta"
case ":${PATH:-}:" in
  *":$prefix/bin:"*) ;;
  *) echo "Note: $prefix/bin is not on your PATH; add it, e.g. echo 'export PATH=\"$prefix/bin:\$PATH\"' >> ~/.profile" ;;
esac
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  :
elif ! command -v java >/dev/null 2>&1; then
  echo "Note: karta needs Java 17 or newer, and none is on PATH (nor in JAVA_HOME)"
fi
echo "Try: karta --version"
