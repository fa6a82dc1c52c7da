# Train a ternary MLP on Fashion-MNIST for 200 steps, then evaluate and deploy it.
bazel run //trainer:train -- --model=mlp --dataset=fashion_mnist --max_steps=200 --output_dir=/tmp/bitlab-quickstart
