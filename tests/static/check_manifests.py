#!/usr/bin/env python3
"""Static checks of compose/ (no Docker engine on the build machines): the YAML parses, every
published port binds 127.0.0.1 only, and the contract names of shared/DESIGN.md (buckets, topics,
credentials of the local stack, wal_level) match scripts/stack."""
import pathlib
import re
import shutil
import subprocess
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

# Kubernetes: every manifest parses; each service file holds a Deployment, Service, ConfigMap and
# ServiceAccount of the same name, non-root, read-only root, resources, probes; the kustomization lists
# every file and the overlays point at existing bases.
k8s = ROOT / "deploy/k8s"
base = yaml.safe_load((k8s / "base/kustomization.yaml").read_text())
for res in base["resources"]:
    docs = [d for d in yaml.safe_load_all((k8s / "base" / res).read_text()) if d]
    name = pathlib.Path(res).stem
    kinds = {d["kind"]: d for d in docs}
    if "Deployment" not in kinds:
        continue  # default-deny.yaml: policies only
    for kind in ("Deployment", "Service", "ConfigMap", "ServiceAccount"):
        check(kind in kinds and kinds[kind]["metadata"]["name"] == name, f"k8s {res}: {kind} {name} missing")
    dep = kinds.get("Deployment", {})
    pod = dep.get("spec", {}).get("template", {}).get("spec", {})
    check(pod.get("securityContext", {}).get("runAsNonRoot") is True, f"k8s {res}: not runAsNonRoot")
    for c in pod.get("containers", []):
        check(c.get("securityContext", {}).get("readOnlyRootFilesystem") is True, f"k8s {res}: writable root")
        check("limits" in c.get("resources", {}) and "requests" in c.get("resources", {}), f"k8s {res}: resources")
        check("readinessProbe" in c and "livenessProbe" in c, f"k8s {res}: probes")
        # gRPC health follows readiness in every service, so liveness on it would restart pods whenever
        # a dependency is down: liveness is /healthz, readiness /readyz.
        live = c.get("livenessProbe", {}).get("httpGet", {})
        check(live.get("path") == "/healthz", f"k8s {res}: liveness must be httpGet /healthz, not {c.get('livenessProbe')}")
        ready = c.get("readinessProbe", {}).get("httpGet", {})
        check(ready.get("path") == "/readyz", f"k8s {res}: readiness must be httpGet /readyz")
        for port in c.get("ports", []):
            check(isinstance(port.get("containerPort"), int), f"k8s {res}: bad port {port}")
    check(name in services, f"compose: no service {name} for k8s {res}")
for overlay in (k8s / "overlays").iterdir():
    kz = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    for res in kz["resources"]:
        path = overlay / res
        check(path.is_file() or (path / "kustomization.yaml").exists(), f"k8s overlay {overlay.name}: {res} missing")

# The infrastructure runs the same images in compose and in the local overlay (one tag to bump).
compose_images = {svc.get("image", "").rsplit(":", 1)[0]: svc.get("image", "") for svc in services.values()}
for path in sorted((k8s / "overlays/local").glob("*.yaml")):
    for doc in yaml.safe_load_all(path.read_text()):
        pod = ((doc or {}).get("spec", {}).get("template", {}) or {}).get("spec", {})
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            repo = c.get("image", "").rsplit(":", 1)[0]
            if repo in compose_images:
                check(c["image"] == compose_images[repo],
                      f"k8s {path.name}: {c['image']} but compose runs {compose_images[repo]}")

# The docs build each service's image by its Dockerfile target; every target they name exists.
dockerfile = (ROOT / "deploy/docker/Dockerfile").read_text()
targets = set(re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, re.M))
for doc in ("deploy/README.md", "README.md", "compose/README.md"):
    text = (ROOT / doc).read_text()
    check("--build-arg SERVICE" not in text, f"{doc}: the Dockerfile has no SERVICE argument (use --target)")
    for name in re.findall(r"--target (\S+)", text):
        check(name.strip("`") in targets or name[0] in "$<", f"{doc}: Dockerfile target {name} does not exist")
for name in ("order-api", "cdc-producer", "state-tracker", "s3-converter", "loader"):
    check(name in targets, f"deploy/docker/Dockerfile: no target {name}")

# Where kubectl is present (not on every build machine), kustomize must render every variant.
if shutil.which("kubectl"):
    for target in [k8s / "base"] + sorted((k8s / "overlays").iterdir()):
        r = subprocess.run(["kubectl", "kustomize", str(target)], capture_output=True, text=True)
        check(r.returncode == 0, f"kubectl kustomize {target}: {r.stderr.strip()}")
        # Where the infrastructure runs beside the services, each egress rule names its peer pods.
        if r.returncode == 0 and target.name == "local":
            for doc in yaml.safe_load_all(r.stdout):
                if doc and doc["kind"] == "NetworkPolicy" and doc["metadata"]["name"] in services:
                    for rule in doc["spec"].get("egress", []):
                        check("to" in rule, f"k8s local: NetworkPolicy {doc['metadata']['name']} opens {rule} to anyone")

if errors:
    print("\n".join(errors))
    sys.exit(1)
print(f"manifests ok: {len(services)} compose services, {len(jobs)} scrape jobs")
