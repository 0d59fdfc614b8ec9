#!/bin/sh
# What the apache/kafka image does on start, in short: every KAFKA_<NAME> environment variable becomes
# the broker property <name> (lower case, '_' -> '.'); the storage is formatted on first start.
set -eu
props=/tmp/server.properties
env | sed -n 's/^KAFKA_\([A-Z0-9_]*\)=\(.*\)$/\1 \2/p' | while read -r name value; do
  printf '%s=%s\n' "$(printf '%s' "$name" | tr 'A-Z_' 'a-z.')" "$value"
done >"$props"
grep -q '^log.dirs=' "$props" || echo 'log.dirs=/var/lib/kafka/data' >>"$props"
cp='/opt/kafka/libs/*'
logdir=$(sed -n 's/^log.dirs=//p' "$props" | cut -d, -f1)
if [ ! -f "$logdir/meta.properties" ]; then
  java -cp "$cp" kafka.tools.StorageTool format -t "${CLUSTER_ID:-$(java -cp "$cp" kafka.tools.StorageTool random-uuid)}" \
    -c "$props" >/dev/null
fi
exec java -Xmx512m -cp "$cp" kafka.Kafka "$props"
