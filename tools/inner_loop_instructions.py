#!/usr/bin/env python3
"""Instructions per weight of a micro-kernel's inner loops, counted from its compiled code.

Speed cannot be measured under emulation (docs/benchmarks.md, ARM section), so the ARM kernels
are compared with the x86 ones by what their compiled inner loops execute per weight. This
disassembles an object file with the given objdump, finds every innermost loop (a backward
branch with no other backward branch inside it) that contains the kernel's product
instruction, and prints the loop's length, how many product instructions it holds, the
multiply-adds those perform (product instructions x multiply-adds each) and the loop's
instructions per multiply-add, i.e. per weight and row.

Usage:
  tools/inner_loop_instructions.py OBJDUMP OBJECT MNEMONIC[,MNEMONIC...] MACS_PER_INSTRUCTION

e.g. sdot on 16 int8 pairs: tools/inner_loop_instructions.py aarch64-linux-gnu-objdump \
  bazel-out/aarch64-opt/bin/bitcore/kernels/arm/_objs/ukernels_neondot/qd8_t2w_gemm_ukernel_4x8c4__neondot.o sdot 16
"""
import re
import subprocess
import sys


def main():
    objdump, obj, mnemonic, macs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    mnemonics = set(mnemonic.split(","))
    listing = subprocess.run([objdump, "-d", "--no-show-raw-insn", "-C", obj],
                             capture_output=True, text=True, check=True).stdout
    # Each function has a section of its own (-ffunction-sections): addresses restart at 0.
    for section in listing.split("Disassembly of section")[1:]:
        insns = []
        function = ""
        for line in section.splitlines():
            header = re.match(r"[0-9a-f]+ <(.*)>:", line)
            if header and not function:
                function = header.group(1)
            m = re.match(r"\s+([0-9a-f]+):\s+(\S+)\s*(.*)", line)
            if m:
                insns.append((int(m.group(1), 16), m.group(2), m.group(3)))
        index = {address: i for i, (address, _, _) in enumerate(insns)}
        loops = []
        for i, (address, op, args) in enumerate(insns):
            target = re.search(r"\b([0-9a-f]+) <", args)
            is_branch = op.startswith(("b", "j", "cb", "tb"))
            if is_branch and target and int(target.group(1), 16) <= address:
                start = index.get(int(target.group(1), 16))
                if start is not None:
                    loops.append((start, i))
        for start, end in loops:
            if any(o != (start, end) and o[0] >= start and o[1] <= end for o in loops):
                continue  # not innermost
            body = insns[start:end + 1]
            products = sum(1 for _, op, _ in body if op in mnemonics)
            if products == 0:
                continue
            print(f"{function[:90]}\n  loop {insns[start][0]:#x}-{insns[end][0]:#x}: "
                  f"{len(body)} instructions, {products} {mnemonic}, {products * macs} weight-rows,"
                  f" {len(body) / (products * macs):.3f} instructions per weight-row")


if __name__ == "__main__":
    main()
