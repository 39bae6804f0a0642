"""Home Assistant MQTT discovery (off by default: ``mqtt.homeassistant``).

One device per node; per camera a "recording" binary sensor and a "health" sensor read from
``camera/<id>/state``, and for a camera in motion mode a "motion" binary sensor read from
``event``; for the node, free storage, achieved and forecast retention and the
number of active alarms read from ``state``. Availability follows the retained ``status``.
Pure: builds (topic, payload) pairs from the birth message; the reporter publishes them
retained on connect, and empties the config topics of cameras that went away.
"""

from __future__ import annotations

from typing import Any

from mqtt.topics import Topics


def camera_list(birth: dict[str, Any]) -> list[tuple[str, str]]:
    """(id, name) of the birth's cameras, given as ids or as {"id", "name"} objects."""
    out = []
    for cam in birth.get("cameras") or []:
        if isinstance(cam, str):
            out.append((cam, cam))
        elif isinstance(cam, dict) and isinstance(cam.get("id"), str):
            out.append((cam["id"], str(cam.get("name") or cam["id"])))
    return out


def discovery_messages(topics: Topics, prefix: str, birth: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Discovery config topic -> payload for this node's device and entities."""
    # Ids are [a-z0-9_-], all allowed in discovery topics: kept as they are, so a broker ACL
    # can confine a node's configs with "pattern write <prefix>/+/edged_<site>_%u/#".
    node_id = f"edged_{topics.site}_{topics.node}"
    device = {
        "identifiers": [node_id],
        "name": f"edged {topics.site}/{topics.node}",
        "manufacturer": "edged",
        "model": "edged CCTV recorder",
    }
    if birth.get("version"):
        device["sw_version"] = str(birth["version"])
    common = {
        "device": device,
        "availability_topic": topics.status,
        "payload_available": "online",
        "payload_not_available": "offline",
    }

    def entity(component: str, object_id: str, name: str, state_topic: str, template: str,
               **extra: Any) -> tuple[str, dict[str, Any]]:
        uid = f"{node_id}_{object_id}"
        topic = f"{prefix}/{component}/{node_id}/{object_id}/config"
        return topic, {"name": name, "unique_id": uid, "object_id": uid, "state_topic": state_topic,
                       "value_template": template, **common, **extra}

    pairs = [
        entity("sensor", "storage_free", "Storage free", topics.state,
               "{{ value_json.storage.free_bytes }}", unit_of_measurement="B", device_class="data_size",
               state_class="measurement"),
        entity("sensor", "retention_achieved", "Retention achieved", topics.state,
               "{{ value_json.retention.achieved_days }}", unit_of_measurement="d", device_class="duration"),
        entity("sensor", "retention_forecast", "Retention forecast", topics.state,
               "{{ value_json.retention.forecast_days }}", unit_of_measurement="d", device_class="duration"),
        entity("sensor", "active_alarms", "Active alarms", topics.state,
               "{{ value_json.alarms | count }}", icon="mdi:alarm-light"),
    ]
    motion = {c["id"] for c in birth.get("cameras") or [] if isinstance(c, dict) and c.get("mode") == "motion"}
    for cam_id, name in camera_list(birth):
        state = topics.camera_state(cam_id)
        pairs.append(entity("binary_sensor", f"{cam_id}_recording", f"{name} recording", state,
                            "{{ 'ON' if value_json.recording else 'OFF' }}", device_class="running"))
        pairs.append(entity("sensor", f"{cam_id}_health", f"{name} health", state,
                            "{{ value_json.health }}", icon="mdi:cctv"))
        if cam_id in motion:
            # The `event` topic carries every camera's events: the template renders nothing for
            # another camera's, which Home Assistant ignores.
            pairs.append(entity("binary_sensor", f"{cam_id}_motion", f"{name} motion", topics.event,
                                "{%% if value_json.camera == '%s' %%}{{ 'ON' if value_json.phase == 'start' "
                                "else 'OFF' }}{%% endif %%}" % cam_id, device_class="motion"))
    return dict(pairs)
