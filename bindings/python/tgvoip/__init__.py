"""tgvoip: Telegram VoIP calls (libtgvoip 2.4.4 compatible) over tgvoip-rs, with the API of
pytgvoip 0.0.7.1. See the README's Python section."""

from tgvoip.tgvoip import *  # noqa: F401,F403
from tgvoip.tgvoip import __all__  # noqa: F401
from tgvoip._lib import impl_version as _impl_version, version as _version

#: Version of this package (= the tgvoip-rs library it bundles).
__version__ = _impl_version()
#: The pytgvoip release whose API this package reproduces.
__pytgvoip_version__ = "0.0.7.1"
#: The libtgvoip version (and wire protocol) the library is compatible with.
LIBTGVOIP_VERSION = _version()
