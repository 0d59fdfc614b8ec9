#!/bin/sh
# What the clickhouse/clickhouse-server image offers through its environment, in short: one user
# CLICKHOUSE_USER with CLICKHOUSE_PASSWORD, HTTP on 8123 and native on 9000, on every interface.
set -eu
d=/var/lib/clickhouse
mkdir -p "$d/data" "$d/tmp" "$d/user_files" "$d/format_schemas"
cat >/tmp/config.xml <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <listen_host>0.0.0.0</listen_host>
  <http_port>8123</http_port>
  <tcp_port>9000</tcp_port>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <user_files_path>$d/user_files/</user_files_path>
  <format_schema_path>$d/format_schemas/</format_schema_path>
  <users_config>/tmp/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
</yandex>
XML
cat >/tmp/users.xml <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users><${CLICKHOUSE_USER:-default}>
    <password>$(if [ -n "${CLICKHOUSE_PASSWORD_FILE:-}" ]; then cat "$CLICKHOUSE_PASSWORD_FILE"; else printf %s "${CLICKHOUSE_PASSWORD:-}"; fi)</password>
    <networks><ip>::/0</ip></networks>
    <profile>default</profile><quota>default</quota>
  </${CLICKHOUSE_USER:-default}></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
  </interval></default></quotas>
</yandex>
XML
exec /usr/sbin/clickhouse-server --config-file=/tmp/config.xml
