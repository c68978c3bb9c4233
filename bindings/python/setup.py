"""Builds the tgvoip-rs wheel: the pure-Python package plus the bundled libtgvoip.so (and the
libopus it links), tagged py3-none-<platform> (ctypes: one wheel for every Python 3.8+).
Use build-wheel.sh, which builds the library and copies it in first."""

import os
import re
import sysconfig

from setuptools import setup
from setuptools.dist import Distribution

try:
    from wheel.bdist_wheel import bdist_wheel
except ImportError:  # setuptools >= 70 vendors it
    from setuptools.command.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))


def version():
    cargo = open(os.path.join(HERE, "..", "..", "Cargo.toml"), encoding="utf-8").read()
    return re.search(r'^version = "([^"]+)"', cargo, re.M).group(1)


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        return "py3", "none", sysconfig.get_platform().replace("-", "_").replace(".", "_")


if not os.path.exists(os.path.join(HERE, "tgvoip", "libtgvoip.so")):
    raise SystemExit("tgvoip/libtgvoip.so missing: build with bindings/python/build-wheel.sh")

setup(
    version=version(),
    packages=["tgvoip"],
    py_modules=["_tgvoip"],
    package_data={"tgvoip": ["libtgvoip.so", "libopus.so*"]},
    distclass=BinaryDistribution,
    cmdclass={"bdist_wheel": PlatformWheel},
    zip_safe=False,
)
