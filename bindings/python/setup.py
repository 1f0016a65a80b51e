"""setup.py — builds the `cepheus` Python package (a CPython extension over
libcepheus) with setuptools. The library is found in a build tree when
CEPHEUS_BUILD_DIR is set (headers from its source tree, libcepheus.so from
$CEPHEUS_BUILD_DIR/.libs, with an rpath to it so nothing needs installing),
otherwise through pkg-config (an installed libcepheus).

    CEPHEUS_BUILD_DIR=/path/to/build /usr/bin/python3 setup.py build_ext --inplace
    /usr/bin/python3 -m pip install --no-build-isolation ./bindings/python
"""
import os
import re
import shlex
import subprocess
import sys

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def from_build_tree(build):
    build = os.path.abspath(build)
    libdir = os.path.join(build, ".libs")
    # The build tree's Makefile knows its source tree (VPATH builds).
    srcdir = os.environ.get("CEPHEUS_SRC_DIR")
    if not srcdir:
        try:
            with open(os.path.join(build, "Makefile")) as f:
                m = re.search(r"^abs_top_srcdir = (.*)$", f.read(), re.M)
            srcdir = m.group(1).strip() if m else None
        except OSError:
            srcdir = None
    if not srcdir:
        srcdir = os.path.normpath(os.path.join(HERE, "..", ".."))
    if not os.path.exists(os.path.join(libdir, "libcepheus.so")):
        sys.exit("setup.py: no libcepheus.so in %s (run make there first)" % libdir)
    return dict(include_dirs=[os.path.join(srcdir, "include")], library_dirs=[libdir],
                runtime_library_dirs=[libdir], libraries=["cepheus"])


def from_pkg_config():
    def pc(*args):
        out = subprocess.run(["pkg-config"] + list(args) + ["libcepheus"],
                             check=True, capture_output=True, text=True).stdout
        return shlex.split(out)

    try:
        cflags = pc("--cflags")
        libs = pc("--libs")
        libdir = pc("--variable=libdir")
    except (OSError, subprocess.CalledProcessError):
        sys.exit("setup.py: libcepheus not found: install it (make install) so that "
                 "`pkg-config libcepheus` works, or set CEPHEUS_BUILD_DIR to a build tree")
    return dict(
        include_dirs=[f[2:] for f in cflags if f.startswith("-I")],
        extra_compile_args=[f for f in cflags if not f.startswith("-I")],
        library_dirs=[f[2:] for f in libs if f.startswith("-L")],
        libraries=[f[2:] for f in libs if f.startswith("-l")],
        # Found at run time even where the libdir is not in ld.so.conf.
        runtime_library_dirs=libdir,
    )


build_dir = os.environ.get("CEPHEUS_BUILD_DIR")
lib = from_build_tree(build_dir) if build_dir else from_pkg_config()
extra = lib.pop("extra_compile_args", []) + ["-std=c11", "-Wall", "-Wextra", "-Wshadow",
                                             "-Wstrict-prototypes", "-Wmissing-prototypes"]
# Sanitizer builds of the library need the same flags in the extension.
extra += shlex.split(os.environ.get("CEPHEUS_EXTRA_CFLAGS", ""))

setup(
    name="cepheus",
    version="0.1.0",
    description="Complex event processing (Flink-CEP-like patterns) over libcepheus",
    packages=["cepheus"],
    ext_modules=[Extension("cepheus._cepheus", [os.path.join("cepheus", "_cepheus.c")],
                           extra_compile_args=extra, **lib)],
    python_requires=">=3.10",
    zip_safe=False,
)
