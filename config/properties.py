"""Runtime properties as files: the service's JSON list of property groups, read and written.

Managed Service for Apache Flink hands a job its runtime properties as property groups in
``/etc/flink/application_properties.json``; local runs, tests and the deploy tool read and
write files of the same form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from config.errors import ConfigError

SERVICE_PROPERTIES_PATH = Path("/etc/flink/application_properties.json")


def load_property_groups(path: Path) -> dict[str, dict[str, str]]:
    """Read the service's JSON list of ``{"PropertyGroupId", "PropertyMap"}`` objects."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("(file)", str(path), f"cannot be read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError("(file)", str(path), f"is not valid JSON: {exc}") from None
    if not isinstance(document, list):
        raise ConfigError("(file)", str(path), "must hold a JSON list of property groups")
    groups: dict[str, dict[str, str]] = {}
    for entry in document:
        if not isinstance(entry, dict) or not isinstance(entry.get("PropertyGroupId"), str):
            raise ConfigError("(file)", str(path), "every entry needs a PropertyGroupId and a PropertyMap")
        group_id = entry["PropertyGroupId"]
        property_map = entry.get("PropertyMap", {})
        if not isinstance(property_map, dict):
            raise ConfigError(group_id, "PropertyMap", "must be a JSON object of string values")
        if group_id in groups:
            raise ConfigError(group_id, "PropertyGroupId", "appears more than once")
        groups[group_id] = {str(k): str(v) for k, v in property_map.items()}
    return groups


def write_property_groups(path: Path, groups: Mapping[str, Mapping[str, str]]) -> None:
    """Write ``groups`` as the service's JSON list, the form :func:`load_property_groups` reads."""
    document = [{"PropertyGroupId": name, "PropertyMap": dict(values)} for name, values in groups.items()]
    path.write_text(json.dumps(document, indent=2) + "\n")
