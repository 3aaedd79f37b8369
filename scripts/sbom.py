#!/usr/bin/env python3
"""The image's SBOM (scripts/image.sh): cargo-cyclonedx's CycloneDX document of the
sextant binary's crates, with the image's Debian packages added as components
(purl pkg:deb/debian/NAME@VERSION?arch=...&distro=debian-12), its timestamp set to
the build epoch, the checkout's path replaced by /src and its serial number derived
from its content, so that one commit gives one SBOM."""

import argparse
import datetime
import hashlib
import json
import uuid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--crates", required=True, help="cargo-cyclonedx's JSON output")
    ap.add_argument("--debian", required=True, help="VERSIONS file: 'name version' lines")
    ap.add_argument("--epoch", required=True, type=int, help="SOURCE_DATE_EPOCH")
    ap.add_argument("--source-root", required=True, help="the checkout, named /src instead")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    with open(args.crates, encoding="utf-8") as f:
        # The checkout's path is in the workspace members' bom-refs: one SBOM per
        # commit, wherever it was cloned.
        bom = json.loads(f.read().replace("file://" + args.source_root, "file:///src"))
    components = bom.setdefault("components", [])
    with open(args.debian, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            name, version = line.split()
            arch = "all" if name == "ca-certificates" else "amd64"
            components.append(
                {
                    "type": "library" if name != "ca-certificates" else "data",
                    "bom-ref": f"pkg:deb/debian/{name}@{version}?arch={arch}&distro=debian-12",
                    "name": name,
                    "version": version,
                    "purl": f"pkg:deb/debian/{name}@{version}?arch={arch}&distro=debian-12",
                    "supplier": {"name": "Debian"},
                }
            )
    meta = bom.setdefault("metadata", {})
    meta["timestamp"] = (
        datetime.datetime.fromtimestamp(args.epoch, datetime.timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    bom.pop("serialNumber", None)
    body = json.dumps(bom, sort_keys=True).encode()
    bom["serialNumber"] = "urn:uuid:" + str(
        uuid.uuid5(uuid.NAMESPACE_URL, "sextant-sbom:" + hashlib.sha256(body).hexdigest())
    )
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(bom, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
