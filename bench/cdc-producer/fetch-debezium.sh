#!/usr/bin/env bash
# Copies Kafka Connect + the Debezium PostgreSQL connector (pom.xml next to this script) from Maven
# Central into $RAINBOW_TOOLS/debezium-<version>/libs, once (a marker holds the pom's hash). Prints the
# libs directory.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RAINBOW_TOOLS=${RAINBOW_TOOLS:-$HOME/.cache/rainbow-tools}
version=$(sed -n 's:.*<debezium.version>\(.*\)</debezium.version>.*:\1:p' "$here/pom.xml")
dest=$RAINBOW_TOOLS/debezium-$version
sum=$(sha256sum "$here/pom.xml" | cut -d' ' -f1)
if [[ ! -f $dest/.done || $(cat "$dest/.done") != "$sum" ]]; then
  command -v mvn >/dev/null || { echo "fetch-debezium: mvn not found (scripts/install-deps installs it)" >&2; exit 1; }
  rm -rf "$dest"
  mkdir -p "$dest/libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$dest/libs" >&2
  echo "$sum" >"$dest/.done"
fi
echo "$dest/libs"
