"""``python -m tgvoip --version``: prints the library and protocol versions."""

import argparse
import sys

from tgvoip import _lib


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tgvoip",
                                 description="tgvoip-rs Python bindings (pytgvoip-compatible)")
    ap.add_argument("--version", action="store_true", help="print versions and exit")
    args = ap.parse_args(argv)
    if not args.version:
        ap.print_help()
        return 0
    abi = _lib.lib.tgvoip_abi_version()
    print("tgvoip-rs %s (libtgvoip %s compatible), protocol version 9 (min 3), "
          "connection max layer %d, C ABI %d.%d, %s"
          % (_lib.impl_version(), _lib.version(), _lib.lib.tgvoip_get_connection_max_layer(),
             abi >> 16, abi & 0xFFFF, _lib.lib._name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
