"""The `@libtorch` repository: an unpacked libtorch distribution, or Debian's libtorch-dev.

Set LIBTORCH to the root of an unpacked libtorch (for example a CUDA build from pytorch.org,
with `include/` and `lib/` below it) to build against it; otherwise Debian's install under /usr
is used. Either way the repository exposes one target, `@libtorch//:libtorch`.
"""

_DEBIAN_API_INCLUDE = "/usr/include/torch/csrc/api/include"

_DEBIAN_BUILD = """
# Debian's libtorch-dev: ATen, c10 and torch headers sit in /usr/include, which the compiler
# searches already; only the C++ frontend's include root needs adding.
cc_library(
    name = "libtorch",
    hdrs = glob(["api/**/*.h"]),
    includes = ["api"],
    linkopts = ["-ltorch", "-ltorch_cpu", "-lc10"],
    target_compatible_with = ["@platforms//cpu:{cpu}"],
    visibility = ["//visibility:public"],
)
"""

_DISTRIBUTION_BUILD = """
# An unpacked libtorch distribution from LIBTORCH={root}.
cc_library(
    name = "libtorch",
    hdrs = glob(["include/**/*.h", "include/**/*.hpp", "include/**/*.cuh"]),
    includes = ["include", "include/torch/csrc/api/include"],
    linkopts = [
        "-L{root}/lib",
        "-Wl,-rpath,{root}/lib",
        "-Wl,--no-as-needed",
        {cuda_libs}
        "-ltorch",
        "-ltorch_cpu",
        "-lc10",
        "-Wl,--as-needed",
    ],
    target_compatible_with = ["@platforms//cpu:{cpu}"],
    visibility = ["//visibility:public"],
)
"""

# Debian's libtorch and a downloaded distribution alike are built for this machine's CPU: the
# aarch64 cross build (--config=neon) has none, so every target that links libtorch is
# incompatible there and `bazel test --config=neon //...` skips it.
def _host_cpu(rctx):
    machine = rctx.execute(["uname", "-m"]).stdout.strip()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)

def _libtorch_repository_impl(rctx):
    cpu = _host_cpu(rctx)
    root = rctx.os.environ.get("LIBTORCH", "")
    if not root:
        if not rctx.path(_DEBIAN_API_INCLUDE).exists:
            fail("libtorch not found: install Debian's libtorch-dev (tools/setup.sh) " +
                 "or set LIBTORCH to an unpacked libtorch distribution")
        rctx.symlink(_DEBIAN_API_INCLUDE, "api")
        rctx.file("BUILD", _DEBIAN_BUILD.format(cpu = cpu))
        return
    for sub in ["include/torch/csrc/api/include", "lib"]:
        if not rctx.path(root + "/" + sub).exists:
            fail("LIBTORCH=%s is not an unpacked libtorch distribution: %s/%s is missing" %
                 (root, root, sub))
    rctx.symlink(root + "/include", "include")
    cuda = rctx.path(root + "/lib/libtorch_cuda.so").exists
    rctx.file("BUILD", _DISTRIBUTION_BUILD.format(
        root = root,
        cpu = cpu,
        cuda_libs = "\"-ltorch_cuda\", \"-lc10_cuda\"," if cuda else "",
    ))

libtorch_repository = repository_rule(
    implementation = _libtorch_repository_impl,
    environ = ["LIBTORCH"],
    local = True,
)
