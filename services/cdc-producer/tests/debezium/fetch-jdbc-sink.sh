#!/usr/bin/env bash
# Fetches the Debezium JDBC sink connector's plugin archive (io.debezium:debezium-connector-jdbc,
# classifier plugin, tar.gz) from Maven Central with mvn, once, and unpacks it into
# $RAINBOW_TOOLS/debezium-jdbc-<version>/plugins (a Kafka Connect plugin.path). Prints that directory.
# The plugin archive, not `copy-dependencies`: the latter fails on a missing hibernate-agroal.
set -euo pipefail
version=${DEBEZIUM_JDBC_VERSION:-3.6.0.Final}
RAINBOW_TOOLS=${RAINBOW_TOOLS:-$HOME/.cache/rainbow-tools}
dest=$RAINBOW_TOOLS/debezium-jdbc-$version
if [[ ! -f $dest/.done ]]; then
  command -v mvn >/dev/null || { echo "fetch-jdbc-sink: mvn not found (scripts/install-deps installs it)" >&2; exit 1; }
  rm -rf "$dest"
  mkdir -p "$dest/archive" "$dest/plugins"
  (cd "$dest" && mvn -q -B dependency:copy \
    -Dartifact="io.debezium:debezium-connector-jdbc:$version:tar.gz:plugin" \
    -DoutputDirectory="$dest/archive") >&2
  tar -xzf "$dest"/archive/*.tar.gz -C "$dest/plugins"
  rm -rf "$dest/archive"
  echo "$version" >"$dest/.done"
fi
echo "$dest/plugins"
