#!/usr/bin/env python3
"""Reads a rendered Kubernetes overlay and prints how to run its server container with
Docker under the same settings, so the deploy test exercises what the manifests ask for:
user and group, read-only root, dropped capabilities, limits, environment (ConfigMap and
env), volume mounts (emptyDir as tmpfs, Secrets from SECRETS_ROOT/<secret name>, the volume
claim as a named volume), the container port and the probes.

    k8s_to_docker.py RENDERED.yaml SECRETS_ROOT VOLUME HOST_PORT

Prints one JSON object: {"args": [...docker run arguments...], "probes": [[kind, scheme,
path], ...], "image": "...", "grace_seconds": N}.
"""
import json
import sys

import yaml


def main():
    rendered, secrets_root, volume, host_port = sys.argv[1:5]
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    config = {}
    for d in docs:
        if d["kind"] == "ConfigMap":
            config.update(d.get("data", {}))
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    container = pod["containers"][0]
    pod_sc = pod.get("securityContext", {})
    sc = container.get("securityContext", {})
    args = []
    if pod_sc.get("runAsNonRoot"):
        args += ["--user", f"{pod_sc['runAsUser']}:{pod_sc['runAsGroup']}"]
    if sc.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    for cap in sc.get("capabilities", {}).get("drop", []):
        args += ["--cap-drop", cap]
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    limits = container["resources"]["limits"]
    args += ["--cpus", str(limits["cpu"]), "--memory", limits["memory"].replace("Gi", "g").replace("Mi", "m")]
    env = dict(config) if any("configMapRef" in e for e in container.get("envFrom", [])) else {}
    for e in container.get("env", []):
        env[e["name"]] = e["value"]
    for k, v in sorted(env.items()):
        args += ["-e", f"{k}={v}"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    claims = {c["metadata"]["name"] for c in sts["spec"].get("volumeClaimTemplates", [])}
    for m in container.get("volumeMounts", []):
        name, path = m["name"], m["mountPath"]
        if name in claims:
            args += ["-v", f"{volume}:{path}"]
        elif "emptyDir" in volumes[name]:
            args += ["--tmpfs", path]
        elif "secret" in volumes[name]:
            args += ["-v", f"{secrets_root}/{volumes[name]['secret']['secretName']}:{path}:ro"]
        else:
            sys.exit(f"volume {name}: no Docker equivalent in this test")
    port = container["ports"][0]["containerPort"]
    args += ["-p", f"127.0.0.1:{host_port}:{port}"]
    probes = []
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = container[kind]["httpGet"]
        probes.append([kind, get.get("scheme", "HTTP").lower(), get["path"]])
    print(json.dumps({
        "args": args,
        "probes": probes,
        "image": container["image"],
        "container_args": container.get("args", []),
        "grace_seconds": pod.get("terminationGracePeriodSeconds", 30),
    }))


if __name__ == "__main__":
    main()
