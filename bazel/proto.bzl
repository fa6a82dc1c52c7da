"""C++ code from .proto files with Debian's protoc and libprotobuf.

Bazel 4's native proto rules want a @com_google_protobuf source repository, which an offline
build does not have; protoc and the library come from Debian's protobuf-compiler and
libprotobuf-dev instead, so one genrule runs protoc and a cc_library wraps its output.
"""

load("//bazel:cross.bzl", "HOST_LIBRARY_ONLY")

def bit_cc_proto_library(name, srcs, deps = [], visibility = None):
    """A cc_library `name` with the messages of `srcs` (all in this package).

    Include the generated header by its package path, e.g. "trainer/checkpoint.pb.h". A .proto
    may import another in the same package by its file name; list that one's
    bit_cc_proto_library in `deps`.
    """
    headers = [src[:-len(".proto")] + ".pb.h" for src in srcs]
    sources = [src[:-len(".proto")] + ".pb.cc" for src in srcs]
    native.genrule(
        name = name + "_protoc",
        srcs = srcs + [dep + "_proto_srcs" for dep in deps],
        outs = headers + sources,
        # Import paths relative to the package, so this works in BitLab's own workspace and
        # as an external repository (@bitlab) alike.
        cmd = "protoc --proto_path=$$(dirname $(location {first})) --cpp_out=$(@D) {files}".format(
            first = srcs[0],
            files = " ".join(["$(location %s)" % src for src in srcs]),
        ),
    )
    native.filegroup(name = name + "_proto_srcs", srcs = srcs)
    native.cc_library(
        name = name,
        srcs = sources,
        hdrs = headers,
        deps = deps + ["@com_google_protobuf_system//:protobuf"],
        target_compatible_with = HOST_LIBRARY_ONLY,
        visibility = visibility,
    )
