"""pytgvoip's native-module name: the low layer of the ``tgvoip`` package (for programs that
import ``_tgvoip`` directly)."""

from tgvoip._native import *  # noqa: F401,F403
from tgvoip._native import __all__, __version__  # noqa: F401
