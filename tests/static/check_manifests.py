#!/usr/bin/env python3
"""Static checks of compose/ (no Docker engine on the build machines): the YAML parses, every
published port binds 127.0.0.1 only, and the contract names of shared/DESIGN.md (buckets, topics,
credentials of the local stack, wal_level) match scripts/stack."""
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)


compose = yaml.safe_load((ROOT / "compose/docker-compose.yml").read_text())
services = compose.get("services", {})
for name in ("postgres", "redis", "kafka", "minio", "prometheus"):
    check(name in services, f"compose: service {name} missing")
for name, svc in services.items():
    for port in svc.get("ports", []):
        check(str(port).startswith("127.0.0.1:"), f"compose: {name} publishes {port} beyond loopback")

pg_cmd = " ".join(services["postgres"]["command"])
check("wal_level=logical" in pg_cmd, "compose: postgres without wal_level=logical")
minio_env = services["minio"]["environment"]
check(minio_env.get("MINIO_NOTIFY_KAFKA_TOPIC_PRIMARY") == "files.events", "compose: MinIO notify topic")
setup = " ".join(services["minio-setup"]["command"])
for bucket in ("raw", "converted", "lake"):
    check(f"local/{bucket}" in setup, f"compose: bucket {bucket} not created")
check("arn:minio:sqs::PRIMARY:kafka" in setup, "compose: raw not subscribed to the Kafka target")

stack = (ROOT / "scripts/stack").read_text()
check(re.search(r"BUCKETS=\(raw converted lake\)", stack), "scripts/stack: buckets differ from the contract")
check(re.search(r"TOPICS=\(files.events files.state\)", stack), "scripts/stack: topics differ from the contract")

prom = yaml.safe_load((ROOT / "compose/prometheus.yml").read_text())
jobs = {job["job_name"] for job in prom["scrape_configs"]}
for job in ("order-api", "cdc-producer", "state-tracker", "s3-converter", "loader"):
    check(job in jobs, f"compose/prometheus.yml: no scrape job for {job}")

if errors:
    print("\n".join(errors))
    sys.exit(1)
print(f"manifests ok: {len(services)} compose services, {len(jobs)} scrape jobs")
