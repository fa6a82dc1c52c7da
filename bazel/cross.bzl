"""What the --config=neon cross build (bazel/aarch64) cannot build.

tools/setup.sh installs arm64 builds of only what the kernels, their tests and benchmark need
(abseil, GoogleTest, Google Benchmark; nlohmann/json is headers). Debian's other libraries are
there for the host alone: a target that links one is incompatible with the cross build, so
`bazel test --config=neon //...` skips it instead of failing to link. libtorch, which nearly
everything above bitcore/kernels links, is marked in libtorch.bzl (compatible with the host's
CPU only), so its users drop out on their own.
"""

HOST_LIBRARY_ONLY = select({
    "//bazel:aarch64_cross": ["@platforms//:incompatible"],
    "//conditions:default": [],
})
