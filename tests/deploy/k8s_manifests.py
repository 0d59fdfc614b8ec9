#!/usr/bin/env python3
"""Helpers of scripts/k8s-check, on rendered (kustomize) manifests.

  k8s_manifests.py schemas SWAGGER DIR   JSON schemas for kubeconform from the API server's OpenAPI v2
                                         document: one standalone, strict file per kind
                                         (<kind>-<group>-<version>.json, additionalProperties false)
  k8s_manifests.py pods < RENDERED       a Pod for each workload's pod template (Deployment, StatefulSet,
                                         Job), so that Pod Security admission evaluates it as a Pod
  k8s_manifests.py kinds KIND < RENDERED only the objects of that kind
  k8s_manifests.py configmap-keys NAME < RENDERED   the data keys of ConfigMap NAME, sorted
"""
import json
import pathlib
import sys

import yaml

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def resolve(node, defs, seen=()):
    """Inlines every $ref (kubeconform reads one file per kind) and closes every object."""
    if isinstance(node, list):
        return [resolve(n, defs, seen) for n in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("$ref"), str):
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:  # recursive types (JSONSchemaProps): accept anything below
            return {}
        return resolve(defs[name], defs, seen + (name,))
    if node.get("format") == "int-or-string":
        return {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    out = {k: resolve(v, defs, seen) for k, v in node.items() if k != "x-kubernetes-group-version-kind"}
    if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def schemas(swagger, outdir):
    defs = json.loads(pathlib.Path(swagger).read_text())["definitions"]
    defs[INT_OR_STRING] = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    defs[QUANTITY] = {"oneOf": [{"type": "string"}, {"type": "number"}]}
    out = pathlib.Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, d in defs.items():
        for gvk in d.get("x-kubernetes-group-version-kind", []):
            group = gvk["group"].split(".")[0]
            kind, version = gvk["kind"].lower(), gvk["version"].lower()
            fname = f"{kind}-{group}-{version}.json" if group else f"{kind}-{version}.json"
            schema = resolve(d, defs, (name,))
            schema["$schema"] = "http://json-schema.org/schema#"
            (out / fname).write_text(json.dumps(schema))
            count += 1
    print(f"{count} schemas in {out}")


def docs():
    return [d for d in yaml.safe_load_all(sys.stdin) if d]


def pods():
    out = []
    for d in docs():
        kind = d["kind"]
        if kind not in ("Deployment", "StatefulSet", "Job", "DaemonSet"):
            continue
        tpl = d["spec"]["template"]
        spec = dict(tpl["spec"])
        # A StatefulSet's controller adds its claim templates as volumes; do the same here.
        claims = [{"name": c["metadata"]["name"],
                   "persistentVolumeClaim": {"claimName": f"{c['metadata']['name']}-{d['metadata']['name']}-0"}}
                  for c in d["spec"].get("volumeClaimTemplates", [])]
        if claims:
            spec["volumes"] = spec.get("volumes", []) + claims
        meta = {"name": f"{kind.lower()}-{d['metadata']['name']}", "labels": tpl.get("metadata", {}).get("labels", {})}
        if "namespace" in d["metadata"]:
            meta["namespace"] = d["metadata"]["namespace"]
        out.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
    yaml.safe_dump_all(out, sys.stdout)


def kinds(kind):
    yaml.safe_dump_all([d for d in docs() if d["kind"] == kind], sys.stdout)


def configmap_keys(name):
    """The data keys of ConfigMap <name>, one per line, sorted (nothing when there is no such ConfigMap)."""
    for d in docs():
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name:
            print("\n".join(sorted(d.get("data", {}))))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "schemas" and len(sys.argv) == 4:
        schemas(sys.argv[2], sys.argv[3])
    elif cmd == "pods":
        pods()
    elif cmd == "kinds" and len(sys.argv) == 3:
        kinds(sys.argv[2])
    elif cmd == "configmap-keys" and len(sys.argv) == 3:
        configmap_keys(sys.argv[2])
    else:
        sys.exit(__doc__)
