"""Renders the Kubernetes manifests (deploy/kubernetes/) and validates them offline, for
`make lint`: `kubectl kustomize` renders both overlays and the dev overlay with the KEDA
component; kubernetes-validate checks every built-in object in strict mode (no unknown field)
against KUBERNETES_VERSION's schemas; the KEDA objects are checked against the models the npm
package @kubernetes-models/keda generates from KEDA's API; checkov checks the rendered
manifests and the Dockerfile. Every step prints one summary line; any failure exits 1.

    python scripts/check_kubernetes.py --node-modules DIR --checkov PATH
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import kubernetes_validate
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
KUSTOMIZE_DIR = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("dev", "prod")
# The newest Kubernetes whose schemas the locked kubernetes-validate ships.
KUBERNETES_VERSION = "1.37.0"
# Custom resources, checked by the KEDA models instead: kind -> module of that package.
KEDA_KINDS = {
    "ScaledObject": "keda.sh/v1alpha1/ScaledObject.js",
    "TriggerAuthentication": "keda.sh/v1alpha1/TriggerAuthentication.js",
}
# Reads [[kind, object], ...] on stdin; prints each object's errors, exits 1 if any.
_KEDA_VALIDATOR = """
import {readFileSync} from "node:fs";
import {pathToFileURL} from "node:url";
const [root, modules] = [process.argv[1], JSON.parse(process.argv[2])];
let failed = 0;
for (const [kind, object] of JSON.parse(readFileSync(0, "utf8"))) {
  const Model = (await import(pathToFileURL(`${root}/${modules[kind]}`)))[kind];
  try {
    new Model(object).validate();
  } catch (error) {
    failed += 1;
    console.log(`${kind}/${object.metadata.name}: ${error.message}`);
  }
}
process.exit(failed ? 1 : 0);
"""


def kustomize(directory: pathlib.Path) -> list[dict]:
    """The objects `kubectl kustomize` renders from `directory`."""
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(directory)], check=True, capture_output=True, text=True
    ).stdout
    return [document for document in yaml.safe_load_all(rendered) if document]


def render(overlay: str, components: tuple[str, ...] = ()) -> list[dict]:
    """An overlay, with optional components on top, as `kubectl apply -k` would send it."""
    if not components:
        return kustomize(KUSTOMIZE_DIR / "overlays" / overlay)
    with tempfile.TemporaryDirectory() as directory:
        # kustomize takes relative paths only; the namespace is the overlays' own.
        relative = os.path.relpath(KUSTOMIZE_DIR, directory)
        kustomization = {
            "namespace": "textclf",
            "resources": [f"{relative}/overlays/{overlay}"],
            "components": [f"{relative}/components/{name}" for name in components],
        }
        (pathlib.Path(directory) / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        return kustomize(pathlib.Path(directory))


def renderings() -> dict[str, list[dict]]:
    """Every combination the repository offers: each overlay, and dev with KEDA."""
    rendered = {overlay: render(overlay) for overlay in OVERLAYS}
    rendered["dev+keda"] = render("dev", ("keda",))
    return rendered


def validate_builtin(rendered: dict[str, list[dict]]) -> list[str]:
    errors = []
    for name, objects in rendered.items():
        for item in objects:
            if item["kind"] in KEDA_KINDS:
                continue
            try:
                kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                path = "/".join(str(part) for part in error.path)
                where = f"{name}: {item['kind']}/{item['metadata']['name']} /{path}"
                errors.append(f"{where}: {error.message}")
    return errors


def validate_keda(
    rendered: dict[str, list[dict]], node_modules: pathlib.Path
) -> tuple[subprocess.CompletedProcess, int]:
    """The KEDA objects checked by node; and how many there were."""
    objects = [
        [item["kind"], item]
        for objects in rendered.values()
        for item in objects
        if item["kind"] in KEDA_KINDS
    ]
    return subprocess.run(
        [
            "node",
            "--input-type=module",
            "-e",
            _KEDA_VALIDATOR,
            str(node_modules / "@kubernetes-models" / "keda"),
            json.dumps(KEDA_KINDS),
        ],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        check=False,
    ), len(objects)


def run_checkov(rendered: dict[str, list[dict]], checkov: str) -> int:
    with tempfile.TemporaryDirectory() as directory:
        files = []
        for name, objects in rendered.items():
            path = pathlib.Path(directory) / f"{name}.yaml"
            path.write_text(yaml.safe_dump_all(objects))
            files += ["-f", str(path)]
        # --skip-download: offline, no check metadata fetched from Prisma Cloud.
        command = [checkov, "--skip-download", "--compact", "--quiet"]
        command += [
            "--framework",
            "kubernetes",
            "dockerfile",
            *files,
            "-f",
            str(ROOT / "Dockerfile"),
        ]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
        )
    for line in result.stdout.splitlines():
        if line.endswith("scan results:"):
            framework = line.split()[0]
        elif line.startswith("Passed checks:"):
            print(f"checkov {framework}: {line}")
    if result.returncode:
        print(result.stdout, result.stderr, sep="\n", file=sys.stderr)
    return result.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--node-modules", type=pathlib.Path, required=True)
    parser.add_argument("--checkov", required=True)
    arguments = parser.parse_args()

    rendered = renderings()
    counts = ", ".join(f"{name} {len(objects)}" for name, objects in rendered.items())
    print(f"kubectl kustomize: objects rendered: {counts}")

    errors = validate_builtin(rendered)
    builtin = sum(
        1 for objects in rendered.values() for item in objects if item["kind"] not in KEDA_KINDS
    )
    print(
        f"kubernetes-validate {KUBERNETES_VERSION} strict: {builtin - len(errors)} valid, "
        f"{len(errors)} invalid"
    )
    for error in errors:
        print(f"  {error}", file=sys.stderr)

    keda, keda_count = validate_keda(rendered, arguments.node_modules)
    print(f"KEDA models: {keda_count} objects, {'invalid' if keda.returncode else 'valid'}")
    if keda.returncode:
        print(keda.stdout, keda.stderr, sep="\n", file=sys.stderr)

    checkov = run_checkov(rendered, arguments.checkov)
    return 1 if errors or keda.returncode or checkov else 0


if __name__ == "__main__":
    sys.exit(main())
