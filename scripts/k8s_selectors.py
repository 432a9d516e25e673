#!/usr/bin/env python3
"""Checks rendered Kubernetes manifests for what schema validation cannot see.

    k8s_selectors.py RENDERED.yaml...

For each file (one overlay, rendered): every Service, PodDisruptionBudget and NetworkPolicy
must select at least one pod template of a workload in the same file (Deployment,
StatefulSet, DaemonSet, Job, CronJob), and every workload's own selector must match its
template; no Secret may be rendered (secrets are referenced, created by the operator, so
applying an overlay never replaces real values with placeholders); every image has a tag; a
workload scaled by a HorizontalPodAutoscaler sets no replica count of its own. Prints one line
per problem and exits 1 if there is any.
"""

import sys

import yaml

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


def template(doc):
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    return spec.get("template", {})


def matches(selector, labels):
    """A LabelSelector (matchLabels / matchExpressions) or a Service's plain map."""
    if selector is None:
        return False
    plain = "matchLabels" not in selector and "matchExpressions" not in selector
    want = selector if plain else selector.get("matchLabels", {}) or {}
    if any(labels.get(k) != v for k, v in want.items()):
        return False
    for e in [] if plain else selector.get("matchExpressions", []) or []:
        value, op = labels.get(e["key"]), e["operator"]
        if op == "In" and value not in e.get("values", []):
            return False
        if op == "NotIn" and value in e.get("values", []):
            return False
        if op == "Exists" and e["key"] not in labels:
            return False
        if op == "DoesNotExist" and e["key"] in labels:
            return False
    return True


def check(path):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    problems = []
    pods = []
    for d in docs:
        if d["kind"] in WORKLOADS:
            labels = template(d).get("metadata", {}).get("labels", {}) or {}
            pods.append((f"{d['kind']}/{d['metadata']['name']}", labels))
            own = d.get("spec", {}).get("selector")
            if d["kind"] in {"Deployment", "StatefulSet", "DaemonSet"} and not matches(own, labels):
                problems.append(f"{d['kind']}/{d['metadata']['name']}: its selector does not match its own pods")
            for c in template(d).get("spec", {}).get("containers", []):
                image = c.get("image", "")
                if ":" not in image.rsplit("/", 1)[-1] and "@" not in image:
                    problems.append(f"{d['kind']}/{d['metadata']['name']}: image {image!r} has no tag")
    scaled = {(d["spec"]["scaleTargetRef"]["kind"], d["spec"]["scaleTargetRef"]["name"])
              for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    for d in docs:
        kind, name = d["kind"], d["metadata"]["name"]
        if (kind, name) in scaled and "replicas" in d.get("spec", {}):
            problems.append(f"{kind}/{name}: sets replicas beside a HorizontalPodAutoscaler")
        if kind == "Secret":
            problems.append(f"Secret/{name}: rendered by the overlay (reference secrets; do not generate them)")
        selector = {
            "Service": lambda: d["spec"].get("selector"),
            "PodDisruptionBudget": lambda: d["spec"].get("selector"),
            "NetworkPolicy": lambda: d["spec"].get("podSelector"),
        }.get(kind)
        if selector is None:
            continue
        sel = selector()
        if kind == "NetworkPolicy" and sel == {}:
            continue  # selects every pod of the namespace
        if not any(matches(sel, labels) for _, labels in pods):
            problems.append(f"{kind}/{name}: selects no pod of this overlay ({sel})")
    return problems


def main():
    bad = 0
    for path in sys.argv[1:]:
        for p in check(path):
            print(f"{path}: {p}")
            bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
