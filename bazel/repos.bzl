"""Every external repository BitLab needs, defined offline from Debian's packages.

A consumer workspace calls this once:

    load("@bitlab//bazel:repos.bzl", "bitlab_dependencies")
    bitlab_dependencies()

Each repository is skipped when the workspace already defined one of that name, so a consumer
can bring its own (say, a libtorch with CUDA) by defining it first.

Why stand-ins: Debian's bazel-bootstrap 4.2.3 wants to download @rules_cc, @rules_java and
@remote_coverage_tools on first use. Nothing here may reach the network, so those are written
by small repository rules that re-export the native rules (what the real ones did in Bazel 4)
and stub the coverage tools, which only `bazel coverage` runs.
"""

load("//bazel:absl.bzl", "absl_system_repository")
load("//bazel:cuda.bzl", "local_cuda_repository")
load("//bazel:libtorch.bzl", "libtorch_repository")

def _rules_cc_stand_in_impl(rctx):
    rctx.file("WORKSPACE", "workspace(name = \"rules_cc\")\n")
    rctx.file("BUILD", "")
    rctx.file("cc/BUILD", "")
    rctx.file("cc/defs.bzl", """\"\"\"Re-exports Bazel's native C++ rules (offline stand-in for rules_cc).\"\"\"
cc_binary = native.cc_binary
cc_import = native.cc_import
cc_library = native.cc_library
cc_proto_library = native.cc_proto_library
cc_shared_library = getattr(native, "cc_shared_library", None)
cc_test = native.cc_test
cc_toolchain = native.cc_toolchain
cc_toolchain_suite = native.cc_toolchain_suite
fdo_prefetch_hints = native.fdo_prefetch_hints
fdo_profile = native.fdo_profile
objc_library = native.objc_library
objc_import = native.objc_import
""")

_rules_cc_stand_in = repository_rule(implementation = _rules_cc_stand_in_impl)

def _rules_java_stand_in_impl(rctx):
    rctx.file("WORKSPACE", "workspace(name = \"rules_java\")\n")
    rctx.file("BUILD", "")
    rctx.file("java/BUILD", "")
    rctx.file("java/defs.bzl", """\"\"\"Re-exports Bazel's native Java rules (offline stand-in for rules_java).\"\"\"
java_binary = native.java_binary
java_import = native.java_import
java_library = native.java_library
java_lite_proto_library = native.java_lite_proto_library
java_proto_library = native.java_proto_library
java_test = native.java_test
java_package_configuration = native.java_package_configuration
java_plugin = native.java_plugin
java_runtime = native.java_runtime
java_toolchain = native.java_toolchain
""")

_rules_java_stand_in = repository_rule(implementation = _rules_java_stand_in_impl)

def _coverage_tools_stand_in_impl(rctx):
    rctx.file("WORKSPACE", "workspace(name = \"remote_coverage_tools\")\n")
    script = "#!/bin/sh\necho 'BitLab builds offline: coverage tools are not available' >&2\nexit 1\n"
    rctx.file("stub.sh", script, executable = True)
    rctx.file("BUILD", """package(default_visibility = ["//visibility:public"])
sh_binary(name = "coverage_report_generator", srcs = ["stub.sh"])
sh_binary(name = "lcov_merger", srcs = ["stub.sh"])
""")

_coverage_tools_stand_in = repository_rule(implementation = _coverage_tools_stand_in_impl)

def _maybe(rule, name, **kwargs):
    if name not in native.existing_rules():
        rule(name = name, **kwargs)

def _system_library(name, build_file):
    _maybe(
        native.new_local_repository,
        name = name,
        path = "/usr",
        # str(Label(...)) resolves against BitLab even when called from another workspace.
        build_file = str(Label("//third_party:" + build_file)),
    )

def bitlab_dependencies():
    """Defines every repository BitLab's targets depend on."""
    _maybe(
        native.local_repository,
        name = "platforms",
        path = "/usr/share/bazel/tools/platforms",
    )
    _maybe(_rules_cc_stand_in, name = "rules_cc")
    _maybe(_rules_java_stand_in, name = "rules_java")
    _maybe(_coverage_tools_stand_in, name = "remote_coverage_tools")

    _maybe(libtorch_repository, name = "libtorch")
    _maybe(local_cuda_repository, name = "local_cuda")
    _maybe(absl_system_repository, name = "com_google_absl")
    _system_library("com_google_googletest", "googletest.BUILD")
    _system_library("com_github_google_benchmark", "benchmark.BUILD")
    _system_library("nlohmann_json", "nlohmann_json.BUILD")
    _system_library("libpng", "libpng.BUILD")
    _system_library("com_google_protobuf_system", "protobuf.BUILD")
    _system_library("zlib_system", "zlib.BUILD")
    _system_library("onnx_system", "onnx.BUILD")
