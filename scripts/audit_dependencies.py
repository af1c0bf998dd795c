"""Check the locked dependencies against known vulnerabilities (issue 17; `make audit`, .ci/run).

    .venv/bin/python scripts/audit_dependencies.py [requirements-test.lock ...]

Runs pip-audit on the lock files as they are (``--disable-pip --require-hashes``: no resolver,
no install), asking the PyPI vulnerability service, then OSV. Exit 1 when a locked version has
a known vulnerability. When neither service answers (a machine that reaches only a package
index: PyPI's JSON API answers 404 there and api.osv.dev is not reachable), nothing can be
checked: it says so and exits 0, or 2 with ``CDS_AUDIT_REQUIRED=1`` (for a release pipeline).
No vulnerability database that works offline is shipped as a package worth using (see
docs/security.md, "Dependency audit").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIP_AUDIT = Path(sys.executable).with_name("pip-audit")


def audit(lock: Path, service: str) -> tuple[list[dict], int, int]:
    """(vulnerable dependencies, audited, skipped) for one lock file and one service."""
    proc = subprocess.run(
        [str(PIP_AUDIT), "-r", str(lock), "--disable-pip", "--require-hashes", "--no-deps", "-f", "json",
         "--progress-spinner", "off", "--vulnerability-service", service, "--timeout", "20"],
        capture_output=True, text=True, timeout=600,
    )
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        return [], 0, 0
    deps = report.get("dependencies", [])
    skipped = sum(1 for d in deps if d.get("skip_reason"))
    vulnerable = [d for d in deps if d.get("vulns")]
    return vulnerable, len(deps) - skipped, skipped


def main(argv: list[str]) -> int:
    locks = [Path(a) for a in argv] or [ROOT / "requirements-test.lock"]
    checked_any = False
    found = False
    for lock in locks:
        for service in ("pypi", "osv"):
            vulnerable, audited, skipped = audit(lock, service)
            if audited == 0:
                print(f"audit: {lock.name}: the {service} vulnerability service did not answer "
                      f"({skipped} dependencies not checked)")
                continue
            checked_any = True
            print(f"audit: {lock.name}: {audited} locked dependencies checked against {service}, "
                  f"{len(vulnerable)} with known vulnerabilities")
            for dep in vulnerable:
                for vuln in dep["vulns"]:
                    fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix released"
                    print(f"  {dep['name']}=={dep['version']}: {vuln['id']} (fixed in: {fixes})")
                found = True
            break
    if found:
        return 1
    if not checked_any:
        print("audit: NOT RUN: no vulnerability service reachable from this machine; "
              "nothing was checked (docs/security.md, 'Dependency audit')")
        return 2 if os.environ.get("CDS_AUDIT_REQUIRED") == "1" else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
