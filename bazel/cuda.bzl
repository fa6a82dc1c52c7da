"""CUDA support for --config=cuda: the @local_cuda repository and the cuda_library macro.

No rules_cuda (it cannot be fetched offline): nvcc compiles each .cu file to an object in a
genrule, and a cc_library links the objects with the static CUDA runtime, so a binary needs
only the NVIDIA driver at run time (cuBLAS, used by the benchmark alone, is linked as a shared
library).

Every CUDA target is compatible only with --config=cuda (CUDA_ONLY), so `bazel build //...`
and `bazel test //...` skip them in the default build and never run nvcc. The toolkit is found
at $CUDA_PATH, else /usr/local/cuda; without one, @local_cuda still loads, and building a CUDA
target fails with a message saying where nvcc was looked for.
"""

CUDA_ONLY = select({
    "//bazel:cuda": [],
    "//conditions:default": ["@platforms//:incompatible"],
})

# sm_80 (A100) and sm_90 (H100, H200) machine code, plus sm_90 PTX that later GPUs compile at
# load time. Code using Hopper-only instructions (wgmma) is built for sm_90a alone (HOPPER_ONLY).
DEFAULT_GENCODE = [
    "-gencode=arch=compute_80,code=sm_80",
    "-gencode=arch=compute_90,code=sm_90",
    "-gencode=arch=compute_90,code=compute_90",
]
HOPPER_ONLY = ["-gencode=arch=compute_90a,code=sm_90a"]

NVCC_FLAGS = [
    "-O3",
    "-std=c++17",
    "-Xcompiler=-fPIC",
    "-Xcompiler=-Wall",
    # The contract fixes the order of float operations; the kernels also use __fmul_rn and
    # friends where it matters, but contraction is off for everything else too.
    "-fmad=false",
    "--expt-relaxed-constexpr",
    "-Werror=all-warnings",
]

def cuda_library(name, srcs, hdrs = [], deps = [], gencode = DEFAULT_GENCODE, visibility = None,
                 testonly = False):
    """A cc_library whose .cu sources are compiled by nvcc (other srcs go to the C++ compiler).

    `gencode` picks the GPU targets (DEFAULT_GENCODE, or HOPPER_ONLY for sm_90a code that the
    caller launches only on compute capability 9.0).

    The headers the .cu files include must be in `hdrs` or `srcs` (.h, .cuh) of this target;
    include paths are from the workspace root, as everywhere in BitLab.
    """
    workspace_root = native.repository_name()
    include_root = "." if workspace_root == "@" else "external/" + workspace_root[1:]
    cu_srcs = [s for s in srcs if s.endswith(".cu")]
    other_srcs = [s for s in srcs if not s.endswith(".cu")]
    header_srcs = [s for s in other_srcs if s.endswith(".h") or s.endswith(".cuh")]
    objects = []
    for src in cu_srcs:
        obj = "_objs/%s/%s.o" % (name, src[:-3])
        objects.append(obj)
        native.genrule(
            name = "%s_%s_nvcc" % (name, src[:-3].replace("/", "_")),
            srcs = [src] + hdrs + header_srcs,
            outs = [obj],
            tools = ["@local_cuda//:nvcc"],
            cmd = "$(location @local_cuda//:nvcc) %s -I%s -c $(location %s) -o $@" % (
                " ".join(NVCC_FLAGS + gencode),
                include_root,
                src,
            ),
            target_compatible_with = CUDA_ONLY,
            testonly = testonly,
        )
    native.cc_library(
        name = name,
        srcs = objects + [s for s in other_srcs if not s.endswith(".cuh")],
        hdrs = hdrs,
        deps = deps + ["@local_cuda//:cudart_static"],
        target_compatible_with = CUDA_ONLY,
        visibility = visibility,
        testonly = testonly,
    )

_FOUND_BUILD = """
package(default_visibility = ["//visibility:public"])

sh_binary(name = "nvcc", srcs = ["nvcc.sh"])

cc_library(
    name = "headers",
    hdrs = glob(["include/**/*.h", "include/**/*.hpp", "include/**/*.inl", "include/**/*.cuh"]),
    includes = ["include"],
)

# The CUDA runtime, linked statically: binaries need the driver only.
cc_library(
    name = "cudart_static",
    srcs = ["lib64/libcudart_static.a"],
    linkopts = ["-ldl", "-lrt", "-lpthread"],
    deps = [":headers"],
)

cc_library(
    name = "cublas",
    linkopts = ["-L{lib}", "-Wl,-rpath,{lib}", "-lcublas"],
    deps = [":headers"],
)
"""

_MISSING_BUILD = """
package(default_visibility = ["//visibility:public"])

# No CUDA toolkit was found; every target fails when built, saying so.
sh_binary(name = "nvcc", srcs = ["nvcc.sh"])

genrule(
    name = "missing_toolkit",
    outs = ["missing_toolkit.a"],
    cmd = "echo '{message}' >&2; exit 1",
)

cc_library(name = "headers", srcs = [":missing_toolkit"])
cc_library(name = "cudart_static", srcs = [":missing_toolkit"])
cc_library(name = "cublas", srcs = [":missing_toolkit"])
"""

def _local_cuda_repository_impl(rctx):
    root = rctx.os.environ.get("CUDA_PATH", "/usr/local/cuda")
    nvcc = rctx.path(root + "/bin/nvcc")
    if nvcc.exists:
        rctx.symlink(root + "/include", "include")
        rctx.symlink(root + "/lib64", "lib64")
        rctx.file("nvcc.sh", "#!/bin/sh\nexec '%s' \"$@\"\n" % nvcc, executable = True)
        rctx.file("BUILD", _FOUND_BUILD.replace("{lib}", root + "/lib64"))
    else:
        message = ("--config=cuda needs the CUDA toolkit: no nvcc at %s; install it or set " +
                   "CUDA_PATH to its root") % nvcc
        rctx.file("nvcc.sh", "#!/bin/sh\necho '%s' >&2\nexit 1\n" % message, executable = True)
        rctx.file("BUILD", _MISSING_BUILD.replace("{message}", message))

local_cuda_repository = repository_rule(
    implementation = _local_cuda_repository_impl,
    environ = ["CUDA_PATH"],
    local = True,
)
