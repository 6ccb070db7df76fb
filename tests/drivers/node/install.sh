#!/bin/sh
# driver_node_setup: installs node-postgres, at the versions of package-lock.json, into the
# build tree (from the npm registry; nothing is installed into the source tree). Skips the
# install when the same lock file is already installed there.
#
#   install.sh NPM SOURCE_DIR TARGET_DIR
set -eu
npm=$1
src=$2
dest=$3
mkdir -p "$dest"
if [ -f "$dest/node_modules/pg/package.json" ] &&
    cmp -s "$src/package.json" "$dest/package.json" &&
    cmp -s "$src/package-lock.json" "$dest/package-lock.json"; then
    echo "node-postgres $(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$dest/node_modules/pg/package.json") is installed in $dest"
    exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dest/"
cd "$dest"
"$npm" ci --no-audit --no-fund
echo "node-postgres $(sed -n 's/^  "version": "\(.*\)",$/\1/p' node_modules/pg/package.json) installed in $dest"
