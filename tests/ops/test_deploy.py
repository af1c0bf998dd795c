"""deploy/: valid Kubernetes objects (Kubernetes' own JSON schemas, strict), wired to each other and to our settings."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from cds_service.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
#: The Kubernetes version validated against (a supported one at the time of writing).
K8S_VERSION = "1.30"
MANIFESTS = sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")


def objects() -> dict[str, dict]:
    out = {}
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out[doc["kind"]] = doc
    return out


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_manifest_is_valid_against_the_kubernetes_schema(path):
    for doc in yaml.safe_load_all(path.read_text()):
        # strict: unknown fields (a typo in a probe, say) are errors, as kubectl would say.
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_catches_a_typo():
    deployment = objects()["Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    broken = {**container, "readinessProbe": {**container["readinessProbe"], "periodSecond": 5}}
    bad = {**deployment, "spec": {**deployment["spec"], "template": {**deployment["spec"]["template"], "spec": {
        **deployment["spec"]["template"]["spec"], "containers": [broken]}}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_template():
    listed = set(yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in MANIFESTS} - {"secret.template.yaml"}


def test_deployment_has_probes_limits_and_settings_from_configmap_and_secret():
    objs = objects()
    pod = objs["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    sources = {next(iter(s)): s[next(iter(s))]["name"] for s in container["envFrom"]}
    assert sources == {"configMapRef": objs["ConfigMap"]["metadata"]["name"],
                       "secretRef": objs["Secret"]["metadata"]["name"]}
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp")
    assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])  # writable under a read-only root
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert objs["Deployment"]["spec"]["replicas"] >= 2


def _cores(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def test_the_cpu_limit_gives_each_sync_worker_a_core():
    # Sync workers compute one call each on one core; a smaller limit makes two calls share a
    # core under load (each finishing late) while the HPA, counting against requests, waits.
    objs = objects()
    config = objs["ConfigMap"]["data"]
    (container,) = objs["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert config["CDS_THREADS"] == "1"
    assert _cores(container["resources"]["limits"]["cpu"]) >= int(config["CDS_WORKERS"])
    assert _cores(container["resources"]["requests"]["cpu"]) <= _cores(container["resources"]["limits"]["cpu"])


def test_service_hpa_and_pdb_point_at_the_deployment():
    objs = objects()
    labels = objs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert objs["Deployment"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert objs["Service"]["spec"]["selector"].items() <= labels.items()
    assert objs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = objs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", objs["Deployment"]["metadata"]["name"])
    ports = {p["name"] for p in objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert objs["Service"]["spec"]["ports"][0]["targetPort"] in ports
    assert objs["HorizontalPodAutoscaler"]["spec"]["minReplicas"] >= 2


def test_every_configured_variable_is_a_setting_and_secrets_stay_in_the_secret():
    known = {f"CDS_{name.upper()}" for name in Settings.model_fields}
    objs = objects()
    config, secret = objs["ConfigMap"]["data"], objs["Secret"]["stringData"]
    assert set(config) <= known, set(config) - known
    assert set(secret) <= known, set(secret) - known
    for name in ("CDS_STORE_DATABASE_URL", "CDS_PATIENT_HASH_KEY"):
        assert name in secret and name not in config
    # Several replicas need the shared store: the URL is set, to PostgreSQL.
    assert secret["CDS_STORE_DATABASE_URL"].startswith("postgresql://")
    # A template only: placeholders, no real secret in the repository.
    assert all("REPLACE-ME" in value for value in secret.values())
    # The ConfigMap's values load as settings (types convert).
    Settings.load(env={**config, **secret}, yaml_path=Path("/nonexistent"))


def test_network_policy_denies_by_default_and_opens_only_the_ingress_dns_database_and_https():
    """Issue 17: deploy/ had no NetworkPolicy."""
    policy = objects()["NetworkPolicy"]
    deployment = objects()["Deployment"]
    assert policy["spec"]["podSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    (ingress,) = policy["spec"]["ingress"]
    assert [p["port"] for p in ingress["ports"]] == [8080]
    (source,) = ingress["from"]
    assert "ingress-nginx" in str(source["namespaceSelector"]) and "ipBlock" not in source
    ports = sorted((p["protocol"], p["port"]) for rule in policy["spec"]["egress"] for p in rule["ports"])
    assert ports == [("TCP", 53), ("TCP", 443), ("TCP", 443), ("TCP", 5432), ("UDP", 53)]
    for rule in policy["spec"]["egress"]:
        for peer in rule["to"]:
            if "ipBlock" in peer:  # single hosts only, never the whole internet
                assert peer["ipBlock"]["cidr"].endswith("/32") and "except" not in peer["ipBlock"]
