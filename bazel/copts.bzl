"""Compiler flags shared by every BitLab target. Each flag says why it is here."""

BIT_DEFAULT_COPTS = [
    # Warnings that catch real bugs; third-party headers come in as -isystem and stay quiet.
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",  # libtorch-style virtual overrides often ignore arguments.
    "-Wvla",  # variable-length arrays on the stack overflow silently on large shapes.
    "-Werror=return-type",
    "-Werror=switch",  # an enum case added later must be handled everywhere.
    # The numerics contract fixes the order of float operations (acc * s * g + b); a fused
    # multiply-add would round once instead of twice and break agreement between kernels.
    "-ffp-contract=off",
]

BIT_TEST_COPTS = BIT_DEFAULT_COPTS + [
    # gtest's macros compare signed and unsigned sizes all the time.
    "-Wno-sign-compare",
]
