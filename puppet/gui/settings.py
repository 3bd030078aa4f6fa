"""What the window remembers between runs (QSettings)."""
from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QSettings

from puppet.motion.retarget import RetargetSettings

ORGANIZATION = "Puppet"
APPLICATION = "Puppet"
SETTINGS_ENV = "PUPPET_SETTINGS"  # an .ini file to use instead (tests, portable installs)

DEFAULTS: dict[str, Any] = {
    "portrait": "built-in:grace-oil",
    "user_portraits": [],
    "portrait_faces": [],  # "N<TAB>source": the face chosen in a group portrait
    "source": "",
    "expression": 1.0,
    "head": 1.0,
    "mouth": 1.0,
    "eyes": 1.0,
    "brows": 1.0,
    "smoothing": RetargetSettings.smoothing,  # the engine's default
    "device": "auto",
    "live_size": 960,  # the live portrait's longest side (LIVE_SIZE)
    "framing": "whole",  # or "head" (puppet.portrait.FRAMINGS)
    "generator": "warp",
    "show_stats": True,
    "show_landmarks": False,
    "mirror": True,
    "last_folder": "",
    "record_folder": "",  # empty: the standard one (~/Videos/Puppet)
    "stream_port": 8080,
    "stream_host": "127.0.0.1",  # another address only when the user writes it here
    "vcam_fit": "letterbox",
}


def open_settings() -> QSettings:
    """The user's settings, or the .ini file named by $PUPPET_SETTINGS."""
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


class Settings:
    """Typed access to the QSettings store, with defaults."""

    def __init__(self, store: QSettings):
        self.store = store

    def get(self, key: str) -> Any:
        default = DEFAULTS[key]
        value = self.store.value(key, default)
        try:
            if isinstance(default, bool):
                return value if isinstance(value, bool) else str(value).lower() == "true"
            if isinstance(default, float):
                return float(value)
            if isinstance(default, int):
                return int(value)
            if isinstance(default, list):
                if value in (None, ""):
                    return []
                return [str(v) for v in value] if isinstance(value, (list, tuple)) \
                    else [str(value)]
            return str(value) if value is not None else default
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value: Any) -> None:
        self.store.setValue(key, value)

    def sync(self) -> None:
        self.store.sync()
