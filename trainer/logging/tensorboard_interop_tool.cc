// The C++ half of tensorboard_interop_test: writes known scalars with TensorBoardWriter into a
// directory, for TensorBoard's own reader to check.
//
//   tensorboard_interop_tool <log dir>
#include <cstdio>
#include <string>

#include "bitcore/errors.h"
#include "trainer/logging/tensorboard.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <log dir>\n", argv[0]);
    return 2;
  }
  try {
    bitlab::trainer::TensorBoardWriter writer(argv[1]);
    // The same formulas as expected_scalars() in tensorboard_interop_test.py. The loss ends at
    // exactly 0, which TensorBoard drops unless simple_value is written as a oneof member.
    for (int step = 0; step <= 10; ++step) {
      writer.add_scalar("train/loss", (10 - step) * 0.25, step);
    }
    for (int step = 0; step <= 10; step += 5) {
      writer.add_scalar("eval/accuracy", 0.5 + step * 0.01, step);
    }
    writer.flush();
    std::printf("%s\n", writer.path().c_str());
  } catch (const bitlab::BitLabError& e) {
    std::fprintf(stderr, "tensorboard_interop_tool: %s\n", e.what());
    return 1;
  }
  return 0;
}
