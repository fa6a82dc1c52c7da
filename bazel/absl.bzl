"""`@com_google_absl` from Debian's libabsl-dev, through its pkg-config files.

Debian ships abseil as shared libraries with one pkg-config file per upstream target
(`absl_flags_parse.pc` for `//absl/flags:parse`). This rule asks pkg-config for each target's
link flags and writes `cc_library` targets under the usual upstream labels, so BUILD files
read the same as against a source checkout of abseil. Headers live in /usr/include.
"""

# Upstream label -> pkg-config module. Add a line here to use another abseil target.
_TARGETS = {
    "absl/base:core_headers": "absl_core_headers",
    "absl/base": "absl_base",
    "absl/container:flat_hash_map": "absl_flat_hash_map",
    "absl/container:flat_hash_set": "absl_flat_hash_set",
    "absl/container:inlined_vector": "absl_inlined_vector",
    "absl/flags:flag": "absl_flags",
    "absl/flags:parse": "absl_flags_parse",
    "absl/flags:usage": "absl_flags_usage",
    "absl/hash": "absl_hash",
    "absl/status": "absl_status",
    "absl/status:statusor": "absl_statusor",
    "absl/strings": "absl_strings",
    "absl/strings:str_format": "absl_str_format",
    "absl/synchronization": "absl_synchronization",
    "absl/time": "absl_time",
    "absl/types:optional": "absl_optional",
    "absl/types:span": "absl_span",
}

def _absl_system_repository_impl(rctx):
    packages = {}
    for label, module in _TARGETS.items():
        package, _, name = label.partition(":")
        if not name:
            name = package.split("/")[-1]
        result = rctx.execute(["pkg-config", "--libs", module])
        if result.return_code != 0:
            fail("abseil: pkg-config --libs %s failed (install libabsl-dev and pkg-config): %s" %
                 (module, result.stderr))
        flags = result.stdout.strip().split(" ")
        packages.setdefault(package, []).append(
            "cc_library(name = %r, linkopts = %r, visibility = [\"//visibility:public\"])\n" %
            (name, flags),
        )
    rctx.file("WORKSPACE", "workspace(name = \"com_google_absl\")\n")
    for package, rules in packages.items():
        rctx.file(package + "/BUILD", "".join(rules))

absl_system_repository = repository_rule(
    implementation = _absl_system_repository_impl,
    local = True,
)
