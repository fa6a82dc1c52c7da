# Train a ternary LeNet-5 on Fashion-MNIST for 300 steps, evaluating every 100, then deploy it.
bazel run //trainer:train -- --model=lenet5 --dataset=fashion_mnist --max_steps=300 --lr=2e-3 --eval_every=100 --output_dir=/tmp/bitlab-lenet5
