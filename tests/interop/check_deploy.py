"""Checks the deployment files for what issue 12 found open (book § Layout, book § Running many instances): the admin
port private, secrets as files, trusted proxies set. Prints one problem per line; exit 1
if there are any."""
import pathlib
import sys

import yaml

root = pathlib.Path(sys.argv[1])
problems = []
SECRETS = ("TESSERA_KEK", "TESSERA_ADMIN_TOKENS", "DATABASE_URL", "REDIS_URL")

docs = [d for d in yaml.safe_load_all((root / "deploy/k8s/tessera.yaml").read_text()) if d]
deployments = [d for d in docs if d["kind"] == "Deployment"]
policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
for deployment in deployments:
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    mounts = {v["name"] for v in pod["spec"].get("volumes", []) if "secret" in v}
    for container in pod["spec"]["containers"]:
        env = {e["name"]: e for e in container.get("env", [])}
        if container.get("envFrom"):
            problems.append(f"{container['name']}: envFrom puts secrets in the environment")
        for name in SECRETS:
            if name in env:
                problems.append(f"{container['name']}: {name} is an environment value, not a file")
            if f"{name}_FILE" not in env:
                problems.append(f"{container['name']}: {name}_FILE is not set")
        paths = [m["mountPath"] for m in container.get("volumeMounts", []) if m["name"] in mounts]
        for name in SECRETS:
            value = env.get(f"{name}_FILE", {}).get("value", "")
            if not any(value.startswith(p + "/") for p in paths):
                problems.append(f"{container['name']}: {name}_FILE is not on a mounted secret")
        if "TESSERA_TRUSTED_PROXIES" not in env:
            problems.append(f"{container['name']}: TESSERA_TRUSTED_PROXIES is not set")
        admin = env.get("TESSERA_ADMIN_ADDR", {}).get("value", "127.0.0.1:8081")
        admin_port = int(admin.rsplit(":", 1)[1])
        if not admin.startswith("127.0.0.1"):
            guarded = False
            for policy in policies:
                selector = policy["spec"]["podSelector"].get("matchLabels", {})
                if not all(labels.get(k) == v for k, v in selector.items()):
                    continue
                if "Ingress" not in policy["spec"].get("policyTypes", []):
                    continue
                rules = policy["spec"].get("ingress", [])
                open_rules = [
                    r for r in rules
                    if not r.get("from") and (not r.get("ports") or any(p.get("port") == admin_port for p in r["ports"]))
                ]
                guarded = not open_rules
            if not guarded:
                problems.append(f"{container['name']}: admin port {admin_port} is bound to {admin} with no NetworkPolicy keeping it private")

dockerfile = (root / "deploy/Dockerfile").read_text()
if "TESSERA_ADMIN_ADDR=0.0.0.0" in dockerfile:
    problems.append("Dockerfile: the image binds the admin listener to every interface")
for name in SECRETS[:2]:
    if f"{name}=" in dockerfile:
        problems.append(f"Dockerfile: {name} set in the image")

services = []
for file in ["deploy/docker-compose.yml", "deploy/docker-compose.single.yml"]:
    compose = yaml.safe_load((root / file).read_text())
    services += [(f"{file} {name}", service) for name, service in compose["services"].items()]
single = yaml.safe_load((root / "deploy/docker-compose.single.yml").read_text())["services"]["tessera"]
if any(k in (single.get("environment") or {}) for k in ["DATABASE_URL", "REDIS_URL"]):
    problems.append("single-node compose: it must run on the embedded store")
if not any(str(v).endswith(":/var/lib/tessera") for v in single.get("volumes", [])):
    problems.append("single-node compose: /var/lib/tessera is not a volume (data would not survive the container)")
if "VOLUME /var/lib/tessera" not in dockerfile:
    problems.append("Dockerfile: the embedded store's data directory is not a volume")
for name, service in services:
    env = service.get("environment", {}) or {}
    for secret in SECRETS[:2]:
        if secret in env:
            problems.append(f"compose {name}: {secret} is an environment value, not a file")
    for port in service.get("ports", []):
        if str(port).endswith(":8081") and not str(port).startswith("127.0.0.1:"):
            problems.append(f"compose {name}: admin port published beyond loopback: {port}")

# the multi-instance compose file: the public port is a proxy's that passes the client's
# address, and the instances trust it from the compose network only
compose = yaml.safe_load((root / "deploy/docker-compose.yml").read_text())
proxy = compose["services"].get("proxy")
nginx = (root / "deploy/nginx.conf").read_text()
if not proxy or "X-Forwarded-For $proxy_add_x_forwarded_for" not in nginx:
    problems.append("compose: no proxy passing X-Forwarded-For in front of the instances")
subnets = [c["subnet"] for c in compose.get("networks", {}).get("default", {}).get("ipam", {}).get("config", [])]
for name, service in compose["services"].items():
    if name.startswith("tessera"):
        trusted = (service.get("environment") or {}).get("TESSERA_TRUSTED_PROXIES") or compose["x-tessera"]["environment"].get("TESSERA_TRUSTED_PROXIES")
        if trusted not in subnets:
            problems.append(f"compose {name}: TESSERA_TRUSTED_PROXIES is not the proxy's network ({subnets})")
        if any(str(p).endswith(":8080") for p in service.get("ports", [])):
            problems.append(f"compose {name}: publishes its public port around the proxy")
redis = " ".join(compose["services"]["redis"]["command"])
for setting in ["--appendonly yes", "--maxmemory-policy noeviction"]:
    if setting not in redis:
        problems.append(f"compose redis: {setting} is missing (sessions and revocations must survive a restart)")

# the Kubernetes manifests: probes, resources, a disruption budget
for deployment in deployments:
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        for probe in ["startupProbe", "readinessProbe", "livenessProbe"]:
            if probe not in container:
                problems.append(f"k8s {container['name']}: no {probe}")
        if "limits" not in container.get("resources", {}):
            problems.append(f"k8s {container['name']}: no resource limits")
if not any(d["kind"] == "PodDisruptionBudget" for d in docs):
    problems.append("k8s: no PodDisruptionBudget")

# the systemd unit: the hardening the issue names
unit = (root / "deploy/systemd/tessera.service").read_text().splitlines()
for directive in ["DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=tessera", "CapabilityBoundingSet=", "NoNewPrivileges=yes"]:
    if directive not in unit:
        problems.append(f"systemd unit: {directive} is missing")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
