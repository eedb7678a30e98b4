"""The optional compiled packet loop (auditor/capture/_loop.c), mmdb tree walk
(auditor/geo/_tree.c) and frozen record builder (auditor/_frozen.c); everything else is in
pyproject.toml. Without a compiler the install still succeeds and the pure-Python loops run,
with the same results (`audit --version` says which loop)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "auditor.capture._loop",
            ["auditor/capture/_loop.c"],
            # Times are sec + frac * scale in doubles, as Python computes them: a fused
            # multiply-add (the default on aarch64) would round differently.
            extra_compile_args=["-O2", "-ffp-contract=off"],
            optional=True,
        ),
        # The mmdb search tree walked for many addresses at once (auditor/geo/bulk.py).
        Extension(
            "auditor.geo._tree", ["auditor/geo/_tree.c"], extra_compile_args=["-O2"], optional=True
        ),
        # Frozen slotted dataclass instances built without their __init__ (auditor/frozen.py).
        Extension(
            "auditor._frozen", ["auditor/_frozen.c"], extra_compile_args=["-O2"], optional=True
        ),
    ]
)
