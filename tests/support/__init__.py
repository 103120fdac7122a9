"""What the tests share and are not tests themselves: `common` (the checkout's root, the
real-tool skip policy, boards from text), `realtools` (dtc, fdtoverlay, dt-validate, the kernel
build), `kernels`, `boardgen`, `cma_replay` and `scenario_replay` (the QEMU proving ground),
`browser` (the report in a real browser), `fuzzing`, `killharness` (interrupted writes) and
`reference_allocators` (independent allocators the models are held to). Each has tests of its
own (`tests/test_*_harness.py` and the tests that use it)."""
